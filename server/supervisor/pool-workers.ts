/**
 * @module pool-workers
 * One app's live workers, each with its pool record, and the moves that start, admit, drain or
 * end one: each move changes the worker's role (worker-role) together with what it tells the
 * process and the slot ledger.
 */
import { workerEnv, type AppEnvironment } from '../config/app-environment.js';
import type { PoolOptions } from './pool-options.js';
import { maxRequestsWithJitter } from './restart-policy.js';
import { SlotLedger } from './slot-ledger.js';
import { UpgradeLeases, type LeaseAnswer } from './upgrade-leases.js';
import { DEFAULT_MAX_UPGRADES } from '../http/http-upgrades.js';
import { WorkerProcess, type WorkerEvents } from './worker-process.js';
import * as roles from './worker-role.js';
import type { PoolWorker } from './worker-role.js';

/** How long a full worker's question waits for the others to give back their spare (its own gives up at ASK_TIMEOUT_MS). */
const RECLAIM_WAIT_MS = 500;

export class PoolWorkers {
  readonly ledger: SlotLedger;
  /** The app's maxUpgrades, leased to its workers as they fill up (http apps). */
  private readonly upgrades: UpgradeLeases;
  readonly workers = new Map<number, PoolWorker>();
  /** Every worker's record, found from its process even after it left `workers`. */
  private readonly records = new WeakMap<WorkerProcess, PoolWorker>();
  private nextId = 1;
  /** What workers start with: the config's at first, then each successful reload's. */
  environment: AppEnvironment | null;
  private isStopping = false;
  /** How many workers should accept: the config's count until a scale changes it. */
  target: number;
  /** Ends a reclaim of upgraded-connection leases that not every worker answered. */
  private reclaimTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly o: PoolOptions,
    private readonly events: WorkerEvents,
  ) {
    this.ledger = new SlotLedger(o.threads);
    this.upgrades = new UpgradeLeases(o.startConfig.app.maxUpgrades ?? DEFAULT_MAX_UPGRADES);
    this.target = o.workers;
    this.environment = o.environment;
  }

  get name(): string {
    return this.o.name;
  }

  /** Set once the pool stops: nothing is replaced or admitted from then on. */
  get stopping(): boolean {
    return this.isStopping;
  }

  markStopping(): void {
    this.isStopping = true;
  }

  recordOf(w: WorkerProcess): PoolWorker {
    return this.records.get(w) as PoolWorker;
  }

  spawn(role: 'loading' | 'replacement', environment = this.environment): PoolWorker {
    const config = {
      ...this.o.startConfig,
      appThreads: this.ledger.total,
      maxRequests: maxRequestsWithJitter(this.o.maxRequests, Math.random()),
      ...(environment === null ? {} : { cwd: environment.cwd }),
    };
    const taken = new Set([...this.workers.values()].map((other) => other.slot));
    const env = environment === null ? null : workerEnv(environment);
    const proc = new WorkerProcess(this.nextId++, config, this.events, this.o.credentials ?? null, env);
    let slot = 0;
    while (taken.has(slot)) slot++;
    const w = roles.createPoolWorker(proc, slot, role);
    this.records.set(proc, w);
    this.workers.set(proc.id, w);
    this.ledger.add(proc.id);
    return w;
  }

  startStandby(of: PoolWorker): { worker: PoolWorker; ready: Promise<void> } {
    const next = this.spawn('loading');
    roles.becomeStandby(next, of);
    // Awaited when it takes over; until then it waits, loaded, not accepting.
    const ready = this.whenReady(next);
    ready.catch(() => {});
    return { worker: next, ready };
  }

  /** Ends a worker that is not wanted (a failed start or reload): not a crash, no restart. */
  discard(w: PoolWorker): void {
    roles.discarded(w);
    w.process.kill();
  }

  admit(w: PoolWorker): void {
    if (!w.process.alive) return;
    // A replacement that finished loading after a reload or a recycle already filled its place,
    // or after a scale down made it one too many.
    if (roles.retries(w.role) && this.accepting().length >= this.target) return this.discard(w);
    roles.admitted(w);
    w.process.accept(this.o.handle);
    this.ledger.setAccepting(w.process.id, true);
    this.applyPlan();
  }

  retire(w: PoolWorker): void {
    this.ledger.setAccepting(w.process.id, false);
    this.drain(w, Math.max(this.o.drainTimeoutMs, this.o.startConfig.app.requestTimeoutMs));
    this.applyPlan();
  }

  drain(w: PoolWorker, timeoutMs: number): void {
    if (!w.process.alive) return;
    roles.retired(w);
    // Upgraded connections it holds are told why it goes: the server stops, or it is replaced.
    // They have no end of their own to wait for: drainTimeout, not a request's longer time.
    w.process.drain(timeoutMs, Math.min(timeoutMs, this.o.drainTimeoutMs), this.stopping);
  }

  accepting(): PoolWorker[] {
    return [...this.workers.values()].filter((w) => w.process.state === 'accepting');
  }

  whenReady(w: PoolWorker): Promise<void> {
    if (w.process.state === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => (w.start = { resolve, reject }));
  }

  /** Exited, and every row and figure it sent read: the store is closed after this. */
  async whenExited(w: PoolWorker): Promise<void> {
    await w.process.exit;
    await w.process.settled;
  }

  applyPlan(): void {
    for (const [id, limit, seq] of this.ledger.plan()) {
      this.workers.get(id)?.process.setLimit(limit, seq, this.ledger.total);
    }
  }

  /**
   * Its lease of the app's upgraded connections is full. Only a worker that takes new connections
   * gets more: a draining one refuses, and its clients retry (Retry-After) on another.
   */
  upgradesWanted(w: PoolWorker, seq: number): void {
    const p = w.process;
    if (p.state !== 'accepting' || this.stopping) return p.grantUpgrades(seq, 0);
    const { answer, reclaim } = this.upgrades.ask(p.id, seq, this.accepting().map((a) => a.process.id));
    if (answer) p.grantUpgrades(answer.seq, answer.count);
    for (const id of reclaim ?? []) this.workers.get(id)?.process.reclaimUpgrades();
    if (this.upgrades.waiting && this.reclaimTimer === null) {
      this.reclaimTimer = setTimeout(() => {
        this.reclaimTimer = null;
        this.answerLeases(this.upgrades.expire());
      }, RECLAIM_WAIT_MS);
      this.reclaimTimer.unref();
    }
  }

  upgradesReturned(w: PoolWorker, count: number): void {
    this.answerLeases(this.upgrades.returned(w.process.id, count, this.accepting().length));
  }

  private answerLeases(answers: LeaseAnswer[]): void {
    for (const a of answers) this.workers.get(a.worker)?.process.grantUpgrades(a.seq, a.count);
    if (!this.upgrades.waiting && this.reclaimTimer !== null) {
      clearTimeout(this.reclaimTimer);
      this.reclaimTimer = null;
    }
  }

  /** It exited, or never existed: no longer counted anywhere. */
  forget(w: PoolWorker): void {
    this.workers.delete(w.process.id);
    this.ledger.remove(w.process.id);
    // Its upgraded connections closed with it.
    this.answerLeases(this.upgrades.remove(w.process.id, this.accepting().length));
  }

  /** Whoever awaited its readiness, told once. */
  takeStart(w: PoolWorker): PoolWorker['start'] {
    const start = w.start;
    w.start = null;
    return start;
  }
}
