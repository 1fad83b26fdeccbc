/**
 * @module hang-watchdog
 * Heartbeats for one app's workers, and what a silence leads to: its slots go to the others, a
 * standby loads ahead, and past hangTimeout the worker is stopped, its connections counted, and
 * killed.
 */
import type { Logger } from 'pino';
import { errors } from '../../shared/errors.js';
import { countOpenConnections } from './open-connections.js';
import type { PoolFigures } from './pool-figures.js';
import type { SlotLedger } from './slot-ledger.js';
import { hung, isRetiring, type PoolWorker } from './worker-role.js';

/** How often the supervisor asks each worker for its figures, and checks for hangs. */
export const HEARTBEAT_MS = 1000;
const HANG_CHECK_MS = 250;
/**
 * A worker silent for hangTimeout less this long gets a standby: a replacement that loads the
 * app meanwhile, so that serving resumes as soon as the hung one is killed, not a Node start
 * and an app load later. Discarded if the worker answers after all.
 */
const STANDBY_LEAD_MS = 1500;
/** How long a starting worker (loading the app) may go without answering before it is killed. */
const START_TIMEOUT_MS = 60_000;
/** How long a hung worker's kill may wait for the count of the connections it holds. */
const HELD_COUNT_WAIT_MS = 1000;

/** What the watchdog needs of the pool. */
export interface WatchedPool {
  readonly stopping: boolean;
  readonly ledger: SlotLedger;
  readonly workers: ReadonlyMap<number, PoolWorker>;
  applyPlan(): void;
  /** Forks a standby for `w`; `ready` settles when it has loaded the app (or could not). */
  startStandby(w: PoolWorker): { worker: PoolWorker; ready: Promise<void> };
  discard(w: PoolWorker): void;
}

export interface WatchdogOptions {
  name: string;
  hangTimeoutMs: number;
  /** The bound address, to find a hung worker's connections in the kernel's tables. */
  address: { port: number } | { path: string } | null;
  log: Logger;
}

/** Short enough to catch a hang well within hangTimeout, never more than once a second. */
export function heartbeatMsFor(hangTimeoutMs: number): number {
  return hangTimeoutMs > 0 ? Math.min(HEARTBEAT_MS, Math.max(50, Math.round(hangTimeoutMs / 4))) : HEARTBEAT_MS;
}

export class HangWatchdog {
  private readonly heartbeatMs: number;
  /** How often silences are checked: a hang is acted on within this of hangTimeout. */
  private readonly checkMs: number;
  private lastPingAt = -Infinity;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly o: WatchdogOptions,
    private readonly pool: WatchedPool,
    private readonly figures: PoolFigures,
  ) {
    this.heartbeatMs = heartbeatMsFor(o.hangTimeoutMs);
    this.checkMs = Math.min(HANG_CHECK_MS, this.heartbeatMs);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.checkMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** A worker presumed stuck answered after all: it takes its share again (if it accepts). */
  answered(rec: PoolWorker): boolean {
    if (!rec.silence.presumedStuck) return false;
    rec.silence.presumedStuck = false;
    if (rec.process.state === 'accepting') this.pool.ledger.setAccepting(rec.process.id, true);
    return true;
  }

  /**
   * Every check: kill a worker whose event loop stopped answering (after starting its standby
   * ahead of time), and every heartbeat ask each worker for its figures.
   */
  private tick(): void {
    const now = performance.now();
    const ping = now - this.lastPingAt >= this.heartbeatMs - this.checkMs / 2;
    if (ping) this.lastPingAt = now;
    for (const rec of [...this.pool.workers.values()]) {
      const w = rec.process;
      if (!w.alive) continue;
      // Loading an app compiles and runs its top-level code synchronously, often for longer
      // than a short hangTimeout: a worker still starting gets the start timeout instead.
      const limit = w.state === 'starting' ? Math.max(this.o.hangTimeoutMs, START_TIMEOUT_MS) : this.o.hangTimeoutMs;
      const silentMs = now - w.lastAnswerAt;
      if (limit > 0 && w.state === 'accepting' && !isRetiring(rec.role)) this.keepStandby(rec, silentMs > limit - STANDBY_LEAD_MS && silentMs > this.heartbeatMs * 2);
      if (limit > 0 && w.state !== 'starting' && silentMs > this.heartbeatMs * 2) {
        this.countHeldConnections(rec);
        this.presumeStuck(rec);
      }
      if (limit > 0 && silentMs > limit && rec.role.name !== 'hung') {
        hung(rec, `stuck for ${Math.round(silentMs)} ms (hangTimeout ${limit} ms)`);
        this.figures.hangs++;
        const error = new errors.DOW_ERR_WORKER_HUNG(this.o.name, w.pid, Math.round(silentMs), limit);
        this.o.log.error({ app: this.o.name, worker: w.pid, stuckMs: Math.round(silentMs), code: error.code }, error.message);
        void this.killHung(rec);
        continue;
      }
      if (ping) w.ping();
    }
  }

  /** Its share goes to the others while it is silent (see SlotLedger.presumeStuck). */
  private presumeStuck(rec: PoolWorker): void {
    if (rec.silence.presumedStuck) return;
    rec.silence.presumedStuck = true;
    const change = this.pool.ledger.presumeStuck(rec.process.id);
    if (change) rec.process.setLimit(change[1], change[2], this.pool.ledger.total);
    this.pool.applyPlan();
  }

  /**
   * Stopped first (SIGSTOP), so that nothing it holds changes, then killed once the count of its
   * connections begun while it was silent is in, or after HELD_COUNT_WAIT_MS: a host whose TCP
   * table takes longer to read does not keep a hung worker's place that long.
   */
  private async killHung(rec: PoolWorker): Promise<void> {
    const w = rec.process;
    w.kill('SIGSTOP');
    // Stopped, it runs nothing more: its slots, the stuck requests' too, are the others' now.
    this.pool.ledger.remove(w.id);
    this.pool.applyPlan();
    this.countHeldConnections(rec);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([rec.silence.heldCount, new Promise((resolve) => (timer = setTimeout(resolve, HELD_COUNT_WAIT_MS)))]);
    clearTimeout(timer);
    // A count still running would read the tables while the kill empties them: dropped.
    rec.silence.heldCountedAt = NaN;
    w.kill('SIGKILL');
  }

  /**
   * Counts, off the loop, the connections a silent worker holds, for the rows written if it is
   * killed. Its loop is stuck, so it accepts nothing more: the count taken now is the one at the
   * kill. Once per silence; a worker that answers again starts a new one next time.
   */
  private countHeldConnections(rec: PoolWorker): void {
    const address = this.o.address;
    const s = rec.silence;
    const silence = rec.process.lastAnswerAt;
    if (!address || s.heldCountedAt === silence || Number.isNaN(s.heldCountedAt)) return;
    s.heldCountedAt = silence;
    s.heldConnections = null;
    s.heldCount = countOpenConnections(rec.process.pid, address).then((n) => {
      if (s.heldCountedAt === silence) s.heldConnections = n;
    });
  }

  private keepStandby(rec: PoolWorker, wanted: boolean): void {
    const standby = rec.silence.standby;
    if (wanted && !standby && !this.pool.stopping && !rec.silence.standbyFailed) {
      rec.silence.standby = this.pool.startStandby(rec);
    } else if (!wanted && standby) {
      rec.silence.standby = null;
      this.pool.discard(standby.worker);
    }
    if (!wanted) rec.silence.standbyFailed = false;
  }
}
