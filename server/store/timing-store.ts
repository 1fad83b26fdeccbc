/**
 * @module timing-store
 * The runtime's timing store: record() only packs a row into a bounded buffer; a worker thread
 * does all SQLite work. Nothing here throws into the request path.
 */
import type { InstanceInfo } from '../../shared/store/instances.js';
import type { Worker } from 'node:worker_threads';
import { errors } from '../../shared/errors.js';
import type { CommandAnswer, ThreadsCommand } from '../../shared/store/threads-commands.js';
import type { LimitChange, RuntimeEvent, RuntimeEventKind, TimingRecorder, TimingRow, WorkersChange } from '../../shared/timing-row.js';
import type { FromWorker, ToWorker, WorkerConfig } from './protocol.js';
import { createRateLimitedLog, type StoreLogger } from './rate-limited-log.js';
import { DEFAULT_RETENTION, type Retention } from './retention.js';
import type { SavedLimit, SavedSetting } from './limit-restore.js';
import type { PackedBatch } from './packed-batch.js';
import { RowBuffer } from './row-buffer.js';
import { spawnStoreWorker } from './spawn-worker.js';

/** What persistLimits restores, per app. */
export interface SavedSettings {
  threads: Map<string, SavedLimit>;
  workers: Map<string, SavedSetting>;
}

export interface TimingStoreOptions {
  path: string;
  flushIntervalMs?: number;
  batchSize?: number;
  /** Rows held in memory (buffered and not yet written) before new rows are dropped. */
  bufferRows?: number;
  recordPaths?: boolean;
  maxPathLength?: number;
  retention?: Partial<Retention>;
  logger?: StoreLogger;
  /** Longest wait between two attempts to reopen or rewrite a failing database. */
  retryMaxMs?: number;
  pruneIntervalMs?: number;
  checkpointIntervalMs?: number;
  /** How often the writer checks that the file at `path` is still the one it has open. */
  fileCheckIntervalMs?: number;
  /** This server run as registered in the store; defaults to this process (tests pin a past one). */
  instance?: InstanceInfo;
}

/** Applies a thread-limit change asked for through threads_commands; resolves with the old limit. */
export type ThreadsCommandHandler = (command: ThreadsCommand) => Promise<{ oldThreads: number }> | { oldThreads: number };

export interface TimingStore extends TimingRecorder {
  /** Rows a worker process packed: gathered into the store's own batch without row objects. */
  recordBatch(batch: PackedBatch): void;
  onThreadsCommand(handler: ThreadsCommandHandler): void;
  /** Last audited limit per app, for restoring limits across restarts. */
  latestLimits(): Promise<Map<string, SavedLimit>>;
  /** The same, with the last worker count per app (persistLimits restores both). */
  latestSettings(): Promise<SavedSettings>;
  /** Whether rows are being written now (for /readyz); not writable while writes fail or it restarts. */
  health(): { writable: boolean; reason: string };
  /**
   * Settles once the first open succeeded (null) or failed (why): the start's INFO or ERROR line.
   * A store that cannot write never stops serving, but it must not look like one that does.
   */
  readonly started: Promise<string | null>;
}

export const STORE_DEFAULTS = {
  flushIntervalMs: 200,
  batchSize: 1000,
  bufferRows: 50_000,
  recordPaths: true,
  maxPathLength: 200,
  retryMaxMs: 10_000,
  pruneIntervalMs: 10_000,
  checkpointIntervalMs: 1000,
  fileCheckIntervalMs: 1000,
} as const;

const RESTART_MIN_MS = 250;
/** Audit entries (limit changes, runtime events) held while the writer thread restarts. */
const MAX_PENDING_AUDIT = 1000;
/** A detail is a reason (`exit code 1`, a load error's message), not a stack trace to keep. */
export const MAX_EVENT_DETAIL_CHARS = 500;
const MAX_EVENT_SOURCE_CHARS = 200;
const silent: StoreLogger = { warn() {}, error() {}, info() {} };

export function createTimingStore(options: TimingStoreOptions): TimingStore {
  const o = { ...STORE_DEFAULTS, ...options };
  const config: WorkerConfig = {
    path: o.path,
    retention: { ...DEFAULT_RETENTION, ...options.retention },
    retryMaxMs: o.retryMaxMs,
    pruneIntervalMs: o.pruneIntervalMs,
    checkpointIntervalMs: o.checkpointIntervalMs,
    fileCheckIntervalMs: o.fileCheckIntervalMs,
    // The process's start, not the store's: rows and the rate's span belong to the server run.
    instance: options.instance ?? { startedMs: Math.round(performance.timeOrigin), pid: process.pid },
  };
  const log = createRateLimitedLog(options.logger ?? silent);
  const buffer = new RowBuffer({
    flushIntervalMs: o.flushIntervalMs,
    batchSize: o.batchSize,
    capacityRows: Math.max(o.bufferRows, 1),
    recordPaths: o.recordPaths,
    maxPathLength: o.maxPathLength,
    send(batch) {
      if (!worker) {
        buffer.settle(batch.rows);
        buffer.countDropped(batch.rows);
        log('warn', 'no writer', 'timing store: writer thread not running, rows dropped', { rows: batch.rows });
        return;
      }
      // Its numbers are in shared memory (RowBuffer packs them so), not transferred: a transfer
      // detaches the ArrayBuffer, and the first detach in a process makes V8 deoptimise and
      // recompile every typed-array loop of the apps it hosts.
      worker.postMessage({ type: 'rows', batch } satisfies ToWorker);
    },
  });

  let worker: Worker | null = null;
  let rowsWritten = 0;
  let errorCount = 0;
  /** The last write error while writes are failing (cleared by the next success), for /readyz. */
  let failing: string | null = null;
  let closing = false;
  let closePromise: Promise<void> | null = null;
  let restartTimer: NodeJS.Timeout | null = null;
  let restartDelayMs = 0;
  let handler: ThreadsCommandHandler | null = null;
  let nextReqId = 1;
  // One queue for every kind, so they reach the writer in the order they happened.
  const pendingAudit: Array<Extract<ToWorker, { type: 'limit' | 'event' | 'workers' }>> = [];
  const questions = new Map<number, { resolve(saved: SavedSettings): void; reject(e: Error): void }>();
  let exited: () => void = () => {};
  /** The writer thread has the database open now (false while it starts, restarts or fails to open). */
  let open = false;
  let settleStart: (failure: string | null) => void = () => {};
  const started = new Promise<string | null>((resolve) => (settleStart = resolve));
  let startSettled = false;

  /** The first outcome of opening the store: an ERROR with what to do if it failed. */
  function startOutcome(failure: string | null): void {
    if (startSettled) return;
    startSettled = true;
    settleStart(failure);
    holdWhileAwaited();
    if (failure !== null) {
      const err = new errors.DOW_ERR_STORE(o.path, failure);
      (options.logger ?? silent).error({ path: o.path, code: err.code },
        `timing store ${o.path} cannot be written (${failure}): serving goes on, but no timing is recorded and rows are counted in store_dropped; /readyz answers 503 until it can. Fix the folder's permissions or the path (store.path), rebuild better-sqlite3 for this Node (npm rebuild better-sqlite3), or set store: false`);
    }
  }

  const lostAtClose = { rows: 0, reason: '' };

  /**
   * Recording alone must not keep the process alive, but an answer someone awaits must come:
   * the writer thread is ref'd while the start's outcome, a question or the close is pending.
   */
  function holdWhileAwaited(): void {
    if (worker === null) return;
    if (closing || !startSettled || questions.size > 0) worker.ref();
    else worker.unref();
  }

  function post(msg: ToWorker): void {
    worker?.postMessage(msg);
  }

  function onMessage(msg: FromWorker): void {
    switch (msg.type) {
      case 'opened':
        open = true;
        failing = null;
        startOutcome(null);
        break;
      case 'replaced':
        open = false;
        errorCount++;
        failing = `file ${msg.how} under the server; reopening`;
        // Not rate-limited away: the history before this moment is in the old file, not here.
        (options.logger ?? silent).error({ path: o.path, code: 'DOW_ERR_STORE' }, `timing store ${o.path}: the file was ${msg.how} while open (its rows went with it); writing to a new file at the path`);
        break;
      case 'written':
        rowsWritten += msg.rows;
        buffer.settle(msg.rows);
        failing = null;
        restartDelayMs = 0;
        break;
      case 'dropped':
        // One message per batch the writer could not write at close: summed and said once at
        // 'closed' (a line per batch would be rate-limited to the first batch's count).
        buffer.settle(msg.rows);
        buffer.countDropped(msg.rows);
        lostAtClose.rows += msg.rows;
        lostAtClose.reason = msg.reason;
        break;
      case 'error':
        errorCount++;
        failing = `${msg.reason}: ${msg.message}`;
        if (msg.reason.startsWith('open ')) open = false;
        startOutcome(failing);
        log('warn', msg.reason, `timing store ${o.path}: ${msg.message}; retrying`, { path: o.path });
        break;
      case 'recovered':
        failing = null;
        log('info', 'recovered', `timing store ${o.path}: writing again after ${msg.afterErrors} failed attempts`);
        break;
      case 'latestLimits': {
        const q = questions.get(msg.reqId);
        questions.delete(msg.reqId);
        holdWhileAwaited();
        if (msg.limits) q?.resolve({ threads: new Map(msg.limits), workers: new Map(msg.workers ?? []) });
        else q?.reject(new errors.DOW_ERR_STORE(o.path, msg.error ?? 'no answer'));
        break;
      }
      case 'command':
        answer(msg.command);
        break;
      case 'closed':
        reportLostAtClose();
        break;
    }
  }

  function reportLostAtClose(): void {
    if (lostAtClose.rows === 0) return;
    (options.logger ?? silent).error({ reason: 'dropped at close', path: o.path, rows: lostAtClose.rows }, `timing store: ${lostAtClose.rows} rows lost at close: ${lostAtClose.reason}`);
    lostAtClose.rows = 0;
  }

  function answer(command: ThreadsCommand): void {
    const h = handler;
    const reply = (a: CommandAnswer): void => post({ type: 'commandAnswer', id: command.id, answer: a });
    if (!h) return reply({ error: 'no handler' });
    Promise.resolve()
      .then(() => h(command))
      .then(
        (r) => reply({ oldThreads: r.oldThreads }),
        (err: unknown) => reply({ error: err instanceof Error ? err.message : String(err) }),
      );
  }

  function start(): void {
    restartTimer = null;
    const w = spawnStoreWorker(config);
    worker = w;
    w.on('message', onMessage);
    w.on('error', (err) => {
      errorCount++;
      // The thread could not even start (better-sqlite3 built for another Node, say).
      failing = `writer thread failed: ${err.message}`;
      startOutcome(failing);
      log('error', 'worker', `timing store writer thread failed: ${err.message}`, { path: o.path });
    });
    w.on('exit', () => {
      worker = null;
      open = false;
      for (const q of questions.values()) q.reject(new errors.DOW_ERR_STORE(o.path, 'writer thread stopped'));
      questions.clear();
      const lost = buffer.loseInFlight();
      if (closing) {
        reportLostAtClose();
        return exited();
      }
      if (lost > 0) log('error', 'worker exit', `timing store: writer thread exited, ${lost} rows lost`);
      restartDelayMs = Math.min(Math.max(restartDelayMs * 2, RESTART_MIN_MS), o.retryMaxMs);
      restartTimer = setTimeout(start, restartDelayMs);
      restartTimer.unref();
    });
    for (const msg of pendingAudit.splice(0)) post(msg);
    if (handler) post({ type: 'pollCommands' });
    // After the listeners: adding a 'message' listener refs the worker's port again.
    holdWhileAwaited();
  }

  function latestSettings(): Promise<SavedSettings> {
    return new Promise((resolve, reject) => {
      if (!worker || closing) return reject(new errors.DOW_ERR_STORE(o.path, 'writer thread not running'));
      const reqId = nextReqId++;
      questions.set(reqId, { resolve, reject });
      holdWhileAwaited();
      post({ type: 'latestLimits', reqId });
    });
  }

  function audit(msg: Extract<ToWorker, { type: 'limit' | 'event' | 'workers' }>): void {
    if (closing) return;
    if (worker) post(msg);
    else if (pendingAudit.length < MAX_PENDING_AUDIT) pendingAudit.push(msg);
  }

  start();

  return {
    record(row: TimingRow): void {
      if (closing) {
        buffer.countDropped(1);
        return;
      }
      try {
        buffer.push(row);
      } catch (err) {
        // A malformed row from a caller bug: count it, never throw into the request path.
        buffer.countDropped(1);
        errorCount++;
        log('error', 'bad row', `timing store: unrecordable row: ${String(err)}`);
      }
    },

    recordBatch(batch: PackedBatch): void {
      if (closing) buffer.countDropped(batch.rows);
      else buffer.pushBatch(batch);
    },

    figures() {
      return { rows: rowsWritten, dropped: buffer.dropped, errors: errorCount };
    },

    health() {
      if (closing) return { writable: false, reason: 'closing' };
      if (failing !== null) return { writable: false, reason: `writes failing (${failing}); retrying` };
      if (!worker) return { writable: false, reason: 'writer thread not running (restarting)' };
      if (!open) return { writable: false, reason: 'opening the database' };
      return { writable: true, reason: '' };
    },

    started,

    recordLimitChange(change: LimitChange): void {
      audit({ type: 'limit', change });
    },

    recordEvent(event: RuntimeEvent): void {
      audit({ type: 'event', event: normalizeEvent(event) });
    },

    recordWorkersChange(change: WorkersChange): void {
      audit({ type: 'workers', change });
    },

    onThreadsCommand(h: ThreadsCommandHandler): void {
      handler = h;
      post({ type: 'pollCommands' });
    },

    async latestLimits(): Promise<Map<string, SavedLimit>> {
      return (await latestSettings()).threads;
    },

    latestSettings,

    close(): Promise<void> {
      closePromise ??= new Promise<void>((resolve) => {
        buffer.flush();
        closing = true;
        if (restartTimer !== null) clearTimeout(restartTimer);
        if (!worker) {
          buffer.loseInFlight();
          return resolve();
        }
        exited = resolve;
        holdWhileAwaited();
        post({ type: 'close' });
      });
      return closePromise;
    },
  };
}

/**
 * The writer retries the job at the head of its queue until it succeeds, so an event the table
 * refuses (a NULL detail from a caller's bug) would hold up every row behind it: coerce the
 * columns to what NOT NULL accepts, and bound the strings.
 */
export function normalizeEvent(e: RuntimeEvent): RuntimeEvent {
  const int = (n: unknown): number => (Number.isFinite(n) ? Math.round(n as number) : 0);
  return {
    app: String(e.app ?? ''),
    atMs: Number.isFinite(e.atMs) ? Math.round(e.atMs) : Date.now(),
    kind: String(e.kind) as RuntimeEventKind,
    pid: int(e.pid),
    detail: String(e.detail ?? '').slice(0, MAX_EVENT_DETAIL_CHARS),
    source: String(e.source ?? '').slice(0, MAX_EVENT_SOURCE_CHARS),
  };
}
