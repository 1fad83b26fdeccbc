/**
 * @module worker-process
 * One worker process as the supervisor sees it: forks it, speaks the IPC protocol, remembers its
 * last figures and when its event loop last answered (read-only outside; its rows: worker-rows).
 * Policy (restarts, hangs, recycling) and each worker's role are the pool's; this file only
 * reports what happened.
 *
 *   starting ──ready──▶ ready ──accept──▶ accepting ──drain──▶ draining ──exit──▶ exited
 *       └──failed / exit / fork failed (no process: 'exited' at once, never a pid 0)─▲
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PackedBatch } from '../store/packed-batch.js';
import { createRowRing, ROW_RING_BYTES, ROW_RING_MIN_BYTES } from '../native/row-ring.js';
import { ROWS_FD, type FromWorker, type ToWorker, type WorkerFigures, type WorkerStartConfig } from './ipc-protocol.js';
import type { WorkerLoad } from './slot-ledger.js';
import { END_WAIT_MS, WorkerRows } from './worker-rows.js';
import { MAX_THREADS } from '../../shared/runtime-control.js';

export type WorkerState = 'starting' | 'ready' | 'accepting' | 'draining' | 'exited';

export interface WorkerEvents {
  ready(worker: WorkerProcess): void;
  failed(worker: WorkerProcess, message: string, stage: 'load' | 'listen'): void;
  exit(worker: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void;
  /** fork() itself failed (EMFILE, EAGAIN, ENOMEM): no process ever existed, so no 'exit' follows. */
  spawnFailed(worker: WorkerProcess, err: NodeJS.ErrnoException): void;
  load(worker: WorkerProcess, load: WorkerLoad): void;
  rows(worker: WorkerProcess, batch: PackedBatch): void;
  /** The rows pipe or ring carried bytes that are not frames: the rest of them are lost. */
  rowsBroken(worker: WorkerProcess, err: Error): void;
  recycle(worker: WorkerProcess, reason: string): void;
  /** It threw outside any request and stopped accepting: it must be drained and replaced. */
  fatal(worker: WorkerProcess, message: string, stack: string): void;
  figures(worker: WorkerProcess, figures: WorkerFigures): void;
  /** Its lease of the app's maxUpgrades is full: answer with grantUpgrades(). */
  upgradesWanted(worker: WorkerProcess, seq: number): void;
  /** It gave back `count` of its lease. */
  upgradesReturned(worker: WorkerProcess, count: number): void;
}

// Same extension as this module: .ts under tsx (tests, development), .js from dist/.
const WORKER_MAIN = fileURLToPath(new URL(`./worker-main${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

/** What a worker is forked as (`user`/`group` in the config). */
export interface WorkerCredentials {
  user: string;
  uid: number;
  gid: number;
  home: string;
}

/**
 * fork() options that make the worker run as `credentials` from its first instruction: libuv
 * drops the supplementary groups, then calls setgid and setuid between fork and exec, so no app
 * code ever runs as root. Once the supervisor has dropped to the same user itself (after start),
 * a fork simply inherits it, with the same empty supplementary groups.
 */
function credentialOptions(credentials: WorkerCredentials | null): { uid?: number; gid?: number; env?: NodeJS.ProcessEnv } {
  if (!credentials || process.getuid?.() !== 0) return {};
  return {
    uid: credentials.uid,
    gid: credentials.gid,
    env: { ...process.env, HOME: credentials.home, USER: credentials.user, LOGNAME: credentials.user },
  };
}

/** Test-runner, watch and inspector flags that take a value, which may follow as its own argument. */
const VALUED_DROPPED_FLAGS = new Set(['--test-name-pattern', '--test-skip-pattern', '--test-reporter', '--test-reporter-destination', '--test-concurrency', '--test-timeout', '--test-shard', '--test-isolation', '--test-coverage-include', '--test-coverage-exclude', '--watch-path', '--inspect-port']);

/**
 * Node flags that load code (tsx, preloads) carry over to workers; test-runner, watch and
 * inspector flags must not, nor a value given as the next argument (`--test-name-pattern x`
 * would leave `x` for the worker to load as its script). execArgv holds no script or program
 * argument, so a next argument that is not a flag is that flag's value.
 */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i] as string;
    if (!/^--(test|watch|inspect)/.test(arg)) {
      kept.push(arg);
      continue;
    }
    const next = execArgv[i + 1];
    if (!arg.includes('=') && next !== undefined && (VALUED_DROPPED_FLAGS.has(arg) || !next.startsWith('-'))) i++;
  }
  return kept;
}

export class WorkerProcess {
  private currentState: WorkerState = 'starting';
  /** Null when fork() threw: there is no process to signal, send to or wait for. */
  private readonly child: ChildProcess | null = null;
  /** Why fork() failed, when it did (then the worker is 'exited' without ever having run). */
  private forkError: NodeJS.ErrnoException | null = null;
  readonly startedAt = Date.now();
  private answeredAt = performance.now();
  /** When the oldest ping it has not answered yet was sent (performance.now()); null: none. */
  private unansweredSince: number | null = null;
  private lastFigures: WorkerFigures | null = null;
  private lastFiguresAt = -Infinity;
  private appKind: string | null = null;
  private readonly rows: WorkerRows;
  private listenedWith: 'native' | 'node' | null = null;
  /** Resolves when the process has exited (settled before the pool hears of it). */
  readonly exit: Promise<void>;
  private exited: () => void = () => {};
  /**
   * Resolves once its IPC channel is closed, so its last message (the figures it sends as it
   * drains or exits) has been read: Node emits 'exit' from SIGCHLD, which can come before them.
   */
  private readonly messagesRead: Promise<void>;
  private channelClosed: () => void = () => {};
  /**
   * Resolves once everything the worker sent has been read, or could not be: every row (its
   * pipe ended, its ring read after its exit) and its last figures (its IPC channel closed).
   */
  readonly settled: Promise<void>;
  /** Resolves once the worker listens on its copy of the socket; rejects if it cannot. */
  readonly listening: Promise<void>;
  private onListening: (err?: Error) => void = () => {};
  private seq = 0;
  /** The app's whole limit as this worker last heard it. */
  private appLimit: number;
  /** The last share and its ledger sequence number sent (null before the first). */
  private sentLimit: [limit: number, seq: number] | null = null;
  private readonly waiters: Array<{ seq: number; resolve(): void }> = [];

  constructor(
    readonly id: number,
    config: WorkerStartConfig,
    private readonly events: WorkerEvents,
    credentials: WorkerCredentials | null = null,
    /** The app's variables (envFile, env), laid over the supervisor's environment. */
    env: Record<string, string> | null = null,
  ) {
    this.appLimit = config.appThreads;
    this.exit = new Promise((resolve) => (this.exited = resolve));
    this.messagesRead = new Promise((resolve) => (this.channelClosed = resolve));
    this.rows = new WorkerRows((batch) => events.rows(this, batch), (err) => events.rowsBroken(this, err));
    this.settled = Promise.all([this.rows.read, this.messagesRead]).then(() => {});
    this.listening = new Promise((resolve, reject) => {
      this.onListening = (err) => (err ? reject(err) : resolve());
    });
    // Only awaited once the worker was told to accept; a worker that never got there is no error.
    this.listening.catch(() => {});
    // Without the timing store the ring still carries the worker's load in its header.
    const ring = config.rowRing ? createRowRing(config.store !== null ? ROW_RING_BYTES : ROW_RING_MIN_BYTES) : null;
    const asUser = credentialOptions(credentials);
    try {
      this.child = fork(WORKER_MAIN, [], {
        serialization: 'advanced',
        execArgv: workerExecArgv(),
        // The ring's memfd lands on ROW_RING_FD (5) in the worker; it is close-on-exec here, so
        // no other child of the supervisor gets it.
        stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe', ...(ring === null ? [] : [ring.fd])],
        ...asUser,
        ...(env === null ? {} : { env: { ...(asUser.env ?? process.env), ...env } }),
      });
    } catch (err) {
      ring?.close();
      // libuv reports most spawn errors as 'error' (below) but throws others (ENOMEM). Reported
      // on the next tick either way, so the pool never sees a failure from inside its own spawn.
      process.nextTick(() => this.onSpawnError(err as NodeJS.ErrnoException));
      return;
    }
    const child = this.child;
    child.on('message', (message: FromWorker) => this.onMessage(message));
    // Every message is emitted before it (both go through nextTick, in the order read).
    child.once('disconnect', () => this.channelClosed());
    if (child.pid === undefined) ring?.close();
    // No stdio when fork() failed (no pid): then there are no rows either.
    this.rows.attach((child.stdio?.[ROWS_FD] ?? null) as Readable | null, child.pid === undefined ? null : ring, config.store !== null);
    child.on('exit', (code, signal) => {
      // Read before its lost rows are counted.
      this.rows.exited();
      // A process the app started may hold the worker's end of the channel open, as of its pipe.
      setTimeout(this.channelClosed, END_WAIT_MS).unref();
      this.currentState = 'exited';
      this.onListening(new Error(`worker ${this.pid} exited (${signal ?? `exit code ${code}`}) before it listened`));
      for (const w of this.waiters.splice(0)) w.resolve();
      this.exited();
      this.events.exit(this, code, signal);
    });
    // Without a pid, fork() failed (EMFILE, ENFILE, EAGAIN, EACCES): Node then emits 'error' on
    // the next tick and never 'exit'. With one, an 'error' is a failed send to a worker that just
    // died, which 'exit' reports.
    child.on('error', (err) => {
      if (child.pid === undefined) this.onSpawnError(err);
    });
    if (child.pid !== undefined) this.send({ type: 'start', config: { ...config, rowRing: ring !== null } });
  }

  /**
   * Its requests running and queued as it last published them (its ring's header, or its rows
   * pipe without one), known without asking it (it may be stuck in a request), and as it died
   * once `settled` resolved; null when its ring or pipe carried damage, or when the figures
   * cannot be a real load (`maxQueued`: the app's queue).
   */
  load(maxQueued: number): { running: number; queued: number } | null {
    const load = this.rows.load();
    if (load === null) return null;
    const [running, queued] = load;
    return running <= MAX_THREADS && queued <= maxQueued ? { running, queued } : null;
  }

  private onSpawnError(err: NodeJS.ErrnoException): void {
    if (this.currentState === 'exited') return;
    this.currentState = 'exited';
    this.rows.never();
    this.channelClosed();
    this.forkError = err;
    this.onListening(err);
    for (const w of this.waiters.splice(0)) w.resolve();
    this.exited();
    this.events.spawnFailed(this, err);
  }

  get state(): WorkerState {
    return this.currentState;
  }

  /** Why fork() failed, when it did (then the worker is 'exited' without ever having run). */
  get spawnError(): NodeJS.ErrnoException | null {
    return this.forkError;
  }

  /** When its event loop last answered (performance.now()): any message counts. */
  get lastAnswerAt(): number {
    return this.answeredAt;
  }

  /** Its last figures (heartbeat, drain, exit); null before the first. */
  get figures(): WorkerFigures | null {
    return this.lastFigures;
  }

  /** When `figures` arrived (performance.now()). */
  get figuresAt(): number {
    return this.lastFiguresAt;
  }

  /** The pool found its figures unusable: left out from here on, until the next ones. */
  dropFigures(): void {
    this.lastFigures = null;
  }

  /** What the worker's loader recognised the app as, once ready. */
  get kind(): string | null {
    return this.appKind;
  }

  /** Which I/O serves its copy of the socket, once it listens. */
  get io(): 'native' | 'node' | null {
    return this.listenedWith;
  }

  /** Rows read from its ring and its pipe together. */
  get rowsReceived(): number {
    return this.rows.received;
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  get alive(): boolean {
    return this.currentState !== 'exited';
  }

  accept(handle: object): void {
    this.currentState = 'accepting';
    this.child?.send({ type: 'accept' } satisfies ToWorker, handle as never);
  }

  setLimit(limit: number, seq: number, appLimit: number): void {
    this.appLimit = appLimit;
    this.sentLimit = [limit, seq];
    this.send({ type: 'limit', limit, seq, appLimit: this.appLimit });
  }

  /** The app's whole limit changed: sent again with the share it has (an unchanged share sends nothing else). */
  setAppLimit(appLimit: number): void {
    if (appLimit === this.appLimit) return;
    this.appLimit = appLimit;
    if (this.sentLimit !== null) this.send({ type: 'limit', limit: this.sentLimit[0], seq: this.sentLimit[1], appLimit });
  }

  /** Asks for fresh figures; resolves when they arrive, the worker exits, or `timeoutMs` passes. */
  collect(timeoutMs: number): Promise<void> {
    if (!this.alive) return Promise.resolve();
    const seq = this.ping();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const waiter = { seq, resolve: done };
      this.waiters.push(waiter);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  /** How long a ping it was sent has gone unanswered (0: it answered the last one). */
  unansweredFor(now: number): number {
    return this.unansweredSince === null ? 0 : now - this.unansweredSince;
  }

  ping(): number {
    const seq = ++this.seq;
    this.unansweredSince ??= performance.now();
    this.send({ type: 'ping', seq });
    return seq;
  }

  /** A connection the supervisor accepted while stopping; the worker serves it. */
  handOver(socket: Socket): void {
    if (!this.child?.connected) return void socket.destroy();
    this.child.send({ type: 'conn' } satisfies ToWorker, socket, { keepOpen: false }, (err) => {
      if (err) socket.destroy();
    });
  }

  stopAccepting(): void {
    this.send({ type: 'stopAccepting' });
  }

  drain(timeoutMs: number, upgradeTimeoutMs: number, stopping: boolean): void {
    if (this.currentState === 'exited') return;
    this.currentState = 'draining';
    this.send({ type: 'drain', timeoutMs, upgradeTimeoutMs, stopping });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.alive) this.child?.kill(signal);
  }

  /** The answer to its upgradesWanted `seq`. */
  grantUpgrades(seq: number, count: number): void {
    this.send({ type: 'upgradesGranted', seq, count });
  }

  /** Asks it to give back its unused lease of upgraded connections. */
  reclaimUpgrades(): void {
    this.send({ type: 'upgradesReclaim' });
  }

  private send(message: ToWorker): void {
    if (this.child?.connected) this.child.send(message);
  }

  private onMessage(message: FromWorker): void {
    this.answeredAt = performance.now();
    this.unansweredSince = null;
    switch (message.type) {
      case 'ready':
        this.currentState = 'ready';
        this.appKind = message.kind ?? null;
        this.events.ready(this);
        break;
      case 'listening':
        this.listenedWith = message.io;
        this.onListening();
        break;
      case 'failed':
        if (message.stage === 'listen') this.onListening(new Error(message.message));
        this.events.failed(this, message.message, message.stage);
        break;
      case 'pong':
      case 'drained':
      case 'exiting':
        this.lastFigures = message.figures;
        this.lastFiguresAt = this.answeredAt;
        this.events.figures(this, message.figures);
        if (message.type === 'pong') {
          for (let i = this.waiters.length - 1; i >= 0; i--) {
            const w = this.waiters[i] as { seq: number; resolve(): void };
            if (w.seq <= message.seq) {
              this.waiters.splice(i, 1);
              w.resolve();
            }
          }
        }
        break;
      case 'load':
        this.events.load(this, message.load);
        break;
      case 'recycle':
        this.events.recycle(this, message.reason);
        break;
      case 'fatal':
        this.events.fatal(this, message.message, message.stack);
        break;
      case 'upgradesWanted':
        this.events.upgradesWanted(this, message.seq);
        break;
      case 'upgradesReturned':
        this.events.upgradesReturned(this, message.count);
        break;
    }
  }
}
