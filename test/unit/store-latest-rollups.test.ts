// The writer keeps the rollup rows it last wrote instead of reading them back
// (server/store/latest-rollups.ts): on a real SQLite file, what it keeps must stay what the file
// holds when a second writer shares the file, and when a batch fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BatchPacker } from '../../server/store/packed-batch.js';
import { DEFAULT_RETENTION } from '../../server/store/retention.js';
import { SqliteWriter } from '../../server/store/sqlite-writer.js';
import { openWritableDb } from '../../shared/store/open-db.js';
import { Outcome } from '../../shared/timing-row.js';
import { testDirSync } from '../helpers/temp-dir.js';

// One minute from a bucket's start at every resolution: every batch lands in the same buckets.
const AT_MS = Date.UTC(2026, 11, 7, 12, 0, 10);

function batchOf(routes: Array<[route: string, count: number]>) {
  const packer = new BatchPacker(1000, { recordPaths: true, maxPathLength: 200 });
  for (const [route, count] of routes) {
    for (let i = 0; i < count; i++) {
      packer.push({ app: 'shop', startMs: AT_MS + i, queueMs: 0, serviceMs: 1 + i, status: 200, outcome: Outcome.ANSWERED, bytesIn: 0, bytesOut: 2, method: 'GET', path: route, route });
    }
  }
  return packer.take();
}

function writerOn(t: { after(fn: () => unknown): void }, path: string): SqliteWriter {
  const writer = new SqliteWriter(openWritableDb(path), DEFAULT_RETENTION, { startedMs: AT_MS, pid: process.pid });
  t.after(() => writer.close());
  return writer;
}

/** What the file holds, by resolution: the app's count, and each route's. */
function counts(writer: SqliteWriter): { app: number[]; routes: Record<string, number[]> } {
  const app = writer.db.prepare<[], number>("SELECT count FROM rollups WHERE app = 'shop' ORDER BY res_ms").pluck().all();
  const routes: Record<string, number[]> = {};
  for (const r of writer.db.prepare<[], { route: string; count: number }>("SELECT route, count FROM route_rollups WHERE app = 'shop' ORDER BY route, res_ms").all()) {
    (routes[r.route] ??= []).push(r.count);
  }
  return { app, routes };
}

test('two writers on one file, taking turns in the same buckets: every rollup counts both', (t) => {
  const path = join(testDirSync(t, 'latest-rollups-two'), 'timing.db');
  const a = writerOn(t, path);
  const b = writerOn(t, path);
  for (let round = 0; round < 3; round++) {
    a.writeRows(batchOf([['/a', 5], ['/b', 1]]));
    b.writeRows(batchOf([['/a', 2]]));
  }
  // 6 + 18 rows; each series at each of its three resolutions.
  assert.deepEqual(counts(a), { app: [24, 24, 24], routes: { '/a': [21, 21, 21], '/b': [3, 3, 3] } });
  assert.equal(a.db.prepare('SELECT count(*) FROM requests').pluck().get(), 24);
});

test('a batch that fails leaves nothing kept: the next one adds to what the file holds', (t) => {
  const path = join(testDirSync(t, 'latest-rollups-failed'), 'timing.db');
  const writer = writerOn(t, path);
  writer.writeRows(batchOf([['/a', 3], ['/c', 1]]));
  // The route cell of /boom fails after this batch's app and /a, /c cells were written in it.
  writer.db.exec("CREATE TEMP TRIGGER boom BEFORE INSERT ON route_rollups WHEN NEW.route = '/boom' BEGIN SELECT RAISE(ABORT, 'disk full, say'); END");
  assert.throws(() => writer.writeRows(batchOf([['/a', 4], ['/c', 2], ['/boom', 1]])), /disk full/);
  writer.db.exec('DROP TRIGGER boom');
  writer.writeRows(batchOf([['/a', 2]]));
  writer.writeRows(batchOf([['/c', 1]]));
  assert.deepEqual(counts(writer), { app: [7, 7, 7], routes: { '/a': [5, 5, 5], '/c': [2, 2, 2] } });
});
