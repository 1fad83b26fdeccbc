/**
 * @module seed-history
 * Writes a believable quarter hour of traffic into a real SQLite timing store through the
 * runtime's own writer (server/store), so the dashboard tests read history the way production
 * does. One app had its thread limit raised mid-way: queue wait and 503s drop at the marker; a
 * few minutes later one of its workers hung and was replaced (a `hang` event marker).
 */
import { createTimingStore, type TimingStore } from '../../server/store/timing-store.js';
import { Outcome, type TimingRow } from '../../shared/timing-row.js';

export interface SeedOptions {
  path: string;
  apps: string[];
  nowMs?: number;
  /** How far back the traffic starts. */
  spanMs?: number;
}

export interface SeededStore {
  store: TimingStore;
  /** When the seeded limit change of the first app happened. */
  changeAtMs: number;
  /** When the seeded worker hang of the first app happened. */
  hangAtMs: number;
}

/** Deterministic pseudo-random numbers (mulberry32), so screenshots are comparable run to run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function seedHistory(options: SeedOptions): Promise<SeededStore> {
  const nowMs = options.nowMs ?? Date.now();
  const spanMs = options.spanMs ?? 14 * 60_000;
  const changeAtMs = nowMs - Math.round(spanMs / 2);
  const hangAtMs = nowMs - Math.round(spanMs / 4);
  // The seeded traffic is that of a server up since before it began: registered as such, the
  // store rates it over its quarter hour (instances.ts), not over the seconds this test has run.
  const store = createTimingStore({ path: options.path, flushIntervalMs: 50, instance: { startedMs: nowMs - spanMs - 60_000, pid: process.pid } });
  const rand = random(42);

  options.apps.forEach((app, index) => {
    const first = index === 0;
    const ratePerS = first ? 6 : 3;
    for (let t = nowMs - spanMs; t < nowMs; t += 1000 / ratePerS) {
      const before = first && t < changeAtMs;
      // A slow hump in the middle of the first half makes the percentiles visibly differ.
      const wave = 1 + 0.6 * Math.sin((t - nowMs) / 90_000);
      const serviceMs = (first ? 18 : 35) * wave * (0.5 + rand() ** 3 * 6);
      const queueMs = before ? 40 * rand() ** 2 * wave : 0.05 + rand() * 0.3;
      const roll = rand();
      const rejected = before && roll < 0.04;
      const status = rejected ? 503 : roll < 0.8 ? 200 : roll < 0.88 ? 304 : roll < 0.97 ? 404 : 500;
      const row: TimingRow = {
        app,
        startMs: Math.round(t),
        queueMs: rejected ? 250 : queueMs,
        serviceMs: rejected ? 0 : serviceMs,
        status,
        outcome: rejected ? Outcome.REJECTED : status === 500 ? Outcome.APP_ERROR : Outcome.ANSWERED,
        bytesIn: 120,
        bytesOut: 2048,
        method: 'GET',
        path: '/',
      };
      store.record(row);
    }
  });
  const first = options.apps[0];
  if (first !== undefined) {
    store.recordLimitChange({ app: first, atMs: changeAtMs, oldThreads: 2, newThreads: 4, source: 'api 127.0.0.1' });
    store.recordEvent({ app: first, atMs: hangAtMs, kind: 'hang', pid: 5003, detail: 'stuck for 30012 ms', source: 'supervisor' });
  }
  return { store, changeAtMs, hangAtMs };
}
