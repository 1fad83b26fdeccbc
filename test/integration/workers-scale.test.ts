/**
 * Workers at run time, the way `serve` wires them (bin/start-runtime.ts): `PUT
 * /api/apps/:name/workers` refuses what it must (no token, a bad body, an unknown app, an
 * in-process app, more workers than threads), scales up and down under requests that all succeed,
 * the stats port follows, the change is a `scale` event, and persistLimits restores the count.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { startRuntime, type RuntimeHandle } from '../../bin/start-runtime.js';
import type { AppSettings } from '../../server/config/config.js';
import { DEFAULT_LIMITS } from '../../server/protocol/limits.js';
import { getFreePort } from '../helpers/free-port.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { waitForFigure } from '../helpers/stats.js';
import { poolApp } from '../helpers/supervisor.js';
import { testDir } from '../helpers/temp-dir.js';
import { toTarget } from '../helpers/runtime.js';
import { waitUntil } from '../helpers/wait.js';

/** A configured token must be 32+ characters and not repetitive. */
const ADMIN_TOKEN = 'workers-scale-Zk3v9QpL2mX8rT4wB6yN1cHq';
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

const inProcessApp: AppSettings = {
  listen: '127.0.0.1:0',
  options: { name: 'inline', handler: { type: 'node', listener: (_req, res) => res.end('inline') }, threads: 2, queue: 10, queueTimeoutMs: 10_000, requestTimeoutMs: 0, mount: '' },
};

async function serve(t: TestContext, o: { dbPath: string; statsPort: number; workers: number; persistLimits: boolean }): Promise<RuntimeHandle> {
  const runtime = await startRuntime({
    apps: [poolApp({ name: 'shop', count: o.workers, threads: 6 }), inProcessApp],
    stats: `127.0.0.1:${o.statsPort}`,
    limits: { ...DEFAULT_LIMITS },
    drainTimeoutMs: 5000,
    log: { level: 'silent', format: 'json' },
    store: { path: o.dbPath, recordPaths: true, retention: {}, flushIntervalMs: 20 },
    dashboard: { listen: '127.0.0.1:0', token: ADMIN_TOKEN },
    persistLimits: o.persistLimits,
  }, pino({ level: 'silent' }));
  t.after(() => runtime.close());
  return runtime;
}

function putWorkers(runtime: RuntimeHandle, app: string, body: unknown, headers: Record<string, string> = auth): Promise<Response> {
  return fetch(`http://${runtime.dashboard?.address}/api/apps/${app}/workers`, {
    method: 'PUT',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function expectRefusal(res: Response, status: number, code: string): Promise<string> {
  const body = await res.json() as { code: string; message: string };
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.code, code);
  return body.message;
}

/** Requests on `concurrency` connections at a time until stop(): every status seen. */
function keepRequesting(port: number, concurrency: number): { stop(): Promise<Map<number, number>> } {
  const statuses = new Map<number, number>();
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      const status = await scgiRequest({ port }, { uri: '/' }).then((r) => r.status, () => 0);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return statuses;
    },
  };
}

test('PUT /api/apps/:name/workers: refusals, then up and down under requests that all succeed, the stats port following', async (t) => {
  const dir = await testDir(t, 'workers-scale');
  const dbPath = join(dir, 'timings.db');
  const statsPort = await getFreePort();
  const runtime = await serve(t, { dbPath, statsPort, workers: 1, persistLimits: false });

  await expectRefusal(await putWorkers(runtime, 'shop', { workers: 2 }, {}), 401, 'DOW_ERR_UNAUTHORIZED');
  assert.match(await expectRefusal(await putWorkers(runtime, 'shop', { workers: 0 }), 400, 'DOW_ERR_WORKERS_RANGE'), /from 1 to 256, got 0/);
  await expectRefusal(await putWorkers(runtime, 'shop', { workers: 'two' }), 400, 'DOW_ERR_WORKERS_RANGE');
  await expectRefusal(await putWorkers(runtime, 'shop', { workers: 2, threads: 3 }), 400, 'DOW_ERR_BAD_REQUEST');
  await expectRefusal(await putWorkers(runtime, 'nope', { workers: 2 }), 404, 'DOW_ERR_UNKNOWN_APP');
  assert.match(await expectRefusal(await putWorkers(runtime, 'inline', { workers: 2 }), 409, 'DOW_ERR_SCALE'), /inside this process \(workers: 0\)/);
  assert.match(await expectRefusal(await putWorkers(runtime, 'shop', { workers: 7 }), 409, 'DOW_ERR_SCALE'), /limit is 6: raise threads first/);
  await waitForFigure(statsPort, 'shop_workers', '1');

  const port = toTarget(runtime.server.addresses[0] as string) as { port: number };
  const load = keepRequesting(port.port, 4);
  const up = await putWorkers(runtime, 'shop', { workers: 3 });
  assert.equal(up.status, 200, await up.clone().text());
  const grown = await up.json() as { oldWorkers: number; newWorkers: number; startedPids: number[]; stoppedPids: number[] };
  assert.deepEqual([grown.oldWorkers, grown.newWorkers, grown.startedPids.length, grown.stoppedPids.length], [1, 3, 2, 0]);
  // Answered once the added workers listen: they are in the snapshot already.
  const figures = await waitForFigure(statsPort, 'shop_workers', '3');
  for (const pid of grown.startedPids) assert.match(figures.get('shop_worker_pids') ?? '', new RegExp(`\\b${pid}\\b`));
  // Each worker gets its share of the app's 6 threads: the ledger re-split them.
  assert.equal(figures.get('shop_threads'), '6');

  const down = await putWorkers(runtime, 'shop', { workers: 1 });
  assert.equal(down.status, 200, await down.clone().text());
  const shrunk = await down.json() as typeof grown;
  assert.deepEqual([shrunk.oldWorkers, shrunk.newWorkers, shrunk.stoppedPids.length], [3, 1, 2]);
  await waitForFigure(statsPort, 'shop_workers', '1');
  const statuses = await load.stop();
  assert.deepEqual([...statuses.keys()], [200], `every request answered 200 while scaling: ${JSON.stringify([...statuses])}`);
  assert.ok((statuses.get(200) ?? 0) > 10, `requests ran during the change: ${statuses.get(200)}`);
  // The one left serves.
  assert.equal((await scgiRequest(port, { uri: '/' })).status, 200);

  const db = new Database(dbPath, { readonly: true });
  t.after(() => db.close());
  type Event = { kind: string; detail: string; source: string };
  const events = await waitUntilRows(db, "SELECT kind, detail, source FROM runtime_events WHERE app = 'shop' AND kind = 'scale' ORDER BY id", 2) as Event[];
  assert.match(events[0]?.detail ?? '', /^workers 1 -> 3, started \d+ \d+$/);
  assert.match(events[1]?.detail ?? '', /^workers 3 -> 1, drained \d+ \d+$/);
  assert.match(events[0]?.source ?? '', /^api 127\.0\.0\.1/);
});

test('persistLimits: a worker count set at run time survives a restart; a count edited in the config since wins', async (t) => {
  const dir = await testDir(t, 'workers-persist');
  const dbPath = join(dir, 'timings.db');
  const statsPort = await getFreePort();
  const first = await serve(t, { dbPath, statsPort, workers: 1, persistLimits: true });
  assert.equal((await putWorkers(first, 'shop', { workers: 2 })).status, 200);
  await first.close();

  const second = await serve(t, { dbPath, statsPort, workers: 1, persistLimits: true });
  await waitForFigure(statsPort, 'shop_workers', '2');
  await second.close();

  // The config now says 3: the operator's edit wins over the 2 set at run time.
  const third = await serve(t, { dbPath, statsPort, workers: 3, persistLimits: true });
  await waitForFigure(statsPort, 'shop_workers', '3');
  await third.close();

  // And the config's 3 stays from then on, though 2 was the last run-time value.
  await serve(t, { dbPath, statsPort, workers: 3, persistLimits: true });
  await waitForFigure(statsPort, 'shop_workers', '3');
});

function waitUntilRows(db: Database.Database, sql: string, count: number): Promise<unknown[]> {
  return waitUntil(`${count} rows of ${sql}`, () => {
    const rows = db.prepare(sql).all();
    return rows.length >= count ? rows : undefined;
  });
}
