/**
 * @module retention
 * Pruning in small steps. Each step is its own short transaction deleting at most a few thousand
 * rows found by rowid or primary-key ranges, so the write lock is never held long.
 */
import type Database from 'better-sqlite3';
import { RESOLUTIONS_MS, ROUTE_RESOLUTIONS_MS, ROUTES_PER_APP } from '../../shared/store/schema.js';

export interface Retention {
  /** Raw rows older than this are deleted. */
  rawMaxAgeMs: number;
  /** At most this many raw rows are kept (the newest). */
  rawMaxRows: number;
  /**
   * Rollups older than this are deleted, at every resolution; runtime events too. The
   * limit-change audit is never pruned (latestLimits() restores from it), but an event only
   * matters as a marker on a chart, and there is no chart where the rollups are gone.
   */
  rollupMaxAgeMs: number;
}

export const DEFAULT_RETENTION: Retention = {
  rawMaxAgeMs: 24 * 3_600_000,
  rawMaxRows: 1_000_000,
  // One day more than the longest dashboard window, so "7 d" is always complete.
  rollupMaxAgeMs: 8 * 24 * 3_600_000,
};

export const PRUNE_BATCH_ROWS = 2000;
/** Answered commands are only kept for a look in the dashboard's history. */
const COMMANDS_MAX_AGE_MS = 24 * 3_600_000;

/*
 * Raw rows carry no time index (it would cut insert speed tenfold), but rowids grow with time:
 *
 *   rowid  lo ──────────── lo+BATCH ─────────────────────── hi
 *          [ step deletes here if start_ms < cutoff ]
 *          [ by count: ids <= hi - rawMaxRows go    ]
 *
 * Rows finish slightly out of start order, so an age step may leave a few rows until the next one.
 */
export function createPruner(db: Database.Database, retention: Retention) {
  const bounds = db.prepare<[], { lo: number | null; hi: number | null }>('SELECT min(id) AS lo, max(id) AS hi FROM requests');
  const deleteIds = db.prepare<[number, number]>('DELETE FROM requests WHERE id >= ? AND id <= ?');
  const blockEnd = db.prepare<[number], { id: number }>('SELECT id FROM requests ORDER BY id LIMIT 1 OFFSET ?');
  const deleteOld = db.prepare<[number, number]>('DELETE FROM requests WHERE id <= ? AND start_ms < ?');
  const nextApp = db.prepare<[string], { app: string | null }>('SELECT min(app) AS app FROM rollups WHERE app > ?');
  const oldest = db.prepare<[string, number], { b: number | null }>('SELECT min(bucket_ms) AS b FROM rollups WHERE app = ? AND res_ms = ?');
  const deleteBuckets = db.prepare<[string, number, number, number]>(
    'DELETE FROM rollups WHERE app = ? AND res_ms = ? AND bucket_ms >= ? AND bucket_ms < ?',
  );
  const nextRouteApp = db.prepare<[string], { app: string | null }>('SELECT min(app) AS app FROM route_rollups WHERE app > ?');
  const oldestRoute = db.prepare<[string, number], { b: number | null }>('SELECT min(bucket_ms) AS b FROM route_rollups WHERE app = ? AND res_ms = ?');
  const deleteRouteBuckets = db.prepare<[string, number, number, number]>(
    'DELETE FROM route_rollups WHERE app = ? AND res_ms = ? AND bucket_ms >= ? AND bucket_ms < ?',
  );
  const deleteEvents = db.prepare<[number, number]>(
    'DELETE FROM runtime_events WHERE id IN (SELECT id FROM runtime_events WHERE at_ms < ? LIMIT ?)',
  );
  const deleteCommands = db.prepare<[number]>('DELETE FROM threads_commands WHERE requested_at_ms < ? AND applied_at_ms IS NOT NULL');

  function rawByCount(): number {
    const { lo, hi } = bounds.get()!;
    if (lo === null || hi === null) return 0;
    const cut = hi - retention.rawMaxRows;
    if (lo > cut) return 0;
    return deleteIds.run(lo, Math.min(cut, lo + PRUNE_BATCH_ROWS - 1)).changes;
  }

  function rawByAge(nowMs: number): number {
    const end = blockEnd.get(PRUNE_BATCH_ROWS - 1)?.id ?? bounds.get()!.hi;
    if (end === null) return 0;
    return deleteOld.run(end, nowMs - retention.rawMaxAgeMs).changes;
  }

  function rollupsByAge(nowMs: number): number {
    const cutoff = nowMs - retention.rollupMaxAgeMs;
    let deleted = 0;
    // Walk the apps by seeking the primary key: no full scan of a table full of BLOBs.
    for (let app = nextApp.get('')!.app; app !== null; app = nextApp.get(app)!.app) {
      for (const res of RESOLUTIONS_MS) {
        const first = oldest.get(app, res)!.b;
        if (first === null || first >= cutoff) continue;
        const stop = Math.min(cutoff, first + PRUNE_BATCH_ROWS * res);
        deleted += deleteBuckets.run(app, res, first, stop).changes;
        if (deleted >= PRUNE_BATCH_ROWS) return deleted;
      }
    }
    return deleted;
  }

  /** As rollupsByAge, with fewer buckets a step: a bucket holds a row per route, up to ROUTES_PER_APP + 1. */
  function routeRollupsByAge(nowMs: number): number {
    const cutoff = nowMs - retention.rollupMaxAgeMs;
    const bucketsPerStep = Math.max(1, Math.floor(PRUNE_BATCH_ROWS / (ROUTES_PER_APP + 1)));
    let deleted = 0;
    for (let app = nextRouteApp.get('')!.app; app !== null; app = nextRouteApp.get(app)!.app) {
      for (const res of ROUTE_RESOLUTIONS_MS) {
        const first = oldestRoute.get(app, res)!.b;
        if (first === null || first >= cutoff) continue;
        deleted += deleteRouteBuckets.run(app, res, first, Math.min(cutoff, first + bucketsPerStep * res)).changes;
        if (deleted >= PRUNE_BATCH_ROWS) return deleted;
      }
    }
    return deleted;
  }

  /** One short transaction; returns the rows deleted (0 means nothing is left to prune). */
  return function pruneStep(nowMs = Date.now()): number {
    return db.transaction(() => {
      let n = rawByCount();
      if (n === 0) n = rawByAge(nowMs);
      if (n === 0) n = rollupsByAge(nowMs);
      if (n === 0) n = routeRollupsByAge(nowMs);
      if (n === 0) n = deleteEvents.run(nowMs - retention.rollupMaxAgeMs, PRUNE_BATCH_ROWS).changes;
      if (n === 0) n = deleteCommands.run(nowMs - COMMANDS_MAX_AGE_MS).changes;
      return n;
    }).immediate();
  };
}
