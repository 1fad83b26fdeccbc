/**
 * @module restart-scheduler
 * When a dead worker's replacement is forked: at once, or after the crash-loop backoff (see
 * restart-policy) when its predecessors died young or could not even be forked.
 */
import type { Logger } from 'pino';
import { crashBackoffMs } from './restart-policy.js';

export class RestartScheduler {
  private crashStreak = 0;
  private pending = 0;
  private timer: NodeJS.Timeout | null = null;
  private at = 0;
  private stopped = false;

  /** `startOne` forks one replacement; `forkFailing` says whether the last fork failed (for the log). */
  constructor(
    private readonly app: string,
    private readonly log: Logger,
    private readonly startOne: () => void,
    private readonly forkFailing: () => boolean,
  ) {}

  /** First restart at once; quick exits in a row wait longer each time (see restart-policy). */
  schedule(livedMs: number): void {
    const delay = crashBackoffMs(this.crashStreak, livedMs);
    this.crashStreak = delay.streak;
    this.pending++;
    // A timer already waiting starts this worker too, after the longer of the two waits.
    if (this.timer) return;
    if (delay.ms === 0) return this.startPending();
    const why = this.forkFailing() ? `workers cannot start (${delay.streak} failures in a row)` : `crash loop (${delay.streak} quick exits in a row)`;
    this.log.warn({ app: this.app, backoffMs: delay.ms }, `${this.app}: ${why}: next worker in ${delay.ms} ms`);
    this.at = Date.now() + delay.ms;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.startPending();
    }, delay.ms);
    this.timer.unref();
  }

  /** >0 while a crash loop holds the next worker back: ms left. */
  get backoffMs(): number {
    return this.timer ? Math.max(0, Math.round(this.at - Date.now())) : 0;
  }

  /** The pool is stopping: nothing more starts. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private startPending(): void {
    if (this.stopped) return;
    for (; this.pending > 0; this.pending--) this.startOne();
  }
}
