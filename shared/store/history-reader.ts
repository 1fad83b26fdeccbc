/**
 * @module history-reader
 * The dashboard's read-only view of the timing store. Percentiles come from merging rollup
 * histograms (never from sorting raw rows), at the resolution that fits the window.
 */
import { existsSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { errors, isDragonError } from '../errors.js';
import type { AuditEntry, EventEntry, HistoryReader, Percentiles, Series, SeriesPoint, WindowSummary } from '../history.js';
import { LatencyHistogram } from '../histogram.js';
import { recordedMs, type InstanceSpan } from './instances.js';
import { schemaVersion } from './migrations.js';
import { openReadonlyDb } from './open-db.js';
import { coverWindow, routeSeriesResolution, seriesResolution } from './rollup-cover.js';
import { prepareRouteQueries, ROUTES_VERSION, type RouteQueries } from './route-queries.js';
import { SCHEMA_VERSION, type RollupRecord } from './schema.js';

type RollupRow = Omit<RollupRecord, 'app' | 'res_ms'>;
const ROLLUP_COLUMNS =
  'bucket_ms, count, s1xx, s2xx, s3xx, s4xx, s5xx, rejected, timeouts, aborted, service_count, service_sum_ms, service_min_ms, service_max_ms, service_hist, queue_hist';
const DEFAULT_AUDIT_LIMIT = 100;
/** The schema version that added runtime_events. */
const EVENTS_VERSION = 3;
/** The schema version that added instances (the runs that wrote the store). */
const INSTANCES_VERSION = 4;
const EVENT_COLUMNS = 'id, at_ms, app, kind, pid, detail, source';

interface Statements {
  rollups: Database.Statement<[string, number, number, number], RollupRow>;
  audit: Database.Statement<[string | null, string | null, number, number], Record<string, number | string>>;
}

interface EventRow {
  id: number;
  at_ms: number;
  app: string;
  kind: EventEntry['kind'];
  pid: number;
  detail: string;
  source: string;
}

/*
 * Two statements rather than `(? IS NULL OR app = ?)`: SQLite cannot use the (app, at_ms) index
 * through that OR, and with it each one walks its index backwards from `untilMs` and stops at
 * `limit`.
 */
interface EventStatements {
  byApp: Database.Statement<[string, number, number, number], EventRow>;
  all: Database.Statement<[number, number, number], EventRow>;
}

/**
 * Opens lazily: before the server has created the file (or migrated it) the reader answers with
 * empty history rather than failing, and picks the file up once it appears.
 */
export function openHistoryReader(path: string): HistoryReader {
  let db: Database.Database | null = null;
  let stmts: Statements | null = null;
  let eventStmts: EventStatements | null = null;
  let routeQueries: RouteQueries | null = null;
  let instanceStmt: Database.Statement<[number, number], { started_ms: number; seen_ms: number; stopped: number }> | null = null;
  // Scratch histograms: merging into them allocates nothing per bucket.
  const service = new LatencyHistogram();
  const queue = new LatencyHistogram();

  function ready(): Statements | null {
    if (stmts) return stmts;
    try {
      if (!db) {
        if (!existsSync(path)) return null;
        db = openReadonlyDb(path);
      }
      const version = schemaVersion(db);
      if (version > SCHEMA_VERSION) throw new errors.DOW_ERR_MIGRATION(path, version, SCHEMA_VERSION);
      if (version < 1) return null; // created but not yet migrated by the server
      stmts = {
        rollups: db.prepare(
          `SELECT ${ROLLUP_COLUMNS} FROM rollups WHERE app = ? AND res_ms = ? AND bucket_ms >= ? AND bucket_ms < ? ORDER BY bucket_ms`,
        ),
        audit: db.prepare(
          `SELECT id, at_ms, app, old_threads, new_threads, source FROM limit_changes
           WHERE (? IS NULL OR app = ?) AND at_ms >= ? ORDER BY id DESC LIMIT ?`,
        ),
      };
      return stmts;
    } catch (err) {
      throw wrap(err);
    }
  }

  /**
   * Prepared apart from the rest: a dashboard in its own process may read a file that an older
   * runtime still writes at version 2, which has no runtime_events yet. It answers no events
   * until the file is migrated, then picks the table up.
   */
  function eventsReady(): EventStatements | null {
    if (eventStmts) return eventStmts;
    if (!ready() || !db) return null;
    try {
      if (schemaVersion(db) < EVENTS_VERSION) return null;
      eventStmts = {
        byApp: db.prepare(
          `SELECT ${EVENT_COLUMNS} FROM runtime_events WHERE app = ? AND at_ms >= ? AND at_ms < ? ORDER BY at_ms DESC, id DESC LIMIT ?`,
        ),
        all: db.prepare(`SELECT ${EVENT_COLUMNS} FROM runtime_events WHERE at_ms >= ? AND at_ms < ? ORDER BY at_ms DESC, id DESC LIMIT ?`),
      };
      return eventStmts;
    } catch (err) {
      throw wrap(err);
    }
  }

  /** As eventsReady: a file an older runtime writes has no routes until it is migrated. */
  function routesReady(): RouteQueries | null {
    if (routeQueries) return routeQueries;
    if (!ready() || !db) return null;
    try {
      if (schemaVersion(db) < ROUTES_VERSION) return null;
      routeQueries = prepareRouteQueries(db);
      return routeQueries;
    } catch (err) {
      throw wrap(err);
    }
  }

  /** The runs whose span may touch [fromMs, toMs); null before the file has the table. */
  function runs(fromMs: number, toMs: number): InstanceSpan[] | null {
    if (!ready() || !db) return null;
    try {
      if (!instanceStmt) {
        if (schemaVersion(db) < INSTANCES_VERSION) return null;
        // A running instance counts up to seen_ms + one heartbeat: 60 s of slack covers it.
        instanceStmt = db.prepare('SELECT started_ms, seen_ms, stopped FROM instances WHERE seen_ms >= ? - 60000 AND started_ms < ?');
      }
      return instanceStmt.all(fromMs, toMs).map((r) => ({ startedMs: r.started_ms, seenMs: r.seen_ms, stopped: r.stopped === 1 }));
    } catch (err) {
      throw wrap(err);
    }
  }

  /**
   * Any failure drops the connection, so the next read opens the path again: a connection kept
   * on a damaged file stays on its inode, and never sees the good file renamed over it.
   */
  function wrap(err: unknown): Error {
    forget();
    if (isDragonError(err)) return err;
    return new errors.DOW_ERR_STORE(path, err instanceof Error ? err.message : String(err));
  }

  function forget(): void {
    stmts = null;
    eventStmts = null;
    routeQueries = null;
    instanceStmt = null;
    try {
      db?.close();
    } catch {
      // Closing a connection to a damaged file may fail too; it is dropped all the same.
    }
    db = null;
  }

  function query(app: string, resMs: number, loMs: number, hiMs: number): RollupRow[] {
    const s = ready();
    if (!s) return [];
    try {
      return s.rollups.all(app, resMs, loMs, hiMs);
    } catch (err) {
      throw wrap(err);
    }
  }

  function percentiles(h: LatencyHistogram): Percentiles {
    return { p50: toMs(h.percentile(0.5)), p95: toMs(h.percentile(0.95)), p99: toMs(h.percentile(0.99)) };
  }

  function point(t: number, row: RollupRow | undefined): SeriesPoint {
    if (!row) {
      const none = { p50: null, p95: null, p99: null };
      return { t, count: 0, status: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 }, rejected: 0, timeouts: 0, aborted: 0, service: none, queue: { ...none } };
    }
    service.reset();
    queue.reset();
    service.mergeEncoded(row.service_hist);
    queue.mergeEncoded(row.queue_hist);
    return {
      t,
      count: row.count,
      status: { '1xx': row.s1xx, '2xx': row.s2xx, '3xx': row.s3xx, '4xx': row.s4xx, '5xx': row.s5xx },
      rejected: row.rejected,
      timeouts: row.timeouts,
      aborted: row.aborted,
      service: percentiles(service),
      queue: percentiles(queue),
    };
  }

  return {
    series(app, fromMs, toMs): Series {
      const stepMs = seriesResolution(toMs - fromMs);
      const first = Math.floor(fromMs / stepMs) * stepMs;
      const rows = query(app, stepMs, first, toMs);
      const points: SeriesPoint[] = [];
      let k = 0;
      for (let t = first; t < toMs; t += stepMs) {
        const row = rows[k]?.bucket_ms === t ? rows[k++] : undefined;
        points.push(point(t, row));
      }
      return { app, fromMs, toMs, stepMs, points };
    },

    summary(app, fromMs, toMs): WindowSummary {
      service.reset();
      queue.reset();
      let count = 0, s5xx = 0, rejected = 0, timeouts = 0, aborted = 0;
      for (const range of coverWindow(fromMs, toMs)) {
        for (const row of query(app, range.resMs, range.loMs, range.hiMs)) {
          count += row.count;
          s5xx += row.s5xx;
          rejected += row.rejected;
          timeouts += row.timeouts;
          aborted += row.aborted;
          service.mergeEncoded(row.service_hist);
          queue.mergeEncoded(row.queue_hist);
        }
      }
      // The rate is over the time some run was recording, not the whole window: a window that
      // holds a previous run's rows, a stop and 2 s of this run is not 2 s long, nor 5 min.
      // Files written before runs were recorded fall back to the whole window.
      const spans = runs(fromMs, toMs);
      const recorded = spans === null || spans.length === 0 ? null : recordedMs(spans, fromMs, toMs);
      const seconds = (recorded ?? toMs - fromMs) / 1000;
      return {
        app,
        fromMs,
        toMs,
        count,
        errorRate: count === 0 ? null : s5xx / count,
        // Under a second recorded: the count over one second rather than a huge quotient.
        reqPerS: seconds > 0 ? count / Math.max(seconds, 1) : 0,
        recordedMs: recorded,
        runs: spans?.filter((r) => recordedMs([r], fromMs, toMs) > 0).length ?? null,
        rejected,
        timeouts,
        aborted,
        service: percentiles(service),
        queue: percentiles(queue),
      };
    },

    audit(options = {}): AuditEntry[] {
      const s = ready();
      if (!s) return [];
      const app = options.app ?? null;
      try {
        return s.audit.all(app, app, options.sinceMs ?? 0, options.limit ?? DEFAULT_AUDIT_LIMIT).map((r) => ({
          id: r.id as number,
          atMs: r.at_ms as number,
          app: r.app as string,
          oldThreads: r.old_threads as number,
          newThreads: r.new_threads as number,
          source: r.source as string,
        }));
      } catch (err) {
        throw wrap(err);
      }
    },

    events(options = {}): EventEntry[] {
      const s = eventsReady();
      if (!s) return [];
      const sinceMs = options.sinceMs ?? 0;
      const untilMs = options.untilMs ?? Number.MAX_SAFE_INTEGER;
      const limit = options.limit ?? DEFAULT_AUDIT_LIMIT;
      try {
        const rows = options.app === undefined ? s.all.all(sinceMs, untilMs, limit) : s.byApp.all(options.app, sinceMs, untilMs, limit);
        return rows.map((r) => ({ id: r.id, atMs: r.at_ms, app: r.app, kind: r.kind, pid: r.pid, detail: r.detail, source: r.source }));
      } catch (err) {
        throw wrap(err);
      }
    },

    routes(app, fromMs, toMs) {
      const q = routesReady();
      if (!q) return [];
      try {
        return q.routes(app, fromMs, toMs);
      } catch (err) {
        throw wrap(err);
      }
    },

    routeSeries(app, method, route, fromMs, toMs) {
      const q = routesReady();
      if (!q) return { app, method, route, fromMs, toMs, stepMs: routeSeriesResolution(toMs - fromMs), points: [] };
      try {
        return q.routeSeries(app, method, route, fromMs, toMs);
      } catch (err) {
        throw wrap(err);
      }
    },

    slowest(app, fromMs, toMs, limit) {
      const q = routesReady();
      if (!q) return [];
      try {
        return q.slowest(app, fromMs, toMs, limit);
      } catch (err) {
        throw wrap(err);
      }
    },

    close(): void {
      forget();
    },
  };
}

function toMs(us: number | null): number | null {
  return us === null ? null : us / 1000;
}
