/**
 * What dashboard clients may hold, over real sockets (the bug: idle, partial and slowloris
 * connections were held 81 s, keep-alive ones 73 s, with no cap, and 1,000 of them
 * starved every app of the supervisor). Each kind is now ended within seconds, connections are
 * capped, event streams are capped, and a stream that does not read is dropped.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import pino from 'pino';
import { HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS, MAX_CONNECTIONS, REQUEST_TIMEOUT_MS } from '../../dashboard/connection-limits.js';
import { MAX_STREAMS } from '../../dashboard/event-hub.js';
import { startDashboard, type RunningDashboard } from '../../dashboard/index.js';
import { createFakeRuntime, fakeApp } from '../browser/fake-runtime.js';
import { scaledMs, waitUntil } from '../helpers/wait.js';

const TOKEN = 'connections-Zk3v9QpL2mX8rT4wB6yN1cJ5hF7dS0';
/** Node checks the header and request timeouts every second (stretched on a slow machine). */
const CHECK_SLACK_MS = scaledMs(1_500);

async function start(t: { after(fn: () => unknown): void }, control = createFakeRuntime()): Promise<RunningDashboard & { port: number }> {
  const dash = await startDashboard({ listen: '127.0.0.1:0', token: TOKEN, control, history: null, log: pino({ level: 'silent' }) });
  t.after(() => dash.close());
  return { ...dash, port: Number(dash.address.slice(dash.address.lastIndexOf(':') + 1)) };
}

/**
 * Opens a socket, runs `setup` once connected, resolves with how long it stayed open, and how long
 * after its first answer arrived (a kept-alive connection's idle time starts there).
 */
function heldFor(port: number, setup: (s: net.Socket) => void, maxMs = 30_000): Promise<{ ms: number; afterAnswerMs: number; received: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let answeredAt = started;
    let received = '';
    const socket = net.connect(port, '127.0.0.1', () => setup(socket));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after ${maxMs} ms`));
    }, maxMs);
    socket.on('data', (chunk: Buffer) => {
      if (received === '') answeredAt = performance.now();
      received += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const closedAt = performance.now();
      resolve({ ms: closedAt - started, afterAnswerMs: closedAt - answeredAt, received });
    });
  });
}

/** Writes `chunk` every second while the socket is open (a slowloris client). */
function trickle(socket: net.Socket, first: string, chunk: string): void {
  socket.write(first);
  const timer = setInterval(() => (socket.writable ? socket.write(chunk) : clearInterval(timer)), 1000);
  socket.on('close', () => clearInterval(timer));
}

// Each test starts its own dashboard on a free port, and most of their time is spent waiting for
// a timeout to end a connection: run side by side, they take the longest one's time, not the sum.
describe('dashboard connections', { concurrency: true }, () => {
  it('ends idle, slowloris, partial-body and kept-alive connections within seconds', async (t) => {
    const { port, address } = await start(t);
    const [idle, slowloris, partial, keepAlive] = await Promise.all([
      heldFor(port, () => {}),
      heldFor(port, (s) => trickle(s, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n', 'X-Slow: 1\r\n')),
      heldFor(port, (s) => trickle(s, `PUT /api/apps/shop/threads HTTP/1.1\r\nHost: ${address}\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`, ' ')),
      heldFor(port, (s) => s.write(`GET /assets/style.css HTTP/1.1\r\nHost: ${address}\r\n\r\n`)),
    ]);
    assert.ok(idle.ms < HEADERS_TIMEOUT_MS + CHECK_SLACK_MS, `idle held ${idle.ms} ms`);
    assert.ok(slowloris.ms < HEADERS_TIMEOUT_MS + CHECK_SLACK_MS, `slowloris held ${slowloris.ms} ms`);
    assert.ok(partial.ms < REQUEST_TIMEOUT_MS + CHECK_SLACK_MS, `partial body held ${partial.ms} ms`);
    assert.match(keepAlive.received, /^HTTP\/1\.1 200/, 'the request itself was answered');
    assert.ok(keepAlive.afterAnswerMs < KEEP_ALIVE_TIMEOUT_MS + CHECK_SLACK_MS, `keep-alive held ${keepAlive.afterAnswerMs} ms after its answer`);
  });

  it(`holds at most ${MAX_CONNECTIONS} connections; the rest are closed at once`, async (t) => {
    // Ours first (after hooks run in the order they were added): the dashboard's close would
    // otherwise wait for the connections it holds to reach their headers timeout.
    const sockets: net.Socket[] = [];
    t.after(() => sockets.forEach((s) => s.destroy()));
    const { port } = await start(t);
    const closedAt: number[] = [];
    const started = performance.now();
    await Promise.all(Array.from({ length: MAX_CONNECTIONS + 40 }, () => new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => resolve());
      s.on('error', () => resolve());
      s.on('close', () => closedAt.push(performance.now() - started));
      sockets.push(s);
    })));
    await waitUntil('the connections over the cap closed', () => closedAt.length >= 40);
    // At once: the others are held until the headers timeout.
    const atOnce = closedAt.filter((ms) => ms < HEADERS_TIMEOUT_MS);
    assert.equal(atOnce.length, 40, `${atOnce.length} of ${MAX_CONNECTIONS + 40} closed before the headers timeout (${closedAt.map(Math.round).join(', ')} ms)`);
  });

  it(`refuses event stream number ${MAX_STREAMS + 1} with 503`, async (t) => {
    const { port, address } = await start(t);
    const request = `GET /api/events HTTP/1.1\r\nHost: ${address}\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`;
    const readers: net.Socket[] = [];
    t.after(() => readers.forEach((s) => s.destroy()));
    await Promise.all(Array.from({ length: MAX_STREAMS }, () => new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write(request));
      s.once('data', () => resolve()); // the stream is registered once its head arrives
      s.on('error', () => {});
      readers.push(s);
    })));
    const refused = await heldFor(port, (s) => s.write(request), 10_000);
    assert.match(refused.received, /^HTTP\/1\.1 503/);
    assert.match(refused.received, /DOW_ERR_DASHBOARD_BUSY/);
    readers.pop()?.destroy();
    // The server notices the close a moment later; until then a new stream is still refused.
    const again = await waitUntil('a freed place taken again', async () => {
      const head = await new Promise<string>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => s.write(request));
        s.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1')));
        s.on('error', () => resolve(''));
        readers.push(s);
      });
      return /^HTTP\/1\.1 200/.test(head) ? head : undefined;
    }, { intervalMs: 50 });
    assert.match(again, /^HTTP\/1\.1 200/);
  });

  it('drops an event stream whose client reads nothing', async (t) => {
    // Many apps make frames of about 1 MB, so a client that never reads fills the kernel's
    // buffers within a few ticks and then the queue bound.
    const apps = Array.from({ length: 2500 }, (_v, i) => fakeApp(`app_${i}`, { listen: `unix:/run/dragon/${'long-socket-name-'.repeat(8)}${i}.sock` }));
    const lines: string[] = [];
    const dash = await startDashboard({
      listen: '127.0.0.1:0', token: TOKEN, control: createFakeRuntime(apps), history: null,
      log: pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }),
    });
    t.after(() => dash.close());
    const port = Number(dash.address.slice(dash.address.lastIndexOf(':') + 1));
    const stalled = net.connect(port, '127.0.0.1', () => stalled.write(`GET /api/events HTTP/1.1\r\nHost: ${dash.address}\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`));
    stalled.pause(); // never reads a byte
    stalled.on('error', () => {});
    t.after(() => stalled.destroy());
    const started = performance.now();
    await waitUntil('the stalled stream dropped', () => lines.some((l) => /event stream dropped/.test(l)), { timeoutMs: 60_000, intervalMs: 100 });
    assert.ok(lines.some((l) => /event stream dropped: the client read nothing while \d+ bytes queued/.test(l)), lines.join(''));
    t.diagnostic(`dropped after ${Math.round(performance.now() - started)} ms`);
  });
});
