/**
 * Client disconnects against the real front ends: what each does to the SCGI connection when its
 * client leaves (the table in docs/frontends.md, "Client disconnects"), and a client that leaves
 * through nginx aborting a request in a worker process within 1 s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { docTemplate } from '../helpers/frontends/doc-configs.js';
import { START_FRONTEND, type FrontendName } from '../helpers/frontends/by-name.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { waitForFigure } from '../helpers/stats.js';
import { startSupervisor } from '../helpers/supervisor.js';
import { sleep, waitUntil } from '../helpers/wait.js';

/** Backend silence before it answers: longer than any wait below. */
const SILENT_MS = 2500;

/** A GET through the front end whose client hangs up after `leaveAfterMs` (null: waits for it). */
function get(url: string, leaveAfterMs: number | null): Promise<number | 'left'> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (err) => (leaveAfterMs === null ? reject(err) : undefined));
    if (leaveAfterMs !== null) {
      setTimeout(() => {
        req.destroy();
        resolve('left');
      }, leaveAfterMs);
    }
  });
}

/** A plain SCGI backend that notes when the front end ends its side, and answers late. */
async function startSilentBackend(): Promise<{ port: number; fins: number[]; close(): void }> {
  const fins: number[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const accepted = performance.now();
    socket.resume();
    socket.on('error', () => {});
    socket.on('end', () => fins.push(performance.now() - accepted));
    const timer = setTimeout(() => socket.end('Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nlate\n'), SILENT_MS);
    socket.on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, fins, close: () => server.close() };
}

const FRONTENDS: Array<[FrontendName, string, boolean]> = [
  // name, docs block, closes the connection when its client leaves
  ['nginx', 'mount', true],
  ['lighttpd', 'tcp', false],
  ['apache', 'tcp', false],
];

for (const [name, block, closesOnAbort] of FRONTENDS) {
  test(`${name}: never half-closes after sending a request; ${closesOnAbort ? 'closes at once when its client leaves' : 'does not close while the backend is silent'}`, async (t) => {
    const backend = await startSilentBackend();
    t.after(() => backend.close());
    const frontend = await START_FRONTEND[name]({ config: docTemplate(name, block), values: { host: '127.0.0.1', port: backend.port } });
    t.after(() => frontend.stop());

    assert.equal(await get(`${frontend.url}/app/complete`, null), 200);
    // The front end's close after our answer reaches the backend a moment after its client's end.
    await waitUntil('the front end closing after the answer', () => backend.fins.length === 1);
    assert.ok(backend.fins.every((ms) => ms >= SILENT_MS - 50), `a FIN before the answer: ${backend.fins.join(', ')} ms`);

    backend.fins.length = 0;
    assert.equal(await get(`${frontend.url}/app/leaves`, 300), 'left');
    if (closesOnAbort) {
      await waitUntil('the front end closing after its client left', () => backend.fins.length === 1);
      // Before the backend answered: the close came from the client leaving, not from the answer.
      assert.ok((backend.fins[0] as number) < SILENT_MS - 50, `FIN after ${backend.fins.join(', ')} ms`);
    } else {
      // A negative check: no close within a second of the client leaving.
      await sleep(1000);
      assert.deepEqual(backend.fins, [], 'the front end closed while the backend was silent: update docs/frontends.md');
    }
  });
}

test('through nginx, a client that leaves aborts the request in its worker process before the app answers and frees the slot', async (t) => {
  const rt = await startSupervisor(t, [{ name: 'app', threads: 1, mount: '/app' }]);
  const target = rt.targets.get('app') as { port: number };
  const nginx = await startNginx({ config: docTemplate('nginx', 'mount'), values: { host: '127.0.0.1', port: target.port } });
  t.after(() => nginx.stop());

  // The app would answer after HOLD_MS, longer than any wait here: whatever ends the request
  // sooner is the client leaving.
  const HOLD_MS = 120_000;
  assert.equal(await get(`${nginx.url}/app/hold?ms=${HOLD_MS}`, 300), 'left');
  const figures = await waitForFigure(rt.figures, 'app_aborted', '1');
  assert.equal(figures.get('app_online'), '0');
  const started = performance.now();
  assert.equal(await get(`${nginx.url}/app/`, null), 200);
  assert.ok(performance.now() - started < HOLD_MS / 2, 'the only slot was freed');
});
