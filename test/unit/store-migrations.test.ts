// Schema migrations: from every older version to the current one, and refusal of newer ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isDragonError } from '../../shared/errors.js';
import { LatencyHistogram } from '../../shared/histogram.js';
import { MIGRATIONS, migrate, schemaVersion } from '../../shared/store/migrations.js';
import { openWritableDb } from '../../shared/store/open-db.js';
import { openHistoryReader } from '../../shared/store/history-reader.js';
import { SCHEMA_VERSION } from '../../shared/store/schema.js';
import { testDirSync } from '../helpers/temp-dir.js';

function tempDir(t: { after(fn: () => void): void }): string {
  return testDirSync(t, 'migrations');
}

function schemaOf(db: Database.Database): string[] {
  return (db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ sql: string }>)
    .map((r) => JSON.stringify(r));
}

test('migrations are numbered 1..SCHEMA_VERSION in order', () => {
  assert.deepEqual(MIGRATIONS.map((m) => m.version), Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
});

test('a new file is created at the current version', (t) => {
  const db = openWritableDb(join(tempDir(t), 'new.db'));
  t.after(() => db.close());
  assert.equal(schemaVersion(db), SCHEMA_VERSION);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
});

for (let from = 0; from < SCHEMA_VERSION; from++) {
  test(`a version ${from} database is migrated on open and keeps its data`, (t) => {
    const dir = tempDir(t);
    const path = join(dir, `v${from}.db`);
    const old = new Database(path);
    migrate(old, path, from);
    assert.equal(schemaVersion(old), from);
    const hist = new LatencyHistogram();
    hist.record(1500);
    if (from >= 1) {
      old.prepare(`INSERT INTO requests (app, start_ms, queue_ms, service_ms, status, outcome, bytes_in, bytes_out, method, path)
                   VALUES ('a', 60000, 0, 1.5, 200, 0, 10, 20, 'GET', '/')`).run();
      old.prepare(`INSERT INTO rollups VALUES ('a', 10000, 60000, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1.5, 1.5, 1.5, ?, ?)`).run(hist.encode(), hist.encode());
      old.prepare(`INSERT INTO limit_changes (at_ms, app, old_threads, new_threads, source) VALUES (1, 'a', 1, 3, 'test')`).run();
    }
    if (from >= 2) {
      old.prepare(`INSERT INTO threads_commands (app, threads, source, requested_at_ms) VALUES ('a', 5, 'test', 2)`).run();
    }
    old.close();

    const db = openWritableDb(path);
    t.after(() => db.close());
    assert.equal(schemaVersion(db), SCHEMA_VERSION);
    const fresh = openWritableDb(join(dir, 'fresh.db'));
    t.after(() => fresh.close());
    assert.deepEqual(schemaOf(db), schemaOf(fresh));
    if (from >= 1) {
      assert.equal((db.prepare('SELECT count(*) AS n FROM requests').get() as { n: number }).n, 1);
      const reader = openHistoryReader(path);
      t.after(() => reader.close());
      const s = reader.summary('a', 60000, 70000);
      assert.equal(s.count, 1);
      assert.equal(s.service.p50, 1.5);
      assert.equal(reader.audit()[0]?.newThreads, 3);
    }
    if (from >= 2) assert.equal((db.prepare('SELECT threads FROM threads_commands').get() as { threads: number }).threads, 5);
    // Version 3: runtime events, written and read back on the migrated file.
    db.prepare(`INSERT INTO runtime_events (at_ms, app, kind, pid, detail, source) VALUES (5, 'a', 'restart', 41, 'exit code 1', 'supervisor')`).run();
    const reader = openHistoryReader(path);
    t.after(() => reader.close());
    assert.deepEqual(reader.events(), [{ id: 1, atMs: 5, app: 'a', kind: 'restart', pid: 41, detail: 'exit code 1', source: 'supervisor' }]);
  });
}

test('a reader on a version 2 file (an older runtime still writing it) has no events until it is migrated', (t) => {
  const path = join(tempDir(t), 'v2.db');
  const old = new Database(path);
  migrate(old, path, 2);
  const reader = openHistoryReader(path);
  t.after(() => reader.close());
  assert.deepEqual(reader.events(), []);
  assert.deepEqual(reader.audit(), []);
  migrate(old, path);
  old.prepare(`INSERT INTO runtime_events (at_ms, app, kind, pid, detail, source) VALUES (7, 'a', 'hang', 9, 'stuck', 'supervisor')`).run();
  old.close();
  assert.deepEqual(reader.events().map((e) => e.kind), ['hang']);
});

test('a database from a newer program is refused with DOW_ERR_MIGRATION, by writer and reader', (t) => {
  const path = join(tempDir(t), 'newer.db');
  const db = new Database(path);
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  assert.throws(() => openWritableDb(path), (err) => isDragonError(err, 'DOW_ERR_MIGRATION'));
  const reader = openHistoryReader(path);
  t.after(() => reader.close());
  assert.throws(() => reader.summary('a', 0, 1000), (err) => isDragonError(err, 'DOW_ERR_MIGRATION'));
  // The refused file is left as it was.
  const again = new Database(path);
  assert.equal(schemaVersion(again), SCHEMA_VERSION + 1);
  again.close();
});

test('opening an up-to-date database twice migrates nothing', (t) => {
  const path = join(tempDir(t), 'twice.db');
  openWritableDb(path).close();
  const db = openWritableDb(path);
  t.after(() => db.close());
  assert.equal(migrate(db, path), SCHEMA_VERSION);
});
