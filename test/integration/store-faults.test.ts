// The timing store under faults it cannot repair, on real SQLite files: a path it cannot open at
// start, and a file removed or replaced under it while it writes. Each must be visible.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Outcome, type TimingRow } from '../../shared/timing-row.js';
import { createTimingStore, type TimingStore, type TimingStoreOptions } from '../../server/store/timing-store.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';

function open(t: TestContext, options: TimingStoreOptions): { store: TimingStore; logs: string[] } {
  const logs: string[] = [];
  const logger = { warn: (_: object, m?: string) => logs.push(`warn ${m}`), error: (_: object, m?: string) => logs.push(`error ${m}`), info: (_: object, m?: string) => logs.push(`info ${m}`) };
  const store = createTimingStore({ retryMaxMs: 50, flushIntervalMs: 20, fileCheckIntervalMs: 60_000, logger, ...options });
  t.after(() => store.close());
  return { store, logs };
}

function row(i: number): TimingRow {
  return { app: 'shop', startMs: Date.now(), queueMs: 0, serviceMs: i, status: 200, outcome: Outcome.ANSWERED, bytesIn: 0, bytesOut: 10, method: 'GET', path: `/r/${i}` };
}

function rowsIn(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM requests').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

test('a store that cannot open its file is an ERROR at start, with what to do, and never reads as writable while it retries', async (t) => {
  const dir = await testDir(t, 'store-unwritable');
  // A folder that is a file: ENOTDIR even for root, as an unwritable folder is for anyone else.
  writeFileSync(join(dir, 'not-a-folder'), '');
  const { store, logs } = open(t, { path: join(dir, 'not-a-folder', 'timings.db') });
  const failure = await store.started;
  assert.match(failure ?? '', /open/);
  const errorsAtStart = logs.filter((l) => l.startsWith('error ') && /cannot be written/.test(l));
  assert.equal(errorsAtStart.length, 1, logs.join('\n'));
  assert.match(errorsAtStart[0] ?? '', /store: false/);
  // Between attempts (the writer thread retries every 50 ms here) it must not flap to writable.
  for (let seen = 0; seen < 20;) {
    assert.equal(store.health().writable, false);
    const n = store.figures().errors;
    await waitUntil('another failed attempt', () => store.figures().errors > n);
    seen++;
  }
  assert.match(store.health().reason, /open/);
});

test('a store opened fine says so once, and is writable', async (t) => {
  const path = join(await testDir(t, 'store-ok'), 'timings.db');
  const { store, logs } = open(t, { path });
  assert.equal(await store.started, null);
  assert.equal(store.health().writable, true);
  assert.equal(logs.filter((l) => l.startsWith('error ')).length, 0);
});

for (const how of ['removed', 'replaced'] as const) {
  test(`a store file ${how} under the running store is noticed (store_errors, an ERROR line) and the path written afresh`, async (t) => {
    const dir = await testDir(t, `store-${how}`);
    const path = join(dir, 'timings.db');
    const { store, logs } = open(t, { path });
    await waitUntil('the store open', () => store.health().writable);
    for (let i = 0; i < 5; i++) store.record(row(i));
    await waitUntil('5 rows written', () => store.figures().rows === 5);
    if (how === 'removed') unlinkSync(path);
    else {
      const other = new Database(join(dir, 'other.db'));
      other.close();
      renameSync(join(dir, 'other.db'), path);
    }
    // Rows recorded after the change are checked for before they are written: none go to the old file.
    for (let i = 5; i < 8; i++) store.record(row(i));
    await waitUntil('the change noticed', () => store.figures().errors >= 1);
    assert.ok(logs.some((l) => l.startsWith('error ') && l.includes(`was ${how} while open`)), logs.join('\n'));
    await waitUntil('3 more rows written', () => store.figures().rows === 8);
    assert.equal(store.health().writable, true);
    await store.close();
    assert.equal(store.figures().dropped, 0);
    assert.equal(rowsIn(path), 3);
  });
}
