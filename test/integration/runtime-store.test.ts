/**
 * The runtime and the timing store together, over real sockets and real SQLite files: one row per
 * response the clients received, whatever the outcome, and serving that goes on when the store
 * cannot write.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createTimingStore } from '../../server/store/timing-store.js';
import { getFreePorts } from '../helpers/free-port.js';
import { encodeScgiRequest, parseScgiResponse, scgiRequest, sendRaw } from '../helpers/scgi-client.js';
import { startRuntime } from '../helpers/runtime.js';
import { waitForFigure } from '../helpers/stats.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';
import type { AppHost } from '../../server/host/app-host.js';
import { Outcome, type TimingRecorder } from '../../shared/timing-row.js';

const tempDir = (t: TestContext): Promise<string> => testDir(t, 'rt-store');

function query<T>(path: string, sql: string): T[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

test('rows written equal requests served, with status and outcome, for every kind of ending', async (t) => {
  const path = join(await tempDir(t), 'timings.db');
  const store = createTimingStore({ path, flushIntervalMs: 20 });
  let release: (() => void) | null = null;
  const rt = await startRuntime(t, [
    { name: 'ok', node: (_req, res) => res.end('fine') },
    { name: 'boom', node: () => { throw new Error('boom'); } },
    { name: 'busy', threads: 1, queue: 0, node: (_req, res) => { release = () => res.end('late'); } },
    { name: 'slow', requestTimeoutMs: 100, node: () => {} },
    { name: 'gone', node: (_req, res) => { res.write('partial'); } },
  ], { recorder: store });
  for (let i = 0; i < 25; i++) assert.equal((await scgiRequest(rt.targets.get('ok')!, { uri: `/items/${i}?secret=1` })).status, 200);
  assert.equal((await scgiRequest(rt.targets.get('boom')!)).status, 500);
  const held = scgiRequest(rt.targets.get('busy')!);
  await waitUntil('the request inside the app', () => release !== null);
  assert.equal((await scgiRequest(rt.targets.get('busy')!)).status, 503);
  release!();
  assert.equal((await held).status, 200);
  assert.equal((await scgiRequest(rt.targets.get('slow')!)).status, 504);
  const socket = connect((rt.targets.get('gone') as { port: number }).port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(encodeScgiRequest({ method: 'POST', body: 'abcdef' }).subarray(0, -3));
  await waitForFigure(rt.figures, 'gone_online', '1');
  socket.destroy();
  await waitForFigure(rt.figures, 'gone_aborted', '1');
  await rt.server.close(0);
  await store.close();

  const rows = query<{ app: string; status: number; outcome: number; path: string | null; method: string }>(path, 'SELECT app, status, outcome, path, method FROM requests');
  assert.equal(rows.length, 25 + 1 + 2 + 1 + 1);
  const byApp = (app: string) => rows.filter((row) => row.app === app);
  assert.equal(byApp('ok').length, 25);
  assert.ok(byApp('ok').every((row) => row.status === 200 && row.outcome === Outcome.ANSWERED && !row.path?.includes('?')));
  assert.deepEqual(byApp('boom').map((row) => [row.status, row.outcome]), [[500, Outcome.APP_ERROR]]);
  assert.deepEqual(byApp('busy').map((row) => [row.status, row.outcome]).sort(), [[200, Outcome.ANSWERED], [503, Outcome.REJECTED]]);
  assert.deepEqual(byApp('slow').map((row) => [row.status, row.outcome]), [[504, Outcome.TIMEOUT]]);
  assert.deepEqual(byApp('gone').map((row) => [row.status, row.outcome, row.method]), [[499, Outcome.ABORTED, 'POST']]);
});

test('a request\'s row is recorded before its slot is given back, and before the next queued request runs', async (t) => {
  // Pins: the slot came back first and the next request's handler ran before the row: a worker
  // killed meanwhile had a load word without the request and no row for it, lost uncounted.
  const order: string[] = [];
  const recorder: TimingRecorder = {
    record: (row) => order.push(`row ${row.path}`),
    figures: () => ({ rows: 0, dropped: 0, errors: 0 }),
    recordLimitChange() {},
    recordEvent() {},
    recordWorkersChange() {},
    close: async () => {},
  };
  const releases: Array<() => void> = [];
  const rt = await startRuntime(t, [{ name: 'one', threads: 1, node: (req, res) => {
    order.push(`run ${req.url}`);
    releases.push(() => res.end('ok'));
  } }], { recorder });
  const host = rt.server.apps.get('one') as AppHost;
  host.onLoadChange = (h) => order.push(`load ${h.limiter.running}+${h.limiter.waiting}`);
  const first = scgiRequest(rt.targets.get('one')!, { uri: '/first' });
  await waitUntil('the first request inside the app', () => releases.length === 1);
  const second = scgiRequest(rt.targets.get('one')!, { uri: '/second' });
  await waitUntil('the second request queued', () => order.includes('load 1+1'));
  releases[0]!();
  await waitUntil('the second request inside the app', () => releases.length === 2);
  releases[1]!();
  assert.equal((await first).status, 200);
  assert.equal((await second).status, 200);
  assert.deepEqual(order, ['load 1+0', 'run /first', 'load 1+1', 'row /first', 'load 1+0', 'run /second', 'row /second', 'load 0+0']);
});

test('an unwritable store never stops serving or the stats port; drops are counted, and it recovers', async (t) => {
  const dir = await tempDir(t);
  const blocker = join(dir, 'not-a-dir');
  writeFileSync(blocker, 'in the way');
  const path = join(blocker, 'timings.db');
  const store = createTimingStore({ path, flushIntervalMs: 20, retryMaxMs: 100 });
  t.after(() => store.close());
  const rt = await startRuntime(t, [{ name: 'app', node: (_req, res) => res.end('served') }], { recorder: store });
  for (let i = 0; i < 20; i++) assert.equal((await scgiRequest(rt.targets.get('app')!)).body.toString(), 'served');
  await waitForFigure(rt.figures, 'store_errors', (n) => Number(n) > 0);
  assert.equal(rt.figures().get('app_requests'), '20');
  // The cause goes away: the store picks the path up by itself.
  unlinkSync(blocker);
  mkdirSync(blocker);
  for (let i = 0; i < 5; i++) await scgiRequest(rt.targets.get('app')!);
  await waitForFigure(rt.figures, 'store_rows', (n) => Number(n) >= 5);
  const figures = rt.figures();
  // Nothing is lost silently: every request is either written or counted as dropped.
  await rt.server.close(0);
  await store.close();
  const written = query<{ n: number }>(path, 'SELECT count(*) AS n FROM requests')[0]!.n;
  const after = store.figures();
  assert.equal(written + after.dropped, 25, `written ${written}, dropped ${after.dropped}, figures before close ${JSON.stringify([...figures])}`);
});

test('graceful stop under load: rows equal the responses the clients received', async (t) => {
  const dir = await tempDir(t);
  const [port, stats] = await getFreePorts(2);
  const config = join(dir, 'load.json');
  const fixture = fileURLToPath(new URL('../fixtures/hello-node.mjs', import.meta.url));
  writeFileSync(config, JSON.stringify({
    stats: `127.0.0.1:${stats}`,
    dashboard: false,
    store: { path: 'timings.db', flushInterval: 1000 },
    log: { level: 'warn' },
    apps: [{ name: 'load', listen: `127.0.0.1:${port}`, module: fixture, threads: 8, queue: 1000 }],
  }));
  const cli = fileURLToPath(new URL('../../bin/dragon-on-wheels.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), cli, 'serve', config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await waitUntil('the server answering', () => scgiRequest({ port }), { timeoutMs: 60_000 });
  let answered = 1;
  let signalled = false;
  // A bound for a test gone wrong, not a pace: the signal comes after 300 answers however long they take.
  const deadline = Date.now() + 300_000;
  const worker = async (): Promise<void> => {
    for (let i = 0; i < 400 && Date.now() < deadline; i++) {
      try {
        // A mix of fast and slow requests, so some are in flight when the signal arrives.
        const res = await scgiRequest({ port }, { uri: i % 5 === 0 ? '/slow' : '/' });
        if (res.status === 200) answered++;
      } catch {
        if (signalled) return; // refused or reset after the listener closed: no response, no row
      }
      if (!signalled && answered >= 300) {
        signalled = true;
        child.kill('SIGTERM');
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  assert.ok(signalled, 'the load reached the signal point');
  assert.equal(await exited, 0);
  const rows = query<{ n: number }>(join(dir, 'timings.db'), 'SELECT count(*) AS n FROM requests')[0]!.n;
  assert.equal(rows, answered);
});

test('requests cut when drainTimeout runs out are written as rows with what their clients got: 503 if nothing was sent', async (t) => {
  const path = join(await tempDir(t), 'timings.db');
  const store = createTimingStore({ path, flushIntervalMs: 20 });
  const rt = await startRuntime(t, [
    { name: 'stuck', threads: 1, node: () => {} },
    { name: 'streaming', node: (_req, res) => void res.write('started') },
  ], { recorder: store });
  const stuck = rt.targets.get('stuck')!;
  const running = sendRaw(stuck, encodeScgiRequest({ uri: '/running' }));
  await waitForFigure(rt.figures, 'stuck_online', '1');
  const queued = sendRaw(stuck, encodeScgiRequest({ uri: '/queued' }));
  await waitForFigure(rt.figures, 'stuck_queued', '1');
  const streamed = sendRaw(rt.targets.get('streaming')!, encodeScgiRequest({}), { allowReset: true });
  await waitForFigure(rt.figures, 'streaming_online', '1');

  await rt.server.close(100);
  await store.close();
  for (const raw of await Promise.all([running, queued])) {
    const res = parseScgiResponse(raw);
    assert.equal(res.status, 503);
    assert.deepEqual(res.headers.get('retry-after'), ['1']);
  }
  assert.match((await streamed).toString(), /started$/);
  const rows = query<{ app: string; status: number; outcome: number; path: string }>(path, 'SELECT app, status, outcome, path FROM requests ORDER BY app, path');
  assert.deepEqual(rows.map((row) => [row.app, row.path, row.status, row.outcome]), [
    ['streaming', '/', 200, Outcome.TIMEOUT],
    ['stuck', '/queued', 503, Outcome.REJECTED],
    ['stuck', '/running', 503, Outcome.TIMEOUT],
  ]);
});
