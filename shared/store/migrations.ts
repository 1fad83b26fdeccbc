/**
 * @module migrations
 * Ordered schema migrations keyed by `PRAGMA user_version`. Version N is reached by running
 * MIGRATIONS[0..N-1]; a database newer than this program is refused with DOW_ERR_MIGRATION.
 */
import type Database from 'better-sqlite3';
import { errors } from '../errors.js';
import { SCHEMA_VERSION } from './schema.js';

export interface Migration {
  /** The user_version this migration leads to. */
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'raw requests, rollups and the limit-change audit',
    sql: `
      CREATE TABLE requests (
        id INTEGER PRIMARY KEY,
        app TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        queue_ms REAL NOT NULL,
        service_ms REAL NOT NULL,
        status INTEGER NOT NULL,
        outcome INTEGER NOT NULL,
        bytes_in INTEGER NOT NULL,
        bytes_out INTEGER NOT NULL,
        method TEXT NOT NULL,
        path TEXT
      );
      CREATE TABLE rollups (
        app TEXT NOT NULL,
        res_ms INTEGER NOT NULL,
        bucket_ms INTEGER NOT NULL,
        count INTEGER NOT NULL,
        s1xx INTEGER NOT NULL, s2xx INTEGER NOT NULL, s3xx INTEGER NOT NULL,
        s4xx INTEGER NOT NULL, s5xx INTEGER NOT NULL,
        rejected INTEGER NOT NULL, timeouts INTEGER NOT NULL, aborted INTEGER NOT NULL,
        service_count INTEGER NOT NULL,
        service_sum_ms REAL NOT NULL,
        service_min_ms REAL,
        service_max_ms REAL,
        service_hist BLOB NOT NULL,
        queue_hist BLOB NOT NULL,
        PRIMARY KEY (app, res_ms, bucket_ms)
      ) WITHOUT ROWID;
      CREATE TABLE limit_changes (
        id INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        app TEXT NOT NULL,
        old_threads INTEGER NOT NULL,
        new_threads INTEGER NOT NULL,
        source TEXT NOT NULL
      );
      CREATE INDEX limit_changes_app ON limit_changes (app, id);
    `,
  },
  {
    version: 2,
    description: 'threads_commands: control channel for a dashboard in another process',
    sql: `
      CREATE TABLE threads_commands (
        id INTEGER PRIMARY KEY,
        app TEXT NOT NULL,
        threads INTEGER NOT NULL,
        source TEXT NOT NULL,
        requested_at_ms INTEGER NOT NULL,
        applied_at_ms INTEGER,
        old_threads INTEGER,
        error TEXT
      );
      -- The writer polls this every 250 ms; the partial index keeps that O(pending).
      CREATE INDEX threads_commands_pending ON threads_commands (id) WHERE applied_at_ms IS NULL;
    `,
  },
  {
    version: 3,
    description: 'runtime_events: worker reloads, restarts, hangs and recycles',
    sql: `
      CREATE TABLE runtime_events (
        id INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        app TEXT NOT NULL,
        kind TEXT NOT NULL,
        pid INTEGER NOT NULL,
        detail TEXT NOT NULL,
        source TEXT NOT NULL
      );
      -- A chart asks for one app's window; the events table and retention ask by time alone.
      -- Events are rare (a crash loop is held back by its backoff), so two indexes cost nothing.
      CREATE INDEX runtime_events_app_at ON runtime_events (app, at_ms);
      CREATE INDEX runtime_events_at ON runtime_events (at_ms);
    `,
  },
  {
    version: 4,
    description: 'instances: the server runs that wrote the store, and each raw row\'s run',
    sql: `
      CREATE TABLE instances (
        id INTEGER PRIMARY KEY,
        started_ms INTEGER NOT NULL,
        seen_ms INTEGER NOT NULL,
        pid INTEGER NOT NULL,
        stopped INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX instances_seen ON instances (seen_ms);
      -- NULL for rows written before version 4.
      ALTER TABLE requests ADD COLUMN instance_id INTEGER;
    `,
  },
  {
    version: 5,
    description: 'worker_changes: worker counts set at run time, kept for persistLimits',
    sql: `
      -- As limit_changes, and never pruned either: the last row per app is what a restart
      -- restores. The dashboard's marker for a change is its runtime_events row (kind 'scale').
      CREATE TABLE worker_changes (
        id INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        app TEXT NOT NULL,
        old_workers INTEGER NOT NULL,
        new_workers INTEGER NOT NULL,
        source TEXT NOT NULL
      );
      CREATE INDEX worker_changes_app ON worker_changes (app, id);
    `,
  },
  {
    version: 6,
    description: 'routes: each raw row\'s route, per-route rollups and the routes each app has',
    sql: `
      -- NULL for rows written before version 6.
      ALTER TABLE requests ADD COLUMN route TEXT;
      -- A window's routes are one range of the key: (app, res_ms, bucket_ms) then every route.
      CREATE TABLE route_rollups (
        app TEXT NOT NULL,
        res_ms INTEGER NOT NULL,
        bucket_ms INTEGER NOT NULL,
        method TEXT NOT NULL,
        route TEXT NOT NULL,
        count INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        service_count INTEGER NOT NULL,
        service_sum_ms REAL NOT NULL,
        service_hist BLOB NOT NULL,
        PRIMARY KEY (app, res_ms, bucket_ms, method, route)
      ) WITHOUT ROWID;
      -- The routes an app has had, at most ROUTES_PER_APP (the rest are one overflow route).
      CREATE TABLE routes (
        app TEXT NOT NULL,
        method TEXT NOT NULL,
        route TEXT NOT NULL,
        PRIMARY KEY (app, method, route)
      ) WITHOUT ROWID;
    `,
  },
];

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings `db` to SCHEMA_VERSION (or `target`, for tests). Runs in one IMMEDIATE transaction and
 * re-reads the version inside it, so a server and a dashboard opening the same new file at once
 * do not both migrate. Returns the version found before migrating.
 */
export function migrate(db: Database.Database, label: string, target = SCHEMA_VERSION): number {
  const found = schemaVersion(db);
  if (found > SCHEMA_VERSION) throw new errors.DOW_ERR_MIGRATION(label, found, SCHEMA_VERSION);
  if (found >= target) return found;
  const run = db.transaction(() => {
    const current = schemaVersion(db);
    if (current > SCHEMA_VERSION) throw new errors.DOW_ERR_MIGRATION(label, current, SCHEMA_VERSION);
    for (const m of MIGRATIONS) {
      if (m.version <= current || m.version > target) continue;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }
  });
  run.immediate();
  return found;
}
