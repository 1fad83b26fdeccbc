/**
 * @module upgrade-capacity
 * How many upgraded connections (WebSockets) this process may hold at once: the app's maxUpgrades
 * when it serves in-process; in a worker, a lease from the supervisor, which keeps the cap for the
 * whole app (server/supervisor/upgrade-leases.ts). A worker asks for more when its lease is full,
 * one question at a time, and gives back what it does not need.
 *
 *   upgrade ─ open < held? ─yes─▶ app
 *                 └─no─▶ more() ─ upgradesWanted ──▶ supervisor ─ upgradesGranted(n) ─▶ held += n
 *   close ─ settle(open): held − open past two grants' worth ─ upgradesReturned(k) ──▶ supervisor
 *   upgradesReclaim (the app is at its cap, another worker waits) ─ upgradesReturned(held − open)
 */

/** A supervisor that does not answer within this leaves the upgrade refused (503), not waiting. */
export const ASK_TIMEOUT_MS = 2000;

export interface UpgradeCapacity {
  /** The app's cap, for the refusal's message. */
  readonly max: number;
  /** How many may be open at once now. */
  readonly held: number;
  /** Asks for more; resolves with how many were granted (0: none, or no answer in time). Null: there is no one to ask. */
  more(): Promise<number> | null;
  /** `open` are open now (after each open and close); `draining`: this process takes no new one, so it keeps no spare. */
  settle(open: number, draining: boolean): void;
}

/** In-process: the app's whole cap, here. */
export function fixedCapacity(max: number): UpgradeCapacity {
  return { max, held: max, more: () => null, settle() {} };
}

export type LeaseMessage = { type: 'upgradesWanted'; seq: number } | { type: 'upgradesReturned'; count: number };

export class UpgradeLease implements UpgradeCapacity {
  held = 0;
  /** The last grant's size, which the supervisor chose for this app: the spare kept between grants. */
  private spare = 1;
  private seq = 0;
  /** Open as last settled. */
  private open = 0;
  private asking: { seq: number; promise: Promise<number>; answer(granted: number): void; timer: NodeJS.Timeout } | null = null;

  constructor(
    readonly max: number,
    private readonly send: (message: LeaseMessage) => void,
  ) {}

  more(): Promise<number> {
    if (this.asking !== null) return this.asking.promise;
    const seq = ++this.seq;
    let answer: (granted: number) => void = () => {};
    const promise = new Promise<number>((resolve) => (answer = resolve));
    const timer = setTimeout(() => this.answered(seq, 0), ASK_TIMEOUT_MS);
    timer.unref();
    this.asking = { seq, promise, answer, timer };
    this.send({ type: 'upgradesWanted', seq });
    return promise;
  }

  /** The supervisor's answer. Counted whenever it comes: the supervisor counted it when it sent it. */
  granted(seq: number, count: number): void {
    this.held += count;
    if (count > 0) this.spare = count;
    this.answered(seq, count);
  }

  settle(open: number, draining: boolean): void {
    this.open = open;
    const keep = draining ? 0 : this.spare;
    const unused = this.held - open - keep;
    // In grants' worth, not at every close: a worker that keeps opening and closing sends nothing.
    if (unused <= 0 || (!draining && unused < this.spare)) return;
    this.held -= unused;
    this.send({ type: 'upgradesReturned', count: unused });
  }

  /** The app is at its cap and another worker waits: everything unused goes back, and the answer goes even when that is nothing. */
  reclaim(): void {
    const unused = Math.max(0, this.held - this.open);
    this.held -= unused;
    this.send({ type: 'upgradesReturned', count: unused });
  }

  private answered(seq: number, granted: number): void {
    const asking = this.asking;
    if (asking === null || asking.seq !== seq) return;
    clearTimeout(asking.timer);
    this.asking = null;
    asking.answer(granted);
  }
}
