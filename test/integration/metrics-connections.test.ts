/**
 * What clients of the metrics listener may hold, over real sockets: it runs in the supervisor,
 * whose descriptors every app needs (300 idle connections under `nofile` 256 once left a crashed
 * worker unreplaced), so its connections are capped and idle ones end within seconds.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { pino } from 'pino';
import { METRICS_CONNECTION_LIMITS, startMetricsServer, type MetricsConnectionLimits, type MetricsSource } from '../../server/metrics/metrics-server.js';
import { waitUntil } from '../helpers/wait.js';

const source = {
  metricsSnapshot: () => Promise.reject(new Error('not used here')),
  readiness: () => ({ ready: true }),
  startMs: Date.now(),
} as unknown as MetricsSource;

async function start(t: TestContext, limits?: MetricsConnectionLimits): Promise<number> {
  const server = await startMetricsServer('127.0.0.1:0', source, pino({ level: 'silent' }), limits);
  t.after(() => server.close());
  return Number(server.address.slice(server.address.lastIndexOf(':') + 1));
}

interface Held {
  socket: net.Socket;
  closed: boolean;
  /** ms from connect to close. */
  heldMs: number;
  received: string;
}

function hold(port: number, setup: (socket: net.Socket) => void = () => {}): Promise<Held> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect(port, '127.0.0.1');
    const held: Held = { socket, closed: false, heldMs: 0, received: '' };
    socket.on('connect', () => {
      setup(socket);
      resolve(held);
    });
    socket.on('data', (chunk: Buffer) => void (held.received += chunk.toString('latin1')));
    socket.on('error', () => resolve(held));
    socket.on('close', () => {
      held.closed = true;
      held.heldMs = performance.now() - started;
      resolve(held);
    });
  });
}

test(`the metrics listener holds at most ${METRICS_CONNECTION_LIMITS.maxConnections} connections by default; the rest are closed at once`, async (t) => {
  const port = await start(t);
  const extra = 10;
  const all = await Promise.all(Array.from({ length: METRICS_CONNECTION_LIMITS.maxConnections + extra }, () => hold(port)));
  t.after(() => all.forEach((h) => h.socket.destroy()));
  await waitUntil(`${extra} connections closed`, () => all.filter((h) => h.closed).length >= extra, { timeoutMs: 3_000 });
  // Well within the header timeout: the ones kept are still open.
  assert.equal(all.filter((h) => h.closed).length, extra);
  assert.ok(all.filter((h) => h.closed).every((h) => h.heldMs < METRICS_CONNECTION_LIMITS.headersTimeoutMs), 'closed at accept, not by a timeout');
});

test('a freed place is taken again, and idle, silent and kept-alive connections end after their timeouts', async (t) => {
  const limits: MetricsConnectionLimits = { maxConnections: 3, headersTimeoutMs: 600, requestTimeoutMs: 1_500, idleTimeoutMs: 1_000, keepAliveTimeoutMs: 400 };
  const port = await start(t, limits);
  const first = await Promise.all(Array.from({ length: limits.maxConnections }, () => hold(port)));
  t.after(() => first.forEach((h) => h.socket.destroy()));
  const refused = await hold(port);
  await waitUntil('the connection over the cap closed', () => refused.closed, { timeoutMs: 3_000 });
  // Silent sockets: no request line within headersTimeout (checked every second at most).
  await waitUntil('silent connections closed', () => first.every((h) => h.closed), { timeoutMs: 5_000 });
  for (const h of first) assert.ok(h.heldMs >= limits.headersTimeoutMs - 50, `a silent connection held only ${Math.round(h.heldMs)} ms`);

  const keptAlive = await hold(port, (s) => s.write('GET /healthz HTTP/1.1\r\nHost: metrics\r\n\r\n'));
  t.after(() => keptAlive.socket.destroy());
  await waitUntil('the kept-alive connection closed', () => keptAlive.closed, { timeoutMs: 5_000 });
  assert.match(keptAlive.received, /^HTTP\/1\.1 200 /, 'its request was answered');
  assert.match(keptAlive.received, /"status":"alive"/);
  assert.ok(keptAlive.heldMs >= limits.keepAliveTimeoutMs - 50, `held ${Math.round(keptAlive.heldMs)} ms`);
});
