/**
 * @module adaptive-limit
 * One app's adaptive thread limit at run time: every window it reads the app's totals, asks the
 * controller, and applies the limit where the app's total is kept (a worker pool's slot ledger,
 * or the in-process limiter). An operator's limit switches it to fixed; resume() goes back.
 *
 * Its steps are the controller's, not an operator's: each goes to the debug log, and the audit
 * (and the info log) gets one entry per AUDIT_EVERY_MS at most, from the limit last audited to
 * the current one with the latest reason. Every change of mode is audited.
 */
import type { Logger } from 'pino';
import type { ThreadsMode } from '../../shared/runtime-control.js';
import type { TimingRecorder } from '../../shared/timing-row.js';
import { initialState, nextLimit, type AdaptiveConfig, type ControllerState } from './adaptive-controller.js';
import { windowSample, type AppTotals } from './window-sample.js';


/** At most one audit entry per app this often for the controller's own steps. */
export const AUDIT_EVERY_MS = 30_000;

export interface AdaptiveTarget {
  app: string;
  config: AdaptiveConfig;
  /** The app's limit now. */
  threads(): number;
  /** Fresh: a window's figures must be the window's, not a heartbeat's from up to a second before. */
  totals(): Promise<AppTotals>;
  /** Applies a limit the controller chose: no audit, no info line. */
  apply(limit: number): void;
  log: Logger;
  recorder: TimingRecorder | null;
}

export class AdaptiveLimit {
  mode: ThreadsMode = 'adaptive';
  /** The controller's last decision in words (stats port, dashboard), or who fixed the limit. */
  reason = 'starting';
  private state: ControllerState;
  private totals: AppTotals | null = null;
  private lastReadAt = 0;
  private timer: NodeJS.Timeout | null = null;
  /** A window still reading its totals: the next one waits for it rather than overlap. */
  private ticking = false;
  /** Bumped by resume(): a window read before it belongs to the old run. */
  private run = 0;
  /** The limit the audit last showed, and when: the next entry starts from it. */
  private audited: { limit: number; atMs: number };

  constructor(private readonly t: AdaptiveTarget) {
    this.state = initialState(t.threads(), t.config);
    this.audited = { limit: t.threads(), atMs: -Infinity };
  }

  async start(): Promise<void> {
    await this.begin();
    this.timer = setInterval(() => {
      if (this.ticking) return;
      this.ticking = true;
      this.tick().catch((err: unknown) => this.t.log.error({ app: this.t.app, err }, `${this.t.app}: adaptive limit: ${(err as Error).message}`))
        .finally(() => (this.ticking = false));
    }, this.t.config.windowMs);
    // A controller never keeps the process up on its own.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** An operator set the limit: the controller stands back until resume(). */
  fix(source: string): void {
    if (this.mode === 'fixed') return;
    this.mode = 'fixed';
    this.reason = `fixed by ${source}`;
    this.auditMode(source);
  }

  /** Back to adaptive: a fresh probe, then the controller starts from the limit as it is now. */
  async resume(source: string): Promise<void> {
    if (this.mode === 'adaptive') return;
    this.mode = 'adaptive';
    this.state = initialState(this.t.threads(), this.t.config);
    this.auditMode(source);
    await this.begin();
  }

  /**
   * A limit saved before a restart (persistLimits) is where the controller resumes after its
   * probe, not a limit imposed on it: the app stays adaptive.
   */
  async startFrom(threads: number): Promise<void> {
    if (this.mode !== 'adaptive') return;
    this.state = initialState(threads, this.t.config);
    await this.begin();
  }

  /** One window; public so that a test can drive the windows itself. */
  async tick(): Promise<void> {
    if (this.mode !== 'adaptive') return;
    const run = this.run;
    const totals = await this.t.totals();
    if (this.mode !== 'adaptive' || run !== this.run) return;
    const now = performance.now();
    const before = this.totals;
    this.totals = totals;
    const elapsedMs = now - this.lastReadAt;
    this.lastReadAt = now;
    if (before === null) return;
    const decision = nextLimit(this.state, windowSample(before, totals, elapsedMs), this.t.config);
    this.state = decision.state;
    this.reason = decision.reason;
    const old = this.t.threads();
    if (decision.limit !== old) {
      this.t.apply(decision.limit);
      this.t.log.debug({ app: this.t.app, oldThreads: old, newThreads: decision.limit }, `${this.t.app}: threads ${old} -> ${decision.limit} (adaptive: ${decision.reason})`);
    }
    this.auditStep(Date.now());
  }

  /** The controller's first limit (the probe's min) applies now, and the totals start afresh. */
  private async begin(): Promise<void> {
    const run = ++this.run;
    const totals = await this.t.totals();
    // An operator's limit that came in meanwhile stands.
    if (run !== this.run || this.mode !== 'adaptive') return;
    this.totals = totals;
    this.lastReadAt = performance.now();
    this.reason = 'probe: limit at min to measure the unloaded service time';
    const limit = Math.round(this.state.estimate);
    if (limit !== this.t.threads()) this.t.apply(limit);
  }

  private auditStep(atMs: number): void {
    const limit = this.t.threads();
    if (limit === this.audited.limit || atMs - this.audited.atMs < AUDIT_EVERY_MS) return;
    const { app } = this.t;
    const source = `adaptive: ${this.reason}`;
    this.t.log.info({ app, oldThreads: this.audited.limit, newThreads: limit, source }, `${app}: threads ${this.audited.limit} -> ${limit} (${source})`);
    this.t.recorder?.recordLimitChange({ app, atMs, oldThreads: this.audited.limit, newThreads: limit, source });
    this.audited = { limit, atMs };
  }

  private auditMode(source: string): void {
    const { app } = this.t;
    const limit = this.t.threads();
    const text = `threads mode ${this.mode} (${source})`;
    this.t.log.info({ app, threads: limit, mode: this.mode, source }, `${app}: ${text}`);
    this.t.recorder?.recordLimitChange({ app, atMs: Date.now(), oldThreads: this.audited.limit, newThreads: limit, source: text });
    this.audited = { limit, atMs: Date.now() };
  }
}
