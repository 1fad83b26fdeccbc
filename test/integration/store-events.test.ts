// Runtime events (reload, restart, hang, recycle) through the timing store's writer thread into
// runtime_events, read back by the history reader on a real SQLite file, and pruned by retention.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openHistoryReader } from '../../shared/store/history-reader.js';
import type { RuntimeEvent } from '../../shared/timing-row.js';
import { createTimingStore, MAX_EVENT_DETAIL_CHARS, type TimingStoreOptions } from '../../server/store/timing-store.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';

const tempDir = (t: TestContext): Promise<string> => testDir(t, 'events');

function open(t: TestContext, options: TimingStoreOptions) {
  const store = createTimingStore({ retryMaxMs: 100, ...options });
  t.after(() => store.close());
  return store;
}

const event = (over: Partial<RuntimeEvent>): RuntimeEvent => ({
  app: 'shop', atMs: 1000, kind: 'restart', pid: 4242, detail: 'exit code 1', source: 'supervisor', ...over,
});

test('events recorded through the writer are read back newest first, filtered by app, time and limit', async (t) => {
  const path = join(await tempDir(t), 'timing.db');
  const store = open(t, { path });
  store.recordEvent(event({ atMs: 1000, kind: 'restart', pid: 11 }));
  store.recordEvent(event({ atMs: 2000, kind: 'hang', pid: 12, detail: 'stuck for 30012 ms' }));
  store.recordEvent(event({ app: 'blog', atMs: 2500, kind: 'recycle', pid: 21, detail: 'rss 612 MiB over 512 MiB' }));
  // The same millisecond twice: the later id is the newer event.
  store.recordEvent(event({ atMs: 3000, kind: 'reload', pid: 0, detail: '11 12 → 13 14 in 850 ms', source: 'dashboard 127.0.0.1' }));
  store.recordEvent(event({ atMs: 3000, kind: 'restart', pid: 13 }));
  // Interleaved with a limit change: both are audit jobs of the same queue.
  store.recordLimitChange({ app: 'shop', atMs: 3500, oldThreads: 2, newThreads: 4, source: 'api' });
  await store.close();

  const reader = openHistoryReader(path);
  t.after(() => reader.close());
  assert.deepEqual(reader.events().map((e) => [e.app, e.atMs, e.kind]), [
    ['shop', 3000, 'restart'], ['shop', 3000, 'reload'], ['blog', 2500, 'recycle'], ['shop', 2000, 'hang'], ['shop', 1000, 'restart'],
  ]);
  assert.deepEqual(reader.events({ app: 'blog' }), [
    { id: 3, atMs: 2500, app: 'blog', kind: 'recycle', pid: 21, detail: 'rss 612 MiB over 512 MiB', source: 'supervisor' },
  ]);
  // sinceMs inclusive, untilMs exclusive.
  assert.deepEqual(reader.events({ app: 'shop', sinceMs: 2000, untilMs: 3000 }).map((e) => e.pid), [12]);
  assert.deepEqual(reader.events({ sinceMs: 2500 }).map((e) => e.pid), [13, 0, 21]);
  assert.deepEqual(reader.events({ app: 'shop', limit: 2 }).map((e) => e.pid), [13, 0]);
  assert.deepEqual(reader.events({ app: 'nope' }), []);
  assert.deepEqual(reader.audit().map((e) => e.newThreads), [4]);
});

test('app-filtered and time-only event reads walk an index, not the table', async (t) => {
  const path = join(await tempDir(t), 'timing.db');
  const store = createTimingStore({ path });
  return store.close().then(() => {
    const db = new Database(path, { readonly: true });
    t.after(() => db.close());
    const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>).map((r) => r.detail).join('; ');
    const cols = 'id, at_ms, app, kind, pid, detail, source';
    const byApp = plan(`SELECT ${cols} FROM runtime_events WHERE app = 'a' AND at_ms >= 0 AND at_ms < 9 ORDER BY at_ms DESC, id DESC LIMIT 5`);
    assert.match(byApp, /USING INDEX runtime_events_app_at/);
    assert.doesNotMatch(byApp, /TEMP B-TREE/, 'ordered by the index, no sort');
    const all = plan(`SELECT ${cols} FROM runtime_events WHERE at_ms >= 0 AND at_ms < 9 ORDER BY at_ms DESC, id DESC LIMIT 5`);
    assert.match(all, /USING INDEX runtime_events_at/);
    assert.doesNotMatch(all, /TEMP B-TREE/);
  });
});

test('an event with bad fields (a caller bug) is stored normalized and does not hold up the rows behind it', async (t) => {
  const path = join(await tempDir(t), 'timing.db');
  const store = open(t, { path });
  const bad = { app: 'shop', atMs: Number.NaN, kind: 'restart', pid: 12.6, detail: undefined, source: null } as unknown as RuntimeEvent;
  store.recordEvent(bad);
  store.recordEvent(event({ detail: 'x'.repeat(5000) }));
  store.record({ app: 'shop', startMs: Date.now(), queueMs: 0, serviceMs: 1, status: 200, outcome: 0, bytesIn: 0, bytesOut: 0, method: 'GET', path: '/' });
  await store.close();
  assert.deepEqual(store.figures(), { rows: 1, dropped: 0, errors: 0 });
  const reader = openHistoryReader(path);
  t.after(() => reader.close());
  const [long, first] = reader.events({ sinceMs: 0 }).sort((a, b) => b.id - a.id);
  assert.equal(first?.pid, 13);
  assert.equal(first?.detail, '');
  assert.equal(first?.source, '');
  assert.ok(Math.abs((first?.atMs ?? 0) - Date.now()) < 60_000, 'a missing time becomes the time it was recorded');
  assert.equal(long?.detail.length, MAX_EVENT_DETAIL_CHARS);
});

test('retention prunes events older than rollupMaxAgeMs and keeps the rest', async (t) => {
  const path = join(await tempDir(t), 'timing.db');
  const now = Date.now();
  const store = open(t, { path, pruneIntervalMs: 50, retention: { rollupMaxAgeMs: 3_600_000 } });
  for (let i = 0; i < 2500; i++) store.recordEvent(event({ atMs: now - 2 * 3_600_000 + i, pid: i }));
  store.recordEvent(event({ atMs: now - 60_000, kind: 'hang', pid: 99_999 }));
  const reader = openHistoryReader(path);
  t.after(() => reader.close());
  await waitUntil('fresh event written', () => reader.events({ app: 'shop', limit: 1 })[0]?.pid === 99_999);
  // More old events than one prune step deletes: pruning takes several steps and gets them all.
  await waitUntil('old events pruned', () => reader.events({ untilMs: now - 3_600_000, limit: 1 }).length === 0);
  assert.deepEqual(reader.events().map((e) => e.kind), ['hang']);
});
