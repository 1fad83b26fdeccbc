/**
 * @module slot-ledger
 * One app's thread limit split across its worker processes, kept by the supervisor. Pure: reports
 * in, per-worker limits out. The sum of what every worker may run never exceeds the app's total.
 *
 *   total T ─┬─ held by worker 1 ─┐
 *            ├─ held by worker 2  ├─ Σ held ≤ T at every moment
 *            └─ free (pool) ──────┘
 *
 * A worker *holds* max(its limit, the requests it still runs). Raising a limit takes slots from
 * the pool at once; lowering one frees nothing until the worker reports that its requests above
 * the new limit finished. So a slot is never in two workers, whatever order messages arrive in.
 */

export interface WorkerLoad {
  running: number;
  queued: number;
  /** max(running, limit) as the worker sees it. */
  held: number;
  /** The sequence number of the last limit the worker applied (0 before the first). */
  seq: number;
}

interface Entry extends WorkerLoad {
  id: number;
  /** Accepting workers share the limit; a draining one keeps only what its accepted work needs. */
  accepting: boolean;
  limit: number;
  /** Sequence number of the last limit sent to this worker. */
  sentSeq: number;
}

export type LimitChange = [workerId: number, limit: number, seq: number];

export class SlotLedger {
  private readonly entries = new Map<number, Entry>();

  constructor(public total: number) {}

  /** A new worker starts with no slot; plan() gives it its share once it accepts. */
  add(id: number): void {
    this.entries.set(id, { id, accepting: false, limit: 0, held: 0, running: 0, queued: 0, seq: 0, sentSeq: 0 });
  }

  setAccepting(id: number, accepting: boolean): void {
    const entry = this.entries.get(id);
    if (entry) entry.accepting = accepting;
  }

  /**
   * The worker stopped answering: a stuck event loop starts nothing more, so it holds only the
   * requests it ran at its last report, and the rest of its share goes to the others now, not
   * when it is killed a hangTimeout later (a worker that had borrowed every slot left the others
   * none meanwhile: a lowering it never read freed nothing). Returns the lowered limit to send,
   * so that a worker that recovers reads it first; setAccepting() gives it a share again.
   */
  presumeStuck(id: number): LimitChange | null {
    const entry = this.entries.get(id);
    if (!entry) return null;
    entry.accepting = false;
    entry.queued = 0;
    entry.limit = Math.min(entry.limit, entry.running);
    entry.held = entry.running;
    return [id, entry.limit, ++entry.sentSeq];
  }

  /** The worker exited: whatever it ran died with it, so its slots are free again. */
  remove(id: number): void {
    this.entries.delete(id);
  }

  report(id: number, load: WorkerLoad): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    entry.running = load.running;
    entry.queued = load.queued;
    // A draining worker lowers its own limit as its work runs out (only it knows its queue);
    // lowering is always safe. Believed only from a report that saw our last limit: an older one
    // predates a raise and would make us count slots it is about to use as free.
    if (!entry.accepting && load.seq === entry.sentSeq) entry.limit = Math.min(entry.limit, load.held);
    // A report sent before our last raise arrived says less than the worker may now run.
    entry.held = Math.max(entry.limit, load.held);
  }

  setTotal(total: number): void {
    this.total = total;
  }

  get free(): number {
    let held = 0;
    for (const e of this.entries.values()) held += e.held;
    return this.total - held;
  }

  limitOf(id: number): number {
    return this.entries.get(id)?.limit ?? 0;
  }

  /** Computes each worker's target and returns the limit changes to send (already applied here). */
  plan(): LimitChange[] {
    const targets = this.targets();
    const changes: LimitChange[] = [];
    // Lowerings first: they free nothing yet, but raises below must not count on them.
    for (const e of this.entries.values()) {
      const target = targets.get(e.id) ?? 0;
      if (target < e.limit) {
        e.limit = target;
        changes.push([e.id, target, ++e.sentSeq]);
      }
    }
    let free = this.free;
    const wanting = [...this.entries.values()]
      .filter((e) => (targets.get(e.id) ?? 0) > e.limit)
      .sort((a, b) => (targets.get(b.id) ?? 0) - b.limit - ((targets.get(a.id) ?? 0) - a.limit) || a.id - b.id);
    for (const e of wanting) {
      if (free <= 0) break;
      const raise = Math.min((targets.get(e.id) ?? 0) - e.limit, free);
      e.limit += raise;
      e.held = Math.max(e.held, e.limit);
      free -= raise;
      changes.push([e.id, e.limit, ++e.sentSeq]);
    }
    return changes;
  }

  /*
   * Targets: a draining worker keeps its slots until it gives them back itself: it alone knows
   * how many accepted requests it still has to run (it cannot hand them to anyone). The rest is split evenly among accepting workers; a worker with more demand
   * (running + queued) than its share borrows the share others leave idle, but a lender keeps at
   * least one slot so that the next connection the kernel gives it does not wait for a round
   * trip through the supervisor.
   */
  private targets(): Map<number, number> {
    const targets = new Map<number, number>();
    const accepting: Entry[] = [];
    let avail = this.total;
    for (const e of this.entries.values()) {
      if (e.accepting) accepting.push(e);
      else {
        // Raised only from free slots, for requests it accepted before it stopped accepting
        // (a worker retired before its first slot arrived has nothing else to run them with).
        const keep = Math.max(e.limit, e.running + e.queued);
        targets.set(e.id, keep);
        avail -= keep;
      }
    }
    if (accepting.length === 0) return targets;
    avail = Math.max(0, avail);
    const demand = (e: Entry): number => e.running + e.queued;
    // When the slots do not go round (fewer than workers, e.g. during a reload), the remainder
    // goes to the workers with work first.
    accepting.sort((a, b) => demand(b) - demand(a) || a.id - b.id);
    const base = Math.floor(avail / accepting.length);
    const extra = avail % accepting.length;
    const fair = accepting.map((_, i) => base + (i < extra ? 1 : 0));
    // A lender keeps one slot, unless a worker with work would otherwise have none.
    const starved = accepting.some((e, i) => demand(e) > 0 && fair[i] === 0);
    const keep = (e: Entry): number => Math.max(demand(e), starved ? 0 : 1);
    let spare = 0;
    let need = 0;
    accepting.forEach((e, i) => {
      spare += Math.max(0, (fair[i] as number) - keep(e));
      need += Math.max(0, demand(e) - (fair[i] as number));
    });
    let lend = Math.min(spare, need);
    let borrow = lend;
    accepting.forEach((e, i) => {
      const f = fair[i] as number;
      let target = f;
      const canLend = Math.max(0, f - keep(e));
      if (canLend > 0 && lend > 0) {
        const give = Math.min(canLend, lend);
        target -= give;
        lend -= give;
      }
      const wants = Math.max(0, demand(e) - f);
      if (wants > 0 && borrow > 0) {
        const take = Math.min(wants, borrow);
        target += take;
        borrow -= take;
      }
      targets.set(e.id, target);
    });
    return targets;
  }
}
