/**
 * @module store-worker
 * The timing store's writer thread: owns the only writable connection of the runtime, writes
 * batches in order, checkpoints and prunes on its own schedule, and reopens with backoff on errors.
 */
import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { INSTANCE_HEARTBEAT_MS } from '../../shared/store/instances.js';
import { COMMAND_MAX_AGE_MS, COMMAND_POLL_MS, type CommandAnswer } from '../../shared/store/threads-commands.js';
import type { LimitChange, RuntimeEvent, WorkersChange } from '../../shared/timing-row.js';
import type { PackedBatch } from './packed-batch.js';
import type { FromWorker, ToWorker, WorkerConfig } from './protocol.js';
import { openWriter, type SqliteWriter } from './sqlite-writer.js';

const RETRY_MIN_MS = 100;
/** At close, a failing database gets this many more tries before its rows are given up. */
const CLOSE_ATTEMPTS = 3;
const CLOSE_RETRY_MS = 200;

type Job =
  | { kind: 'rows'; batch: PackedBatch }
  | { kind: 'limit'; change: LimitChange }
  | { kind: 'event'; event: RuntimeEvent }
  | { kind: 'workers'; change: WorkersChange }
  | { kind: 'latest'; reqId: number }
  | { kind: 'answer'; id: number; answer: CommandAnswer };

const config = workerData as WorkerConfig;
const port = parentPort!;
const send = (msg: FromWorker): void => port.postMessage(msg);

/*
 * Jobs run strictly in arrival order, so an audit entry recorded before latestLimits() is seen by
 * it. A job stays at the head of the queue until it succeeds; the main thread bounds the queue by
 * counting unacknowledged rows against its buffer size.
 */
const jobs: Job[] = [];
let writer: SqliteWriter | null = null;
/** The file the writer has open, by identity: a path removed or renamed over keeps "writing". */
let openedFile: { dev: number; ino: number } | null = null;
/** This run's id in `instances`, registered at the first open and kept across reopens. */
let instanceId: number | null = null;
let retryTimer: NodeJS.Timeout | null = null;
let retryDelayMs = 0;
let failures = 0;
let dirty = false;
let closing = false;
let pruning = false;
let polling = false;
const offered = new Set<number>();

function fail(stage: string, err: unknown): void {
  failures++;
  const code = (err as { code?: unknown }).code;
  const reason = `${stage} ${typeof code === 'string' ? code : 'error'}`;
  send({ type: 'error', reason, message: err instanceof Error ? err.message : String(err) });
  // A busy database is still a good connection; anything else (ENOTDIR, CANTOPEN, CORRUPT,
  // READONLY, FULL...) gets a fresh open, which is what notices that the cause went away.
  if (writer && code !== 'SQLITE_BUSY' && code !== 'SQLITE_LOCKED') {
    try {
      writer.close();
    } catch {
      // already unusable
    }
    writer = null;
  }
}

function open(): SqliteWriter | null {
  if (writer) return writer;
  try {
    writer = openWriter(config.path, config.retention, config.instance, instanceId);
    instanceId = writer.instanceId;
    const st = statSync(config.path);
    openedFile = { dev: st.dev, ino: st.ino };
    send({ type: 'opened' });
  } catch (err) {
    fail('open', err);
  }
  return writer;
}

function run(w: SqliteWriter, job: Job): void {
  switch (job.kind) {
    case 'rows':
      w.writeRows(job.batch);
      dirty = true;
      send({ type: 'written', rows: job.batch.rows });
      break;
    case 'limit':
      w.writeLimitChange(job.change);
      dirty = true;
      break;
    case 'event':
      w.writeEvent(job.event);
      dirty = true;
      break;
    case 'workers':
      w.writeWorkersChange(job.change);
      dirty = true;
      break;
    case 'latest':
      send({ type: 'latestLimits', reqId: job.reqId, limits: w.latestLimits(), workers: w.latestWorkers() });
      break;
    case 'answer':
      w.answerCommand(job.id, job.answer);
      offered.delete(job.id);
      break;
  }
}

/** Runs queued jobs; false when the database failed and a retry is due. */
function drain(): boolean {
  for (;;) {
    const w = open();
    const job = jobs[0];
    if (!w) {
      // A question is answered now rather than after an outage of unknown length.
      if (job?.kind === 'latest') {
        jobs.shift();
        send({ type: 'latestLimits', reqId: job.reqId, error: 'database unavailable' });
        continue;
      }
      return false;
    }
    if (failures > 0) {
      send({ type: 'recovered', afterErrors: failures });
      failures = 0;
    }
    retryDelayMs = 0;
    if (!job) return true;
    // Reopened by the next open() at the top of the loop.
    if (job.kind === 'rows' && fileChanged()) continue;
    try {
      run(w, job);
      jobs.shift();
    } catch (err) {
      fail('write', err);
      if (job.kind === 'latest') {
        jobs.shift();
        send({ type: 'latestLimits', reqId: job.reqId, error: String(err) });
      }
      return false;
    }
  }
}

function kick(): void {
  if (retryTimer !== null || closing) return;
  if (drain()) return;
  retryDelayMs = retryDelayMs === 0 ? RETRY_MIN_MS : Math.min(retryDelayMs * 2, config.retryMaxMs);
  retryTimer = setTimeout(() => {
    retryTimer = null;
    kick();
  }, retryDelayMs);
}

function checkpoint(): void {
  if (!writer || !dirty) return;
  dirty = false;
  try {
    writer.checkpoint();
  } catch (err) {
    fail('checkpoint', err);
  }
}

/** One small transaction per turn of the event loop, so batches interleave with pruning. */
function prune(): void {
  if (pruning || !writer) return;
  pruning = true;
  const step = (): void => {
    if (!writer || closing) {
      pruning = false;
      return;
    }
    try {
      if (writer.pruneStep() > 0) {
        dirty = true;
        setImmediate(step);
        return;
      }
    } catch (err) {
      fail('prune', err);
    }
    pruning = false;
  };
  step();
}

function pollCommands(): void {
  if (!polling || !writer) return;
  try {
    const now = Date.now();
    for (const command of writer.pendingCommands()) {
      if (offered.has(command.id)) continue;
      if (now - command.requestedAtMs > COMMAND_MAX_AGE_MS) {
        writer.answerCommand(command.id, { error: `expired: not applied within ${COMMAND_MAX_AGE_MS} ms` });
        continue;
      }
      offered.add(command.id);
      send({ type: 'command', command });
    }
  } catch (err) {
    fail('commands', err);
  }
}

/** Tells readers this run is still recording (instances.ts), with or without traffic. */
function heartbeat(): void {
  if (!writer || closing) return;
  try {
    writer.heartbeat();
  } catch (err) {
    fail('heartbeat', err);
  }
}

/**
 * SQLite keeps writing to an open file that was deleted or renamed over (logrotate, an operator,
 * a restore): the rows would vanish with it. A stat of the path before each batch (in this
 * thread, never on the request path) and on a timer while idle notices; the writer closes and
 * opens the path afresh (a new file, migrated), so every batch goes to the file at the path.
 * True when it changed.
 */
function fileChanged(): boolean {
  if (!writer || !openedFile || closing) return false;
  let how: 'removed' | 'replaced' | null = null;
  try {
    const st = statSync(config.path);
    if (st.ino !== openedFile.ino || st.dev !== openedFile.dev) how = 'replaced';
  } catch {
    how = 'removed';
  }
  if (how === null) return false;
  send({ type: 'replaced', how });
  openedFile = null;
  try {
    writer.close();
  } catch {
    // the old file is of no more use
  }
  writer = null;
  return true;
}

const timers = [
  setInterval(() => {
    if (fileChanged()) kick();
  }, config.fileCheckIntervalMs),
  setInterval(heartbeat, INSTANCE_HEARTBEAT_MS),
  setInterval(checkpoint, config.checkpointIntervalMs),
  setInterval(prune, config.pruneIntervalMs),
  setInterval(pollCommands, COMMAND_POLL_MS),
];

async function finish(): Promise<void> {
  closing = true;
  for (const t of timers) clearInterval(t);
  if (retryTimer !== null) clearTimeout(retryTimer);
  for (let attempt = 0; !drain(); attempt++) {
    if (attempt >= CLOSE_ATTEMPTS) {
      for (const job of jobs) {
        if (job.kind === 'rows') send({ type: 'dropped', rows: job.batch.rows, reason: 'database unavailable at close' });
        if (job.kind === 'latest') send({ type: 'latestLimits', reqId: job.reqId, error: 'closed' });
      }
      jobs.length = 0;
      break;
    }
    await sleep(CLOSE_RETRY_MS);
  }
  if (writer) {
    try {
      writer.heartbeat(Date.now(), true);
      writer.checkpoint();
      writer.close();
    } catch {
      // closing anyway
    }
    writer = null;
  }
  send({ type: 'closed' });
  port.close();
}

port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'rows':
      jobs.push({ kind: 'rows', batch: msg.batch });
      break;
    case 'limit':
      jobs.push({ kind: 'limit', change: msg.change });
      break;
    case 'event':
      jobs.push({ kind: 'event', event: msg.event });
      break;
    case 'workers':
      jobs.push({ kind: 'workers', change: msg.change });
      break;
    case 'latestLimits':
      jobs.push({ kind: 'latest', reqId: msg.reqId });
      break;
    case 'commandAnswer':
      jobs.push({ kind: 'answer', id: msg.id, answer: msg.answer });
      break;
    case 'pollCommands':
      polling = true;
      return;
    case 'close':
      void finish();
      return;
  }
  kick();
});

// Open at once: creates and migrates the file, and starts the retry loop if that fails.
kick();
