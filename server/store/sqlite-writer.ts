/**
 * @module sqlite-writer
 * Synchronous SQLite writes of the timing store: one transaction per batch (raw rows plus rollup
 * read-modify-write, the read skipped when this writer holds the row: latest-rollups.ts), audit
 * entries, worker counts and runtime events, checkpoints, pruning and the threads_commands answers.
 */
import type Database from 'better-sqlite3';
import { prepareHeartbeat, registerInstance, type InstanceInfo } from '../../shared/store/instances.js';
import { HistogramPool } from '../../shared/histogram.js';
import { openWritableDb } from '../../shared/store/open-db.js';
import { RESOLUTIONS_MS, ROUTE_RESOLUTIONS_MS, type RollupRecord, type RouteRollupRecord } from '../../shared/store/schema.js';
import { answerCommand, pendingCommands, type CommandAnswer, type ThreadsCommand } from '../../shared/store/threads-commands.js';
import type { LimitChange, RuntimeEvent, TimingRow, WorkersChange } from '../../shared/timing-row.js';
import { CONFIG_SOURCE, type SavedLimit, type SavedSetting } from './limit-restore.js';
import { unpack, type PackedBatch } from './packed-batch.js';
import { LatestRollups } from './latest-rollups.js';
import { createPruner, type Retention } from './retention.js';
import { aggregate, mergeCell } from './rollup-delta.js';
import { RouteBound } from './route-bound.js';
import { aggregateRoutes, mergeRouteCell, type RouteCell } from './route-rollup-delta.js';

/** WAL growth bound: after a checkpoint resets it, the file is truncated to this. */
const JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * Rows per INSERT statement: one statement call per row was the worker's largest cost (0.76 µs a
 * row); 50 rows x 12 columns stays far below SQLite's bound-parameter limit.
 */
const ROWS_PER_INSERT = 50;

/** Enough for the cells of a batch of 20 routes over two apps, or of 400 apps without routes. */
const SPARE_HISTOGRAMS = 400;

/** The run (instances.id) is one more bound integer per row: no extra statement, no lookup. */
function pushRow(params: unknown[], row: TimingRow, instanceId: number): void {
  params.push(row.app, row.startMs, row.queueMs, row.serviceMs, row.status, row.outcome, row.bytesIn, row.bytesOut, row.method, row.path, instanceId, row.route ?? null);
}

export class SqliteWriter {
  private readonly insertRow: Database.Statement;
  private readonly insertRows: Database.Statement;
  private readonly getRollup: Database.Statement<[string, number, number], RollupRecord>;
  private readonly putRollup: Database.Statement<[RollupRecord]>;
  private readonly getRouteRollup: Database.Statement<[string, number, number, string, string], RouteRollupRecord>;
  private readonly putRouteRollup: Database.Statement<[RouteRollupRecord]>;
  private readonly routeBound: RouteBound;
  /** A batch's rollup cells borrow their histograms here (bounded: 6 MB of spares at most). */
  private readonly histograms = new HistogramPool(SPARE_HISTOGRAMS);
  private readonly latestRollups = new LatestRollups<RollupRecord>();
  private readonly latestRouteRollups = new LatestRollups<RouteRollupRecord>();
  private readonly dataVersion: Database.Statement<[], number>;
  private seenDataVersion = -1;
  private readonly insertLimit: Database.Statement;
  private readonly insertEvent: Database.Statement;
  private readonly latest: Database.Statement<[], SavedLimit & { app: string }>;
  private readonly insertWorkers: Database.Statement;
  private readonly latestWorkersStmt: Database.Statement<[], SavedSetting & { app: string }>;
  readonly pruneStep: (nowMs?: number) => number;
  private readonly heartbeatStmt: (id: number, nowMs: number, stopped: boolean) => void;
  /** This run's row in `instances`; kept across reopens after an error (the same run goes on). */
  readonly instanceId: number;

  constructor(readonly db: Database.Database, retention: Retention, instance: InstanceInfo, instanceId: number | null = null) {
    // The checkpoint is ours (see checkpoint()): an automatic one runs inside a commit and was
    // measured at 16-20 ms, which we keep off any schedule we do not control.
    db.pragma('wal_autocheckpoint = 0');
    db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
    const insert = 'INSERT INTO requests (app, start_ms, queue_ms, service_ms, status, outcome, bytes_in, bytes_out, method, path, instance_id, route) VALUES ';
    const oneRow = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
    this.insertRow = db.prepare(insert + oneRow);
    this.insertRows = db.prepare(insert + Array(ROWS_PER_INSERT).fill(oneRow).join(', '));
    this.getRollup = db.prepare('SELECT * FROM rollups WHERE app = ? AND res_ms = ? AND bucket_ms = ?');
    this.putRollup = db.prepare(
      `INSERT OR REPLACE INTO rollups (app, res_ms, bucket_ms, count, s1xx, s2xx, s3xx, s4xx, s5xx, rejected, timeouts, aborted,
         service_count, service_sum_ms, service_min_ms, service_max_ms, service_hist, queue_hist)
       VALUES (@app, @res_ms, @bucket_ms, @count, @s1xx, @s2xx, @s3xx, @s4xx, @s5xx, @rejected, @timeouts, @aborted,
         @service_count, @service_sum_ms, @service_min_ms, @service_max_ms, @service_hist, @queue_hist)`,
    );
    this.getRouteRollup = db.prepare('SELECT * FROM route_rollups WHERE app = ? AND res_ms = ? AND bucket_ms = ? AND method = ? AND route = ?');
    this.putRouteRollup = db.prepare(
      `INSERT OR REPLACE INTO route_rollups (app, res_ms, bucket_ms, method, route, count, errors, service_count, service_sum_ms, service_hist)
       VALUES (@app, @res_ms, @bucket_ms, @method, @route, @count, @errors, @service_count, @service_sum_ms, @service_hist)`,
    );
    const loadRoutes = db.prepare<[string], { method: string; route: string }>('SELECT method, route FROM routes WHERE app = ?');
    const saveRoute = db.prepare<[string, string, string]>('INSERT OR IGNORE INTO routes (app, method, route) VALUES (?, ?, ?)');
    this.routeBound = new RouteBound({ load: (app) => loadRoutes.all(app), save: (app, method, route) => saveRoute.run(app, method, route) });
    this.insertLimit = db.prepare(
      'INSERT INTO limit_changes (at_ms, app, old_threads, new_threads, source) VALUES (?, ?, ?, ?, ?)',
    );
    this.insertEvent = db.prepare(
      'INSERT INTO runtime_events (at_ms, app, kind, pid, detail, source) VALUES (?, ?, ?, ?, ?, ?)',
    );
    // The last change per app, and the config's value as of the last start that recorded it.
    this.latest = db.prepare(
      `SELECT l.app, l.new_threads AS threads, l.old_threads AS oldThreads, l.source, l.at_ms AS atMs,
         (SELECT c.new_threads FROM limit_changes c WHERE c.app = l.app AND c.source = '${CONFIG_SOURCE}' ORDER BY c.id DESC LIMIT 1) AS configThreads
       FROM limit_changes l WHERE l.id IN (SELECT max(id) FROM limit_changes GROUP BY app)`,
    );
    this.insertWorkers = db.prepare('INSERT INTO worker_changes (at_ms, app, old_workers, new_workers, source) VALUES (?, ?, ?, ?, ?)');
    this.latestWorkersStmt = db.prepare(
      `SELECT w.app, w.new_workers AS value, w.old_workers AS oldValue, w.source, w.at_ms AS atMs,
         (SELECT c.new_workers FROM worker_changes c WHERE c.app = w.app AND c.source = '${CONFIG_SOURCE}' ORDER BY c.id DESC LIMIT 1) AS configValue
       FROM worker_changes w WHERE w.id IN (SELECT max(id) FROM worker_changes GROUP BY app)`,
    );
    this.dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
    const pruneStep = createPruner(db, retention);
    this.pruneStep = (nowMs) => {
      const deleted = pruneStep(nowMs);
      if (deleted > 0) this.forgetRollups();
      return deleted;
    };
    this.heartbeatStmt = prepareHeartbeat(db);
    this.instanceId = instanceId ?? registerInstance(db, instance);
  }

  /** Marks this run as recording until now; `stopped` at a clean close. */
  heartbeat(nowMs = Date.now(), stopped = false): void {
    this.heartbeatStmt(this.instanceId, nowMs, stopped);
  }

  /** Raw rows and their rollups, all or nothing. */
  writeRows(batch: PackedBatch): void {
    // Unpacked once: the same rows feed the raw inserts and the rollups.
    const rows = [...unpack(batch)];
    const cells = aggregate(rows, RESOLUTIONS_MS, this.histograms);
    const routeCells: RouteCell[] = [];
    try {
      this.db.transaction(() => {
        // The write lock is held from here: another connection's commit is either seen now or
        // comes after this one.
        const version = this.dataVersion.get() as number;
        if (version !== this.seenDataVersion) this.forgetRollups();
        this.seenDataVersion = version;
        // Bounded first (it may add to `routes`, in this transaction): raw rows and rollups then agree.
        for (const row of rows) {
          if (row.route !== undefined && row.route !== null) row.route = this.routeBound.place(row.app, row.method, row.route);
        }
        this.insertRaw(rows);
        for (const cell of cells) {
          const series = JSON.stringify([cell.app, cell.resMs]);
          const record = mergeCell(cell, this.latestRollups.get(series, cell.bucketMs) ?? this.getRollup.get(cell.app, cell.resMs, cell.bucketMs));
          this.putRollup.run(record);
          this.latestRollups.stage(series, record);
        }
        routeCells.push(...aggregateRoutes(rows, ROUTE_RESOLUTIONS_MS, this.histograms));
        for (const c of routeCells) {
          const series = JSON.stringify([c.app, c.resMs, c.method, c.route]);
          const record = mergeRouteCell(c, this.latestRouteRollups.get(series, c.bucketMs) ?? this.getRouteRollup.get(c.app, c.resMs, c.bucketMs, c.method, c.route));
          this.putRouteRollup.run(record);
          this.latestRouteRollups.stage(series, record);
        }
      }).immediate();
      this.latestRollups.committed();
      this.latestRouteRollups.committed();
    } catch (err) {
      this.latestRollups.dropStaged();
      this.latestRouteRollups.dropStaged();
      throw err;
    } finally {
      // Each cell's histograms are in its stored row by now, or the batch failed: free to reuse.
      for (const cell of cells) (this.histograms.give(cell.service), this.histograms.give(cell.queue));
      for (const cell of routeCells) this.histograms.give(cell.service);
    }
  }

  /** Whole groups through the many-row statement, the rest one by one. */
  private insertRaw(rows: TimingRow[]): void {
    const params: unknown[] = [];
    let done = 0;
    for (; done + ROWS_PER_INSERT <= rows.length; done += ROWS_PER_INSERT) {
      params.length = 0;
      for (let i = done; i < done + ROWS_PER_INSERT; i++) pushRow(params, rows[i]!, this.instanceId);
      this.insertRows.run(params);
    }
    for (; done < rows.length; done++) {
      params.length = 0;
      pushRow(params, rows[done]!, this.instanceId);
      this.insertRow.run(params);
    }
  }

  private forgetRollups(): void {
    this.latestRollups.forget();
    this.latestRouteRollups.forget();
  }

  writeLimitChange(c: LimitChange): void {
    this.insertLimit.run(c.atMs, c.app, c.oldThreads, c.newThreads, c.source);
  }

  writeWorkersChange(c: WorkersChange): void {
    this.insertWorkers.run(c.atMs, c.app, c.oldWorkers, c.newWorkers, c.source);
  }

  writeEvent(e: RuntimeEvent): void {
    this.insertEvent.run(e.atMs, e.app, e.kind, e.pid, e.detail, e.source);
  }

  latestLimits(): Array<[string, SavedLimit]> {
    return this.latest.all().map(({ app, ...saved }) => [app, saved]);
  }

  latestWorkers(): Array<[string, SavedSetting]> {
    return this.latestWorkersStmt.all().map(({ app, ...saved }) => [app, saved]);
  }

  pendingCommands(): ThreadsCommand[] {
    return pendingCommands(this.db);
  }

  answerCommand(id: number, answer: CommandAnswer): void {
    answerCommand(this.db, id, answer);
  }

  /** PASSIVE never waits for readers; a reader holding an old snapshot only delays the reset. */
  checkpoint(): void {
    this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  close(): void {
    this.db.close();
  }
}

export function openWriter(path: string, retention: Retention, instance: InstanceInfo, instanceId: number | null = null): SqliteWriter {
  const db = openWritableDb(path);
  try {
    return new SqliteWriter(db, retention, instance, instanceId);
  } catch (err) {
    db.close();
    throw err;
  }
}
