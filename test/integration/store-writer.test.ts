// The timing store end to end on real SQLite files: counts, close, drops, failures and recovery,
// retention, rollup accuracy, the threads_commands channel and readers alongside the writer.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isDragonError } from '../../shared/errors.js';
import { HISTOGRAM_RELATIVE_ERROR } from '../../shared/histogram.js';
import { openHistoryReader } from '../../shared/store/history-reader.js';
import { awaitCommand, openCommandsDb, readCommand, requestThreadsChange } from '../../shared/store/threads-commands.js';
import { Outcome, type TimingRow } from '../../shared/timing-row.js';
import { createTimingStore, type TimingStore, type TimingStoreOptions } from '../../server/store/timing-store.js';
import { testDir } from '../helpers/temp-dir.js';
import { scaledMs, sleep, waitUntil } from '../helpers/wait.js';

const tempDir = (t: TestContext): Promise<string> => testDir(t, 'store');

function open(t: TestContext, options: TimingStoreOptions): { store: TimingStore; logs: string[] } {
  const logs: string[] = [];
  const logger = { warn: (_: object, m?: string) => logs.push(`warn ${m}`), error: (_: object, m?: string) => logs.push(`error ${m}`), info: (_: object, m?: string) => logs.push(`info ${m}`) };
  const store = createTimingStore({ retryMaxMs: 100, logger, ...options });
  t.after(() => store.close());
  return { store, logs };
}

let seed = 7;
function rand(): number {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
}

function row(startMs: number, over: Partial<TimingRow> = {}): TimingRow {
  return { app: 'shop', startMs, queueMs: rand() * 5, serviceMs: Math.exp(rand() * 6), status: 200, outcome: Outcome.ANSWERED, bytesIn: 100, bytesOut: 2000, method: 'GET', path: '/items/42', ...over };
}

function rawCount(path: string, where = '1'): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM requests WHERE ${where}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

test('rows written equal rows recorded, and close() flushes everything', async (t) => {
  const path = join(await tempDir(t), 'timing.db');
  // A long flush interval: only close() can have written the last rows.
  const { store } = open(t, { path, flushIntervalMs: 60_000, batchSize: 700 });
  const now = Date.now();
  for (let i = 0; i < 12_345; i++) store.record(row(now - i));
  await store.close();
  assert.deepEqual(store.figures(), { rows: 12_345, dropped: 0, errors: 0 });
  assert.equal(rawCount(path), 12_345);
  store.record(row(now)); // after close: counted, not thrown
  assert.equal(store.figures().dropped, 1);
});

test('a full buffer drops rows and counts every one', async (t) => {
  const path = join(await tempDir(t), 'timing.db');
  const { store } = open(t, { path, bufferRows: 100, batchSize: 40 });
  const now = Date.now();
  // One synchronous burst: the writer cannot acknowledge anything meanwhile.
  for (let i = 0; i < 5000; i++) store.record(row(now));
  await store.close();
  const f = store.figures();
  assert.equal(f.rows, 100);
  assert.equal(f.dropped, 4900);
  assert.equal(rawCount(path), 100);
});

test('unwritable path (parent is a regular file): no throw, drops and errors counted, then recovery', async (t) => {
  const dir = await tempDir(t);
  const blocker = join(dir, 'data');
  writeFileSync(blocker, 'not a directory');
  const path = join(blocker, 'timing.db');
  const { store, logs } = open(t, { path, bufferRows: 500 });
  const now = Date.now();
  for (let i = 0; i < 2000; i++) store.record(row(now));
  await waitUntil('errors', () => store.figures().errors >= 3);
  assert.equal(store.figures().rows, 0);
  assert.equal(store.figures().dropped, 1500);
  assert.ok(logs.length >= 1 && logs.length <= 3, `rate-limited log: ${logs.join('; ')}`);

  unlinkSync(blocker);
  mkdirSync(blocker);
  await waitUntil('recovery', () => store.figures().rows === 500);
  for (let i = 0; i < 300; i++) store.record(row(now));
  await store.close();
  assert.deepEqual({ ...store.figures(), errors: 0 }, { rows: 800, dropped: 1500, errors: 0 });
  assert.equal(rawCount(path), 800);
  assert.ok(logs.some((l) => l.startsWith('info') && l.includes('writing again')));
});

test('database file replaced by a directory, then repaired', async (t) => {
  const path = join(await tempDir(t), 'timing.db');
  mkdirSync(path);
  const { store } = open(t, { path, bufferRows: 200 });
  for (let i = 0; i < 300; i++) store.record(row(Date.now()));
  await waitUntil('errors', () => store.figures().errors > 0);
  assert.equal(store.figures().dropped, 100);
  rmdirSync(path);
  await waitUntil('recovery', () => store.figures().rows === 200);
  await store.close();
  assert.equal(rawCount(path), 200);
});

test('read-only database file (chattr +i, which binds root too), then writable again', async (t) => {
  const path = join(await tempDir(t), 'timing.db');
  const first = createTimingStore({ path });
  await first.close();
  try {
    execFileSync('chattr', ['+i', path], { stdio: 'ignore' });
  } catch {
    t.skip('chattr +i is not available here');
    return;
  }
  // Runs if an assertion fails before the repair below, so the temp dir can be removed.
  const unlock = () => execFileSync('chattr', ['-i', path], { stdio: 'ignore' });
  t.after(() => {
    try {
      unlock();
    } catch {
      // already removed
    }
  });
  const { store } = open(t, { path, bufferRows: 200 });
  for (let i = 0; i < 300; i++) store.record(row(Date.now()));
  await waitUntil('errors', () => store.figures().errors > 0);
  assert.equal(store.figures().rows, 0);
  assert.equal(store.figures().dropped, 100);
  unlock();
  await waitUntil('recovery', () => store.figures().rows === 200);
  await store.close();
  assert.equal(rawCount(path), 200);
});

test('a locked database (another writer holds the lock) delays rows without losing them', async (t) => {
  const path = join(await tempDir(t), 'timing.db');
  const { store } = open(t, { path });
  store.record(row(Date.now()));
  await waitUntil('first row', () => store.figures().rows === 1);
  const other = new Database(path);
  t.after(() => other.close());
  other.exec('BEGIN IMMEDIATE');
  for (let i = 0; i < 1000; i++) store.record(row(Date.now()));
  await waitUntil('SQLITE_BUSY', () => store.figures().errors > 0);
  assert.equal(store.figures().rows, 1);
  other.exec('ROLLBACK');
  await store.close();
  assert.equal(store.figures().rows, 1001);
  assert.equal(store.figures().dropped, 0);
});

test('retention prunes raw rows by age and by count, and rollups by age', async (t) => {
  const path = join(await tempDir(t), 'timing.db');
  const now = Date.now();
  const { store } = open(t, {
    path, pruneIntervalMs: 50,
    retention: { rawMaxAgeMs: 60_000, rawMaxRows: 3000, rollupMaxAgeMs: 3 * 3_600_000 },
  });
  for (let i = 0; i < 5000; i++) store.record(row(now - 5 * 3_600_000 + i)); // too old for everything
  for (let i = 0; i < 500; i++) store.record(row(now - 2 * 3_600_000 + i)); // raw too old, rollups kept
  for (let i = 0; i < 4000; i++) store.record(row(now - 1000 + i / 10)); // fresh, but over the count
  await waitUntil('rows', () => store.figures().rows === 9500);
  await waitUntil('pruning', () => rawCount(path) <= 3000);
  const reader = openHistoryReader(path);
  t.after(() => reader.close());
  await waitUntil('rollup pruning', () => reader.summary('shop', now - 6 * 3_600_000, now - 4 * 3_600_000).count === 0);
  assert.equal(rawCount(path, `start_ms < ${now - 60_000}`), 0);
  assert.equal(reader.summary('shop', now - 3 * 3_600_000, now - 3_600_000).count, 500);
  assert.equal(reader.summary('shop', now - 60_000, now + 60_000).count, 4000);
});

test('rollup counts and percentiles match the raw rows within the histogram error', async (t) => {
  const path = join(await tempDir(t), 'timing.db');
  const { store } = open(t, { path });
  const base = Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000;
  const statuses = [200, 200, 200, 204, 301, 404, 499, 500, 503, 504, 101];
  for (let i = 0; i < 20_000; i++) {
    const status = statuses[Math.floor(rand() * statuses.length)]!;
    const outcome = status === 503 ? Outcome.REJECTED : status === 504 ? Outcome.TIMEOUT : status === 499 ? Outcome.ABORTED : Outcome.ANSWERED;
    store.record(row(base + Math.floor(rand() * 20 * 60_000), { status, outcome, app: i % 5 ? 'shop' : 'blog' }));
  }
  await store.close();

  const raw = new Database(path, { readonly: true });
  t.after(() => raw.close());
  const reader = openHistoryReader(path);
  t.after(() => reader.close());
  const exact = (sql: string, from: number, to: number) =>
    (raw.prepare(`SELECT ${sql} AS v FROM requests WHERE app = 'shop' AND start_ms >= ? AND start_ms < ? ORDER BY v`).all(from, to) as Array<{ v: number }>).map((r) => r.v);
  const pct = (sorted: number[], q: number) => sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
  const close = (got: number | null, want: number, what: string) =>
    assert.ok(got !== null && Math.abs(got - want) <= want * HISTOGRAM_RELATIVE_ERROR + 0.0005, `${what}: ${got} vs ${want}`);

  // Windows of 15 min (10 s + 1 min rollups) and 1 h (all resolutions), aligned to 10 s.
  for (const [from, to] of [[base + 10_000, base + 15 * 60_000 + 10_000], [base - 20 * 60_000, base + 40 * 60_000]] as const) {
    const s = reader.summary('shop', from, to);
    const all = exact('start_ms', from, to);
    assert.equal(s.count, all.length);
    const service = exact(`CASE WHEN outcome = ${Outcome.REJECTED} THEN NULL ELSE service_ms END`, from, to).filter((v) => v !== null);
    const queue = exact('queue_ms', from, to);
    for (const [q, key] of [[0.5, 'p50'], [0.95, 'p95'], [0.99, 'p99']] as const) {
      close(s.service[key], pct(service, q), `service ${key}`);
      close(s.queue[key], pct(queue, q), `queue ${key}`);
    }
    assert.equal(s.rejected, exact('status', from, to).filter((v) => v === 503).length);
    assert.equal(s.timeouts, exact('status', from, to).filter((v) => v === 504).length);
    assert.equal(s.aborted, exact('status', from, to).filter((v) => v === 499).length);
    assert.equal(s.errorRate, exact('status', from, to).filter((v) => v >= 500).length / all.length);
  }

  const series = reader.series('shop', base, base + 20 * 60_000);
  assert.equal(series.stepMs, 10_000);
  assert.equal(series.points.length, 120);
  const counts = raw.prepare("SELECT (start_ms / 10000) * 10000 AS t, count(*) AS n, sum(status / 100 = 4) AS c4 FROM requests WHERE app = 'shop' GROUP BY 1").all() as Array<{ t: number; n: number; c4: number }>;
  for (const c of counts) {
    const p = series.points.find((x) => x.t === c.t)!;
    assert.equal(p.count, c.n);
    assert.equal(p.status['4xx'], c.c4);
  }
  const hourly = reader.series('shop', base - 3 * 86_400_000, base + 86_400_000);
  assert.equal(hourly.stepMs, 3_600_000);
  assert.equal(hourly.points.reduce((n, p) => n + p.count, 0), 16_000);
});

test('threads_commands: the dashboard asks, the runtime applies, the answer comes back', async (t) => {
  const path = join(await tempDir(t), 'timing.db');
  const { store } = open(t, { path });
  const limits = new Map([['shop', 2]]);
  store.onThreadsCommand(async (cmd) => {
    const oldThreads = limits.get(cmd.app);
    if (oldThreads === undefined) throw new Error(`no app named ${cmd.app}`);
    limits.set(cmd.app, cmd.threads);
    return { oldThreads };
  });
  const db = openCommandsDb(path);
  t.after(() => db.close());

  const id = requestThreadsChange(db, 'shop', 8, 'dashboard 127.0.0.1');
  assert.equal(readCommand(db, id)?.appliedAtMs, null);
  const done = await awaitCommand(db, id, { timeoutMs: 5000 });
  assert.equal(done.oldThreads, 2);
  assert.equal(done.error, null);
  assert.equal(limits.get('shop'), 8);

  const bad = await awaitCommand(db, requestThreadsChange(db, 'nope', 3, 'api'), { timeoutMs: 5000 });
  assert.match(bad.error ?? '', /no app named nope/);
  const stale = await awaitCommand(db, requestThreadsChange(db, 'shop', 4, 'api', Date.now() - 60_000), { timeoutMs: 5000 });
  assert.match(stale.error ?? '', /expired/);
  assert.equal(limits.get('shop'), 8);
  assert.throws(() => requestThreadsChange(db, 'shop', 0, 'api'), (err) => isDragonError(err, 'DOW_ERR_THREADS_RANGE'));
});

test('limit changes are audited through the writer and latestLimits() returns the last per app', async (t) => {
  const path = join(await tempDir(t), 'timing.db');
  const { store } = open(t, { path });
  store.recordLimitChange({ app: 'shop', atMs: 1, oldThreads: 1, newThreads: 4, source: 'api' });
  store.recordLimitChange({ app: 'blog', atMs: 2, oldThreads: 1, newThreads: 2, source: 'api' });
  store.recordLimitChange({ app: 'shop', atMs: 3, oldThreads: 4, newThreads: 6, source: 'dashboard' });
  store.recordLimitChange({ app: 'blog', atMs: 4, oldThreads: 2, newThreads: 3, source: 'config' });
  store.recordLimitChange({ app: 'blog', atMs: 5, oldThreads: 3, newThreads: 5, source: 'api' });
  assert.deepEqual(await store.latestLimits(), new Map([
    ['shop', { threads: 6, oldThreads: 4, source: 'dashboard', atMs: 3, configThreads: null }],
    // The config's value as of the last start that recorded it, beside the last change.
    ['blog', { threads: 5, oldThreads: 3, source: 'api', atMs: 5, configThreads: 3 }],
  ]));
  const reader = openHistoryReader(path);
  t.after(() => reader.close());
  assert.deepEqual(reader.audit({ app: 'shop' }).map((e) => e.newThreads), [6, 4]);
  assert.equal(reader.audit({ sinceMs: 2, limit: 1 }).length, 1);
});

test('a history reader is never blocked by the writer, even while it holds the write lock', async (t) => {
  const path = join(await tempDir(t), 'timing.db');
  const { store } = open(t, { path, flushIntervalMs: 20 });
  // The writer thread creates the schema; on a loaded machine the reader could open first and
  // find no tables (seen once at load 11). Its answer to a question comes after the migrations.
  await store.latestLimits();
  const reader = openHistoryReader(path);
  t.after(() => reader.close());
  const now = Date.now();
  let slowest = 0;
  let reads = 0;
  // A number of rounds, not a time: on a busy machine each round takes longer.
  while (reads < 60) {
    for (let i = 0; i < 400; i++) store.record(row(now - rand() * 600_000));
    const t0 = performance.now();
    reader.summary('shop', now - 3_600_000, now + 1000);
    reader.series('shop', now - 900_000, now + 1000);
    slowest = Math.max(slowest, performance.now() - t0);
    reads++;
    await sleep(5);
  }
  // And while another connection holds the write lock with uncommitted rows:
  const other = new Database(path);
  t.after(() => other.close());
  other.exec('BEGIN IMMEDIATE');
  other.prepare("INSERT INTO requests (app, start_ms, queue_ms, service_ms, status, outcome, bytes_in, bytes_out, method) VALUES ('shop', 1, 0, 0, 200, 0, 0, 0, 'GET')").run();
  const t0 = performance.now();
  reader.summary('shop', now - 3_600_000, now + 1000);
  const locked = performance.now() - t0;
  other.exec('ROLLBACK');
  await store.close();
  assert.ok(slowest < scaledMs(250), `slowest read ${slowest.toFixed(1)} ms`);
  assert.ok(locked < scaledMs(100), `read under a held write lock took ${locked.toFixed(1)} ms`);
  assert.equal(store.figures().errors, 0);
});
