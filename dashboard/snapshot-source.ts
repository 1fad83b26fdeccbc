/**
 * @module snapshot-source
 * Reads the runtime's snapshot for every route and the event stream, coalescing concurrent
 * readers into one call and reusing a fresh result briefly: a polling page asks for the overview
 * and the apps at the same moment, and in the separate-process mode each read is a TCP round trip.
 */
import type { RuntimeControl, RuntimeSnapshot } from '../shared/runtime-control.js';

export interface SnapshotState {
  reachable: boolean;
  snapshot: RuntimeSnapshot | null;
  /** Why the runtime could not be read; null when reachable. */
  error: string | null;
  checkedAtMs: number;
  /**
   * While unreachable: the last snapshot read, so the page keeps a card (and the charts the
   * timing store still has) for each app it knew; null when reachable or never read.
   */
  lastGood?: RuntimeSnapshot | null;
}

export interface SnapshotSource {
  /** A state no older than the reuse window. */
  get(): Promise<SnapshotState>;
  /** Forgets the cached state, e.g. after a limit change, so the next read shows it. */
  invalidate(): void;
  /** The last snapshot that was read successfully, for validating app names while unreachable. */
  lastGood(): RuntimeSnapshot | null;
}

/** Below the 1 s floor of the page's polling, so every poll sees a new read. */
export const SNAPSHOT_REUSE_MS = 250;

export function createSnapshotSource(control: RuntimeControl, now: () => number = Date.now): SnapshotSource {
  let cached: SnapshotState | null = null;
  let inFlight: Promise<SnapshotState> | null = null;
  let good: RuntimeSnapshot | null = null;

  async function read(): Promise<SnapshotState> {
    try {
      const snapshot = await control.snapshot();
      good = snapshot;
      return { reachable: true, snapshot, error: null, checkedAtMs: now() };
    } catch (err) {
      // The page says "the runtime did not answer"; DOW_ERR_RUNTIME_UNREACHABLE's own prefix
      // would repeat it ("runtime unreachable: runtime unreachable: …").
      const message = (err instanceof Error ? err.message : String(err)).replace(/^runtime unreachable: /, '');
      return { reachable: false, snapshot: null, error: message, checkedAtMs: now(), lastGood: good };
    }
  }

  return {
    get() {
      if (cached && now() - cached.checkedAtMs < SNAPSHOT_REUSE_MS) return Promise.resolve(cached);
      inFlight ??= read().then((state) => {
        cached = state;
        inFlight = null;
        return state;
      });
      return inFlight;
    },
    invalidate() {
      cached = null;
    },
    lastGood: () => good,
  };
}
