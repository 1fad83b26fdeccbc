/**
 * @module limiter
 * One app's thread limit: at most `limit` requests run at once, up to `maxQueue` more wait in
 * FIFO order, and the rest are refused. Pure bookkeeping; the app host turns the answers into
 * dispatches and 503s.
 *
 *   running: [r r r]  (≤ limit)      queue: head ▶ [w w x w] ◀ tail   (x = cancelled, skipped lazily)
 *
 * Lowering the limit never touches running requests: they finish, and `release()` admits new
 * ones only once `running` has fallen below the new limit.
 */

export interface Waiter {
  /** When the request started waiting, in the caller's clock (ms). */
  queuedAt: number;
  /** Owned by the limiter: true while the waiter sits in the queue. */
  inQueue: boolean;
}

export type AcquireResult = 'run' | 'queued' | 'rejected';

/** Compacting the queue array once this many dead slots pile up at its head keeps pops O(1). */
const COMPACT_AFTER = 1024;

export class Limiter<T extends Waiter> {
  running = 0;
  /** Live waiters (cancelled ones excluded). */
  waiting = 0;
  private queue: T[] = [];
  private head = 0;

  constructor(
    public limit: number,
    public maxQueue: number,
  ) {}

  acquire(item: T, now: number): AcquireResult {
    if (this.running < this.limit && this.waiting === 0) {
      this.running++;
      return 'run';
    }
    if (this.waiting >= this.maxQueue) return 'rejected';
    item.queuedAt = now;
    item.inQueue = true;
    this.queue.push(item);
    this.waiting++;
    return 'queued';
  }

  /** A running request finished; returns the waiter admitted in its place, if any. */
  release(): T | undefined {
    this.running--;
    return this.running < this.limit ? this.admitNext() : undefined;
  }

  /** Takes a waiter out of the queue (its client left, or it timed out elsewhere). */
  cancel(item: T): void {
    if (!item.inQueue) return;
    item.inQueue = false;
    this.waiting--;
  }

  /** Changes the limit; returns the waiters admitted at once by a raise. */
  setLimit(limit: number): T[] {
    this.limit = limit;
    const admitted: T[] = [];
    while (this.running < this.limit) {
      const next = this.admitNext();
      if (next === undefined) break;
      admitted.push(next);
    }
    return admitted;
  }

  /** Removes and returns waiters queued at or before `deadline` (FIFO, so they sit at the head). */
  expire(deadline: number): T[] {
    const expired: T[] = [];
    while (this.head < this.queue.length) {
      const item = this.queue[this.head] as T;
      if (item.inQueue && item.queuedAt > deadline) break;
      this.shift();
      if (item.inQueue) {
        item.inQueue = false;
        this.waiting--;
        expired.push(item);
      }
    }
    return expired;
  }

  private admitNext(): T | undefined {
    while (this.head < this.queue.length) {
      const item = this.shift();
      if (!item.inQueue) continue;
      item.inQueue = false;
      this.waiting--;
      this.running++;
      return item;
    }
    return undefined;
  }

  private shift(): T {
    const item = this.queue[this.head] as T;
    this.queue[this.head] = undefined as unknown as T;
    this.head++;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
