/**
 * Upgraded connections in worker processes: when their worker ends badly (an uncaught error drains
 * the worker and its WebSockets get 1011 at the drain deadline; a hang kill leaves no time for a
 * frame, and the client sees the connection close: 1006), at a reload, and maxUpgrades held for
 * the whole app across its workers.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { poolApp, startSupervisor } from '../helpers/supervisor.js';
import { httpGet } from '../helpers/http-get.js';
import { testDir } from '../helpers/temp-dir.js';
import { scaledMs, waitUntil } from '../helpers/wait.js';
import { connectWs, openWs, wsEchoAppSource, type WsClient } from '../helpers/ws-client.js';

/** The echo app, plus /throw (an error outside any request) and /hang (a loop that never ends). */
const FAULTY = wsEchoAppSource('v1', `export default (req, res) => {
  if (req.url === '/throw') { setTimeout(() => { throw new Error('boom'); }); res.end('thrown'); }
  else if (req.url === '/hang') { res.end('hanging'); setTimeout(() => { for (;;); }); }
  else if (req.url.startsWith('/hold')) setTimeout(() => res.end('held'), Number(new URL(req.url, 'http://x').searchParams.get('ms')));
  else res.end('plain');
};
export const upgrade = accept;
`);

async function faultyApp(t: TestContext, hangTimeoutMs: number, drainTimeoutMs: number, requestTimeoutMs = 0) {
  const dir = await testDir(t, 'http-upgrades-workers');
  const module = join(dir, 'faulty.mjs');
  await writeFile(module, FAULTY);
  const app = poolApp({ name: 'ws', module, hangTimeoutMs, requestTimeoutMs });
  app.options.protocol = 'http';
  const rt = await startSupervisor(t, [app], { drainTimeoutMs });
  const { port } = rt.targets.get('ws') as { port: number };
  return { rt, url: `http://127.0.0.1:${port}` };
}

test('an uncaught error in the worker: its WebSockets get 1011 when its drain runs out, and are counted', async (t) => {
  const { rt, url } = await faultyApp(t, 30_000, 1000);
  const client = await openWs(url);
  assert.equal(await client.echo('a'), 'v1:a');
  assert.equal((await httpGet(`${url}/throw`)).body, 'thrown');
  const info = await client.closed;
  assert.equal(info.code, 1011);
  await waitUntil('the close counted', async () => (await rt.figures()).get('ws_websockets_closed') === '1');
  assert.equal((await rt.figures()).get('ws_websockets'), '0');
});

test('a hang kill: the client sees its WebSocket close (no frame: 1006), and the gauge drops', async (t) => {
  const { rt, url } = await faultyApp(t, 1000, 1000);
  const client = await openWs(url);
  assert.equal(await client.echo('a'), 'v1:a');
  await waitUntil('one WebSocket counted', async () => (await rt.figures()).get('ws_websockets') === '1');
  assert.equal((await httpGet(`${url}/hang`)).body, 'hanging');
  const info = await client.closed;
  assert.equal(info.code, 1006);
  await waitUntil('the gauge back to 0', async () => (await rt.figures()).get('ws_websockets') === '0');
});

test('a reload closes WebSockets (1012) at drainTimeout, while a request keeps its longer requestTimeout', async (t) => {
  // Long enough that the WebSocket's close at drainTimeout (1 s) comes first on a busy machine.
  const holdMs = scaledMs(8_000);
  const { rt, url } = await faultyApp(t, 30_000, 1000, 3 * holdMs);
  const client = await openWs(url);
  assert.equal(await client.echo('a'), 'v1:a');
  // The old worker drains for up to requestTimeout (3 holds) for this request; its WebSocket has
  // no end of its own to wait for, so it goes at drainTimeout (1 s), long before the request ends.
  const held = httpGet(`${url}/hold?ms=${holdMs}`);
  await waitUntil('the held request running', async () => (await rt.figures()).get('ws_online') === '1');
  const reload = rt.supervisor.reload('ws', 'test');
  let heldDone = false;
  void held.then(() => (heldDone = true));
  const info = await client.closed;
  assert.equal(info.code, 1012);
  assert.equal(heldDone, false, 'the WebSocket closed before the held request ended');
  assert.equal((await held).body, 'held');
  await reload;
});

test('maxUpgrades is the app\'s across its workers: every upgrade up to it opens, wherever the kernel sends it, and the next is refused', async (t) => {
  const dir = await testDir(t, 'http-upgrades-workers');
  const module = join(dir, 'echo.mjs');
  await writeFile(module, wsEchoAppSource('v1'));
  const app = poolApp({ name: 'ws', module, count: 2 });
  app.options.protocol = 'http';
  app.options.maxUpgrades = 3;
  const rt = await startSupervisor(t, [app]);
  const { port } = rt.targets.get('ws') as { port: number };
  const url = `http://127.0.0.1:${port}`;
  // Split evenly (as before), 2 a worker: the third was refused when the kernel gave two to one
  // worker, and a fourth opened when it spread them.
  const clients: WsClient[] = [];
  t.after(() => clients.forEach((c) => c.socket.destroy()));
  for (let i = 0; i < 3; i++) {
    clients.push(await openWs(url));
    assert.equal(await clients[i]?.echo(`m${i}`), `v1:m${i}`);
  }
  const refused = await connectWs(url);
  assert.ok('status' in refused, 'the fourth is past the cap');
  assert.equal(refused.status, 503);
  assert.equal((await rt.figures()).get('ws_websockets'), '3');
  // One closes: the next opens, on either worker (the other gives back its spare if need be).
  await clients.shift()?.close();
  await waitUntil('one closed', async () => (await rt.figures()).get('ws_websockets') === '2');
  for (let i = 0; i < 4; i++) {
    const again = await openWs(url);
    assert.equal(await again.echo('in'), 'v1:in');
    await again.close();
    await waitUntil('it closed', async () => (await rt.figures()).get('ws_websockets') === '2');
  }
});
