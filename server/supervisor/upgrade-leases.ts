/**
 * @module upgrade-leases
 * One app's cap on upgraded connections (maxUpgrades), kept by the supervisor across its workers.
 * Pure. A worker holds a lease: how many upgraded connections it may have open. It asks for more
 * when its lease is full and gives back what it does not use, so the sum of the leases, and with
 * it the app's open WebSockets, never passes the cap, wherever the kernel sends each connection.
 *
 *   cap 10 ─┬─ worker 1 leases 4 (3 open) ─┐
 *           ├─ worker 2 leases 4 (4 open) ─┼─ Σ leases ≤ cap, at every moment
 *           └─ free 2 ─────────────────────┘
 *
 * A lease grows only here (a grant) and shrinks only in the worker (a give-back), and each side
 * counts its own move first: the supervisor's figure for a worker is never below the worker's.
 * An even split per worker, as before, refused upgrades to a worker the kernel favoured while the
 * app was far below its cap, and let the app pass it while old workers drained theirs.
 */

/** A grant is at most this many: one round trip per CHUNK upgrades, and the spare a worker keeps. */
const MAX_CHUNK = 64;

/** An answer to send: `count` more for `worker`'s question `seq` (0: refused). */
export interface LeaseAnswer {
  worker: number;
  seq: number;
  count: number;
}

/**
 * When nothing is free, the other workers are asked to give back the spare they keep (reclaim)
 * and the question waits for their answers (or the caller's deadline: expire()): near the cap a
 * worker is refused only when the app's connections, not its leases, fill it.
 */
export class UpgradeLeases {
  private readonly leases = new Map<number, number>();
  private readonly parked: Array<{ worker: number; seq: number }> = [];
  /** The workers asked to give back their spare that have not answered yet; null: no reclaim running. */
  private reclaiming: Set<number> | null = null;

  constructor(readonly total: number) {}

  /**
   * `worker`'s lease is full. Returns the answer now, or the workers to ask for their spare (the
   * answer then comes from returned() or expire()), or neither when a reclaim already runs.
   */
  ask(worker: number, seq: number, accepting: readonly number[]): { answer?: LeaseAnswer; reclaim?: number[] } {
    const count = this.grant(worker, accepting.length);
    if (count > 0) return { answer: { worker, seq, count } };
    if (this.reclaiming !== null) {
      this.parked.push({ worker, seq });
      return {};
    }
    // Only the others that hold something can give any back; none: refused now.
    const holders = accepting.filter((w) => w !== worker && this.leaseOf(w) > 0);
    if (holders.length === 0) return { answer: { worker, seq, count: 0 } };
    this.parked.push({ worker, seq });
    this.reclaiming = new Set(holders);
    return { reclaim: holders };
  }

  /** `worker` gave back `count` (0 when a reclaim found nothing spare). Returns the answers now due. */
  returned(worker: number, count: number, workers: number): LeaseAnswer[] {
    const lease = this.leases.get(worker);
    if (lease !== undefined && count > 0) this.leases.set(worker, Math.max(0, lease - count));
    this.reclaiming?.delete(worker);
    return this.serveParked(workers);
  }

  /** The reclaim's deadline passed: every question still waiting is refused. */
  expire(): LeaseAnswer[] {
    this.reclaiming = null;
    return this.parked.splice(0).map(({ worker, seq }) => ({ worker, seq, count: 0 }));
  }

  /** The worker exited: whatever it held closed with it, and it answers nothing more. */
  remove(worker: number, workers: number): LeaseAnswer[] {
    this.leases.delete(worker);
    for (let i = this.parked.length - 1; i >= 0; i--) if (this.parked[i]?.worker === worker) this.parked.splice(i, 1);
    this.reclaiming?.delete(worker);
    return this.serveParked(workers);
  }

  get waiting(): boolean {
    return this.parked.length > 0;
  }

  leaseOf(worker: number): number {
    return this.leases.get(worker) ?? 0;
  }

  get free(): number {
    let held = 0;
    for (const lease of this.leases.values()) held += lease;
    return this.total - held;
  }

  /** A few at a time, so that idle workers do not sit on the cap; one at least when any is free. */
  private grant(worker: number, workers: number): number {
    const free = this.free;
    if (free <= 0) return 0;
    const chunk = Math.max(1, Math.min(MAX_CHUNK, Math.floor(this.total / (16 * Math.max(1, workers)))));
    const granted = Math.min(free, chunk);
    this.leases.set(worker, (this.leases.get(worker) ?? 0) + granted);
    return granted;
  }

  /** Parked questions, oldest first, while anything is free; the rest refused once every worker asked has answered. */
  private serveParked(workers: number): LeaseAnswer[] {
    const answers: LeaseAnswer[] = [];
    while (this.parked.length > 0) {
      const { worker, seq } = this.parked[0] as { worker: number; seq: number };
      const count = this.grant(worker, workers);
      if (count === 0) break;
      this.parked.shift();
      answers.push({ worker, seq, count });
    }
    if (this.reclaiming !== null && this.reclaiming.size === 0) answers.push(...this.expire());
    else if (this.parked.length === 0) this.reclaiming = null;
    return answers;
  }
}
