/**
 * @module worker-process
 * One worker process as the supervisor sees it: forks it, speaks the IPC protocol, remembers its
 * last figures and when its event loop last answered. Policy (restarts, hangs, recycling) is the
 * pool's; this file only reports what happened.
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
import { createRowRing, ROW_RING_BYTES, ROW_RING_MIN_BYTES, type RowRing } from '../native/row-ring.js';
import { FrameDecoder } from '../store/row-frames.js';
import { ROWS_FD, type FromWorker, type ToWorker, type WorkerFigures, type WorkerStartConfig } from './ipc-protocol.js';
import type { WorkerLoad } from './slot-ledger.js';
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
}

/**
 * After a worker exits, its last rows are already in the pipe; the pipe's end is awaited this long
 * at most, in case a process the app started inherited the worker's end and keeps it open.
 */
const ROWS_END_WAIT_MS = 1000;
/**
 * How often a worker's row ring is read while it lives: rows then reach the store's batches at
 * most this late (the store itself waits store.flushInterval), and the ring's 4 MiB holds far
 * more than a worker records meanwhile. Once more at its exit, before anything counts its rows.
 */
const RING_READ_MS = 25;

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
  state: WorkerState = 'starting';
  /**
   * The lowest index no other live worker of the pool holds when this one starts: a stable label
   * for its metrics (a replacement takes the place of the worker it replaces), unlike the pid.
   */
  slot = 0;
  /** Null when fork() threw: there is no process to signal, send to or wait for. */
  private readonly child: ChildProcess | null = null;
  /** Why fork() failed, when it did (then the worker is 'exited' without ever having run). */
  spawnError: NodeJS.ErrnoException | null = null;
  readonly startedAt = Date.now();
  lastAnswerAt = performance.now();
  /** When the oldest ping it has not answered yet was sent (performance.now()); null: none. */
  private unansweredSince: number | null = null;
  figures: WorkerFigures | null = null;
  /** When `figures` arrived (performance.now()). */
  figuresAt = -Infinity;
  /** What the worker's loader recognised the app as, once ready. */
  kind: string | null = null;
  /** Rows read from its ring and its pipe together. */
  rowsReceived = 0;
  /** Resolves once every row the worker wrote has been read (its pipe ended, its ring read after its exit), or could not be. */
  readonly rowsRead: Promise<void>;
  private rowsEnded: () => void = () => {};
  private ringDrained: () => void = () => {};
  /** Where its rows go first; null without the native core, or once read for the last time. */
  private ring: RowRing | null = null;
  /** Its ring's load word as it died, read at its exit before the ring is unmapped (see ringLoad). */
  private loadAtExit: [running: number, queued: number] | null = null;
  private ringTimer: NodeJS.Timeout | null = null;
  private readonly ringDecoder = new FrameDecoder();
  /** Set when the supervisor ends this worker on purpose (drain, hang kill, failed start). */
  endedBy: 'drain' | 'hang' | 'failed' | null = null;
  /** A replacement loading ahead of time while this worker is going silent (see worker-pool). */
  standby: WorkerProcess | null = null;
  /** Set on a standby: the worker it may replace; it neither accepts nor is checked for hangs. */
  standbyFor: WorkerProcess | null = null;
  /** A standby's readiness, awaited when it takes over. */
  ready: Promise<void> | null = null;
  /** Told to drain: whatever ends it, it is not replaced. */
  retiring = false;
  /** A replacement is starting for this worker (recycle); it must not start a second one. */
  replacing = false;
  /** Why it was killed as hung, for the event row. */
  hangDetail = '';
  /**
   * Connections it held when killed as hung, counted while it was silent (null where the
   * kernel's tables are unreadable, or the count outlasted the kill's wait for it).
   */
  heldConnections: number | null = null;
  /** lastAnswerAt of the silence heldConnections was counted in; NaN once the kill froze it. */
  heldCountedAt = -1;
  /** Settles when that count is in (the hang kill waits for it, a while). */
  heldCount: Promise<void> = Promise.resolve();
  /** Started in place of a dead worker: if it cannot load the app, another try follows (backoff). */
  restartOnFailure = false;
  /** Silent past two heartbeats: the slot ledger no longer counts on it (see presumeStuck). */
  presumedStuck = false;
  /** Its standby could not even be forked: no second try every check while it stays silent. */
  standbyFailed = false;
  /** Resolves when the process has exited (settled before the pool hears of it). */
  readonly exit: Promise<void>;
  private exited: () => void = () => {};
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
  ) {
    this.appLimit = config.appThreads;
    this.exit = new Promise((resolve) => (this.exited = resolve));
    const pipeEnded = new Promise<void>((resolve) => (this.rowsEnded = resolve));
    const ringDrained = new Promise<void>((resolve) => (this.ringDrained = resolve));
    this.rowsRead = Promise.all([pipeEnded, ringDrained]).then(() => {});
    this.listening = new Promise((resolve, reject) => {
      this.onListening = (err) => (err ? reject(err) : resolve());
    });
    // Only awaited once the worker was told to accept; a worker that never got there is no error.
    this.listening.catch(() => {});
    // Without the timing store the ring still carries the worker's load in its header.
    const ring = config.rowRing ? createRowRing(config.store !== null ? ROW_RING_BYTES : ROW_RING_MIN_BYTES) : null;
    try {
      this.child = fork(WORKER_MAIN, [], {
        serialization: 'advanced',
        execArgv: workerExecArgv(),
        // The ring's memfd lands on ROW_RING_FD (5) in the worker; it is close-on-exec here, so
        // no other child of the supervisor gets it.
        stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe', ...(ring === null ? [] : [ring.fd])],
        ...credentialOptions(credentials),
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
    // No stdio when fork() failed (no pid): then there are no rows either.
    this.readRows((child.stdio?.[ROWS_FD] ?? null) as Readable | null);
    if (ring !== null && child.pid !== undefined) {
      this.ring = ring;
      if (config.store !== null) this.ringTimer = setInterval(() => this.readRing(), RING_READ_MS).unref();
    } else {
      ring?.close();
      this.closeRing();
    }
    child.on('exit', (code, signal) => {
      // Whatever it wrote to the ring is there, whole: read before its lost rows are counted.
      this.readRing();
      this.loadAtExit = this.ring?.load() ?? null;
      this.closeRing();
      setTimeout(this.rowsEnded, ROWS_END_WAIT_MS).unref();
      this.state = 'exited';
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
    if (child.pid !== undefined) this.send({ type: 'start', config: { ...config, rowRing: this.ring !== null } });
  }

  private readRows(pipe: Readable | null): void {
    if (pipe === null) {
      this.rowsEnded();
      return;
    }
    const decoder = new FrameDecoder();
    pipe.on('data', (chunk: Buffer) => {
      let batches: PackedBatch[];
      try {
        batches = decoder.push(chunk);
      } catch (err) {
        pipe.destroy();
        this.events.rowsBroken(this, err as Error);
        return;
      }
      this.received(batches);
    });
    pipe.on('close', this.rowsEnded);
    // A read error ends the pipe as 'close' does; the rows not read are counted as lost.
    pipe.on('error', () => {});
  }

  private received(batches: PackedBatch[]): void {
    for (const batch of batches) {
      this.rowsReceived += batch.rows;
      this.events.rows(this, batch);
    }
  }

  /** Takes every frame the worker put in its ring since the last read. */
  private readRing(): void {
    if (this.ring === null) return;
    let batches: PackedBatch[];
    try {
      const bytes = this.ring.read();
      if (bytes === null) return;
      batches = this.ringDecoder.push(bytes);
    } catch (err) {
      // A damaged header or bytes that are not frames: nothing more from this ring is trusted.
      this.closeRing();
      this.events.rowsBroken(this, err as Error);
      return;
    }
    this.received(batches);
  }

  /**
   * Its requests running and queued as it last published them in the ring, read without asking
   * it (it may be stuck in a request), or as it died once it has exited; null without a ring
   * (io 'node', no native core, a ring closed as damaged) or when the word cannot be a real load
   * (`maxQueued`: the app's queue).
   */
  ringLoad(maxQueued: number): { running: number; queued: number } | null {
    const load = this.ring?.load() ?? this.loadAtExit;
    if (load === null) return null;
    const [running, queued] = load;
    return running <= MAX_THREADS && queued <= maxQueued ? { running, queued } : null;
  }

  private closeRing(): void {
    if (this.ringTimer !== null) clearInterval(this.ringTimer);
    this.ringTimer = null;
    this.ring?.close();
    this.ring = null;
    this.ringDrained();
  }

  private onSpawnError(err: NodeJS.ErrnoException): void {
    if (this.state === 'exited') return;
    this.state = 'exited';
    this.rowsEnded();
    this.closeRing();
    this.spawnError = err;
    this.onListening(err);
    for (const w of this.waiters.splice(0)) w.resolve();
    this.exited();
    this.events.spawnFailed(this, err);
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  get alive(): boolean {
    return this.state !== 'exited';
  }

  accept(handle: object): void {
    this.state = 'accepting';
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

  drain(timeoutMs: number): void {
    if (this.state === 'exited') return;
    this.state = 'draining';
    this.retiring = true;
    this.endedBy ??= 'drain';
    this.send({ type: 'drain', timeoutMs });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.alive) this.child?.kill(signal);
  }

  private send(message: ToWorker): void {
    if (this.child?.connected) this.child.send(message);
  }

  private onMessage(message: FromWorker): void {
    this.lastAnswerAt = performance.now();
    this.unansweredSince = null;
    switch (message.type) {
      case 'ready':
        this.state = 'ready';
        this.kind = message.kind ?? null;
        this.events.ready(this);
        break;
      case 'listening':
        this.onListening();
        break;
      case 'failed':
        this.endedBy = 'failed';
        if (message.stage === 'listen') this.onListening(new Error(message.message));
        this.events.failed(this, message.message, message.stage);
        break;
      case 'pong':
      case 'drained':
      case 'exiting':
        this.figures = message.figures;
        this.figuresAt = this.lastAnswerAt;
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
    }
  }
}
