/**
 * Timing rows from worker processes reach the supervisor's one SQLite writer: none is
 * lost on a reload or a recycle, and what a crash loses is counted (`store_lost`), on a real
 * SQLite file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { defaultIoMode } from '../../server/native/io-choice.js';
import { loadNative } from '../../server/native/native-binding.js';
import { createTimingStore } from '../../server/store/timing-store.js';
import { Outcome } from '../../shared/timing-row.js';
import { startLoad } from '../helpers/load.js';
import { scgiRequest, sendRaw, encodeScgiRequest, type Target } from '../helpers/scgi-client.js';
import { waitForFigure } from '../helpers/stats.js';
import { poolApp, startSupervisor } from '../helpers/supervisor.js';
import { testDir } from '../helpers/temp-dir.js';
import { scaledMs, waitUntil } from '../helpers/wait.js';

async function storeIn(t: { after(fn: () => unknown): void }, name: string) {
  const dir = await testDir(t, name);
  const path = join(dir, 'timings.db');
  const store = createTimingStore({ path, flushIntervalMs: 20 });
  // A test that fails before its own close would otherwise keep its file from ever exiting.
  t.after(() => store.close());
  return { path, store };
}

// DOW_IO=node (test:node-lines) keeps every app off the native core, its rows on the pipe.
const noRing = defaultIoMode() === 'node' ? 'DOW_IO=node: rows go on the pipe only' : loadNative().binding === null && !process.env.CI ? 'no native core: rows go on the pipe only' : false;

/** Whether the process maps a row ring (native/src/row-ring.c names its memfd so). */
function mapsRowRing(pid: number): boolean {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').includes('memfd:dow-row-ring');
}

function rowsIn(path: string, sql: string, ...args: unknown[]): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare(sql).get(...args) as { n: number }).n;
  } finally {
    db.close();
  }
}

test('rows from two workers, across a reload and recycles, all reach SQLite', async (t) => {
  const { path, store } = await storeIn(t, 'workers-store');
  const rt = await startSupervisor(t, [{ name: 'shop', count: 2, threads: 4, maxRequests: 40 }], { recorder: store });
  const target = rt.targets.get('shop') as Target;
  const send = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) assert.equal((await scgiRequest(target, { uri: `/item/${i}` })).status, 200);
  };
  await send(60);
  await rt.supervisor.reload('shop', 'test');
  await send(60);
  // maxRequests 40 (less up to 10 %): each new worker served about 30; 30 more pass it.
  await send(30);
  await waitForFigure(rt.figures, 'shop_restarts', (n) => n !== '0');
  await rt.supervisor.stop(5000);
  await store.close();
  const figures = store.figures();
  assert.equal(figures.rows, 150);
  assert.equal(figures.dropped, 0);
  assert.equal(rowsIn(path, 'SELECT count(*) AS n FROM requests WHERE app = ? AND status = 200', 'shop'), 150);
  assert.equal(rowsIn(path, "SELECT count(*) AS n FROM runtime_events WHERE app = 'shop' AND kind = 'reload' AND source = 'test'"), 1);
  assert.ok(rowsIn(path, "SELECT count(*) AS n FROM runtime_events WHERE app = 'shop' AND kind = 'recycle'") >= 1);
});

test('a worker killed right after its responses loses none of their rows: they leave at once, not on a timer', async (t) => {
  const { path, store } = await storeIn(t, 'workers-sigkill');
  // A 5 s store flush: only the worker's own sending can get the rows out before the kill.
  const rt = await startSupervisor(t, [{ name: 'killed' }], { recorder: store, flushIntervalMs: 5000 });
  const target = rt.targets.get('killed') as Target;
  for (let i = 0; i < 5; i++) assert.equal((await scgiRequest(target, { uri: `/sent/${i}` })).status, 200);
  const pid = Number((await rt.figures()).get('killed_worker_pids'));
  process.kill(pid, 'SIGKILL');
  await waitUntil('the replacement worker', async () => (await rt.figures()).get('killed_restarts') === '1');
  assert.equal((await rt.figures()).get('store_lost'), '0');
  await rt.supervisor.stop(1000);
  await store.close();
  assert.equal(rowsIn(path, "SELECT count(*) AS n FROM requests WHERE app = 'killed' AND status = 200"), 5);
});

test('a worker killed in the turn after its response loses none of its rows: they are in the shared ring at record time, before the pipe\'s end-of-turn write', { skip: noRing }, async (t) => {
  const { path, store } = await storeIn(t, 'workers-ring-kill');
  const app = join(await testDir(t, 'workers-ring-app'), 'app.mjs');
  writeFileSync(app, "export default function (req, res) { res.end('ok'); if (req.url === '/die') setImmediate(() => process.kill(process.pid, 'SIGKILL')); }\n");
  const rt = await startSupervisor(t, [{ name: 'ring', module: app }], { recorder: store, flushIntervalMs: 5000 });
  const target = rt.targets.get('ring') as Target;
  const pid = Number((await rt.figures()).get('ring_worker_pids'));
  assert.ok(mapsRowRing(pid), 'the worker maps its row ring');
  for (let i = 0; i < 3; i++) assert.equal((await scgiRequest(target, { uri: `/sent/${i}` })).status, 200);
  assert.equal((await scgiRequest(target, { uri: '/die' })).status, 200);
  await waitUntil('the replacement worker', async () => (await rt.figures()).get('ring_restarts') === '1');
  await rt.supervisor.stop(1000);
  await store.close();
  assert.equal(rowsIn(path, "SELECT count(*) AS n FROM requests WHERE app = 'ring' AND status = 200"), 4);
  assert.equal(rowsIn(path, "SELECT count(*) AS n FROM requests WHERE app = 'ring' AND path = '/die'"), 1);
});

// Both transports of a worker's load: the ring's header (native) and load frames on the rows pipe (node:net).
for (const io of ['native', 'node'] as const) {
  test(`io '${io}': a worker SIGKILLed from outside with requests that came after its last heartbeat: each gets its lost row (its load as it died), none is lost uncounted`, { skip: io === 'native' ? noRing : false }, async (t) => {
    // Pins: only the requests the last heartbeat listed got a row; an OOM kill or a kill -9 between two heartbeats lost the others uncounted.
    const N = 5;
    const { path, store } = await storeIn(t, 'workers-outside-kill');
    const dir = await testDir(t, 'workers-outside-kill-app');
    const log = join(dir, 'events');
    const app = join(dir, 'app.mjs');
    writeFileSync(log, '');
    // The app notes each heartbeat its worker gets (a listener beside the worker's own, which has
    // answered it by then) and each request it starts, and answers none before the kill.
    writeFileSync(app, `import { appendFileSync } from 'node:fs';
process.on('message', (m) => { if (m?.type === 'ping') appendFileSync(${JSON.stringify(log)}, 'ping\\n'); });
export default function (req, res) { appendFileSync(${JSON.stringify(log)}, 'start\\n'); setTimeout(() => res.end('late'), 600_000); }
`);
    const events = (kind: string): number => readFileSync(log, 'utf8').split('\n').filter((line) => line === kind).length;
    const settings = poolApp({ name: 'oom', module: app, threads: 10 });
    settings.options.io = io;
    const rt = await startSupervisor(t, [settings], { recorder: store });
    const target = rt.targets.get('oom') as Target;
    // A heartbeat between the requests and the kill would list them (the case already covered):
    // such a round is done again, up to 3 times; every round's requests must have their rows.
    let rounds = 0;
    let clean = 0;
    while (clean === 0 && rounds < 3) {
      rounds++;
      const pid = Number(await waitUntil('a serving worker', async () => (await rt.figures()).get('oom_worker_pids')));
      const pings = events('ping');
      await waitUntil('a heartbeat', () => events('ping') > pings, { intervalMs: 5 });
      const after = events('ping');
      const starts = events('start');
      const cut = Array.from({ length: N }, (_, i) => sendRaw(target, encodeScgiRequest({ uri: `/slow/${rounds}/${i}` }), { timeoutMs: 60_000, allowReset: true }));
      await waitUntil(`${N} requests inside the worker`, () => events('start') === starts + N, { intervalMs: 5 });
      process.kill(pid, 'SIGKILL');
      if (events('ping') === after) clean++;
      for (const answer of await Promise.all(cut)) assert.equal(answer.length, 0, 'no answer: the front end saw the connection close (nginx: 502)');
      await waitUntil('the replacement worker', async () => (await rt.figures()).get('oom_restarts') === String(rounds));
    }
    assert.equal(clean >= 1, true, `a round without a heartbeat between the requests and the kill (${rounds} tried)`);
    // The lost rows are written once the worker's pipe is read to its end, after the restart.
    await waitForFigure(rt.figures, 'oom_errors', String(N * rounds));
    await rt.supervisor.stop(1000);
    await store.close();
    assert.equal(rowsIn(path, `SELECT count(*) AS n FROM requests WHERE app = 'oom' AND status = 502 AND outcome = ${Outcome.WORKER_LOST}`), N * rounds);
    assert.equal(rowsIn(path, "SELECT count(*) AS n FROM requests WHERE app = 'oom'"), N * rounds);
  });

  test(`io '${io}': a worker killed inside the code of the request just admitted (an OOM in a synchronous allocation) has that request counted too`, { skip: io === 'native' ? noRing : false }, async (t) => {
    // Pins: on the pipe the load left at the end of the turn, so a kill in the admitting turn
    // lost that request uncounted; a SIGKILL from outside hit the window only now and then.
    const N = 4;
    const { path, store } = await storeIn(t, 'workers-kill-in-turn');
    const dir = await testDir(t, 'workers-kill-in-turn-app');
    const app = join(dir, 'app.mjs');
    writeFileSync(app, `let started = 0;
export default function (req, res) {
  if (++started === ${N}) process.kill(process.pid, 'SIGKILL');
  setTimeout(() => res.end('late'), 600_000);
}
`);
    const settings = poolApp({ name: 'dies', module: app, threads: 10 });
    settings.options.io = io;
    const rt = await startSupervisor(t, [settings], { recorder: store });
    const target = rt.targets.get('dies') as Target;
    const answers = await Promise.all(Array.from({ length: N }, (_, i) => sendRaw(target, encodeScgiRequest({ uri: `/n/${i}` }), { timeoutMs: 60_000, allowReset: true })));
    for (const answer of answers) assert.equal(answer.length, 0);
    await waitUntil('the replacement worker', async () => (await rt.figures()).get('dies_restarts') === '1');
    await waitForFigure(rt.figures, 'dies_errors', String(N));
    await rt.supervisor.stop(1000);
    await store.close();
    assert.equal(rowsIn(path, `SELECT count(*) AS n FROM requests WHERE app = 'dies' AND status = 502 AND outcome = ${Outcome.WORKER_LOST}`), N);
  });
}

test("io 'node' keeps rows on the pipe, without a ring, and every one arrives", async (t) => {
  const { path, store } = await storeIn(t, 'workers-pipe');
  const settings = poolApp({ name: 'piped' });
  settings.options.io = 'node';
  const rt = await startSupervisor(t, [settings], { recorder: store, flushIntervalMs: 5000 });
  const target = rt.targets.get('piped') as Target;
  const pid = Number((await rt.figures()).get('piped_worker_pids'));
  assert.equal(mapsRowRing(pid), false);
  for (let i = 0; i < 5; i++) assert.equal((await scgiRequest(target, { uri: `/sent/${i}` })).status, 200);
  await rt.supervisor.stop(1000);
  await store.close();
  assert.equal(rowsIn(path, "SELECT count(*) AS n FROM requests WHERE app = 'piped' AND status = 200"), 5);
});

test('process.exit inside a request: every row of the responses before it is written, and that request gets its 502 row', async (t) => {
  const { path, store } = await storeIn(t, 'workers-exit');
  // Heartbeats every 2.5 s: the exiting request is newer than the last one, as in production.
  const rt = await startSupervisor(t, [{ name: 'fragile', hangTimeoutMs: 10_000 }], { recorder: store, flushIntervalMs: 5000 });
  const target = rt.targets.get('fragile') as Target;
  for (let i = 0; i < 5; i++) assert.equal((await scgiRequest(target, { uri: '/' })).status, 200);
  assert.equal((await sendRaw(target, encodeScgiRequest({ uri: '/crash' }), { allowReset: true })).length, 0);
  await waitUntil('the replacement worker', async () => (await rt.figures()).get('fragile_restarts') === '1');
  assert.equal((await rt.figures()).get('store_lost'), '0');
  await rt.supervisor.stop(1000);
  await store.close();
  assert.equal(rowsIn(path, "SELECT count(*) AS n FROM requests WHERE app = 'fragile' AND status = 200"), 5);
  assert.equal(rowsIn(path, "SELECT count(*) AS n FROM requests WHERE app = 'fragile' AND status = 502 AND path = '/crash'"), 1);
  assert.equal(rowsIn(path, "SELECT count(*) AS n FROM runtime_events WHERE app = 'fragile' AND kind = 'restart' AND detail = 'exit code 3'"), 1);
});

test('reloads under load with the store on: heartbeats and rows share the IPC stream, and neither is lost', async (t) => {
  const { path, store } = await storeIn(t, 'workers-reload-store');
  // hangTimeout 1000: a heartbeat every 250 ms, so heartbeats and row batches often arrive in one
  // read. Stretched with the other deadlines: a worker slowed 3x by ASan on a busy machine is not
  // hung, and a hang kill's reset is not what this test is about.
  const rt = await startSupervisor(t, [{ name: 'busy', count: 2, threads: 8, hangTimeoutMs: scaledMs(1000) }], { recorder: store, flushIntervalMs: 20 });
  const target = rt.targets.get('busy') as Target;
  let answered = 0;
  const load = startLoad(8, async () => {
    if ((await scgiRequest(target, { uri: '/' })).status === 200) answered++;
  });
  for (let i = 0; i < 4; i++) {
    // Each reload comes with the load under way on the workers of the one before.
    const before = answered;
    await waitUntil('requests answered between reloads', () => answered >= before + 20);
    let finished = false;
    const reloaded = rt.supervisor.reload('busy', 'test').finally(() => (finished = true));
    await waitUntil(`reload ${i + 1} finished`, () => finished, { timeoutMs: 60_000 });
    await reloaded;
  }
  await load.stop();
  // The stats port waits 50 ms for each worker's answer (COLLECT_TIMEOUT_MS): one slower than
  // that (ASan, a busy machine) shows its count as of its last answer, exact once it answers.
  await waitForFigure(rt.figures, 'busy_requests', String(answered)).catch((err: Error) => {
    // What happened to the workers says which count is missing (a kill leaves no last figures).
    const events = rt.logs.filter((l) => Number(l.level) >= 40).map((l) => String(l.msg));
    throw new Error(`${err.message}; warnings and errors: ${JSON.stringify(events)}`);
  });
  assert.equal(rt.logs.filter((l) => /unusable figures|uncaught/.test(String(l.msg))).length, 0);
  await rt.supervisor.stop(5000);
  await store.close();
  assert.equal(rowsIn(path, 'SELECT count(*) AS n FROM requests WHERE app = ?', 'busy'), answered);
});
