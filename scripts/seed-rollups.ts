/**
 * @module seed-rollups
 * Seeds a timing-store database with days of rollups for one app at a steady request rate, with
 * log-normal latencies that drift over the day: the data the 7-day percentile benchmark reads.
 * Usage: node --import tsx scripts/seed-rollups.ts [db-path] [days] [req-per-s]
 */
import { pathToFileURL } from 'node:url';
import { LatencyHistogram } from '../shared/histogram.js';
import { openWritableDb } from '../shared/store/open-db.js';
import { RESOLUTIONS_MS } from '../shared/store/schema.js';

export interface SeedOptions {
  app?: string;
  days?: number;
  ratePerS?: number;
  endMs?: number;
  /** Distinct latency draws per 10 s bucket; each stands for rate*10/draws requests. */
  drawsPerBucket?: number;
}

const DAY_MS = 86_400_000;

/** Returns the number of rollup rows written, at all resolutions. */
export function seedRollups(path: string, options: SeedOptions = {}): number {
  const app = options.app ?? 'shop';
  const days = options.days ?? 7;
  const rate = options.ratePerS ?? 1000;
  const draws = options.drawsPerBucket ?? 400;
  const [fine, mid, coarse] = RESOLUTIONS_MS;
  const endMs = Math.floor((options.endMs ?? Date.now()) / coarse) * coarse + coarse;
  const startMs = endMs - days * DAY_MS;
  const perBucket = (rate * fine) / 1000;
  let seed = 12_345;
  const rand = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31 || 1e-9);
  const normal = (): number => Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand());

  const db = openWritableDb(path);
  const put = db.prepare(
    `INSERT OR REPLACE INTO rollups VALUES (?, ?, ?, ?, 0, ?, 0, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)`,
  );
  type Acc = { count: number; s2: number; s4: number; s5: number; rejected: number; timeouts: number; sum: number; service: LatencyHistogram; queue: LatencyHistogram };
  const fresh = (): Acc => ({ count: 0, s2: 0, s4: 0, s5: 0, rejected: 0, timeouts: 0, sum: 0, service: new LatencyHistogram(), queue: new LatencyHistogram() });
  const write = (res: number, t: number, a: Acc): void => {
    put.run(app, res, t, a.count, a.s2, a.s4, a.s5, a.rejected, a.timeouts, a.count - a.rejected, a.sum,
      a.service.min === null ? null : a.service.min / 1000, a.service.max === null ? null : a.service.max / 1000,
      a.service.encode(), a.queue.encode());
  };
  const add = (into: Acc, from: Acc): void => {
    into.count += from.count; into.s2 += from.s2; into.s4 += from.s4; into.s5 += from.s5;
    into.rejected += from.rejected; into.timeouts += from.timeouts; into.sum += from.sum;
    into.service.merge(from.service); into.queue.merge(from.queue);
  };

  let rows = 0;
  let minute = fresh();
  let hour = fresh();
  const weight = perBucket / draws;
  db.transaction(() => {
    for (let t = startMs; t < endMs; t += fine) {
      // Median service time follows the day: 8 ms at night, 20 ms at the afternoon peak.
      const dayPhase = Math.sin(((t % DAY_MS) / DAY_MS) * 2 * Math.PI);
      const medianUs = 14_000 + 6_000 * dayPhase;
      const b = fresh();
      for (let k = 0; k < draws; k++) {
        const us = medianUs * Math.exp(0.8 * normal());
        b.service.record(us, weight);
        b.queue.record(dayPhase > 0.8 ? 2000 * rand() : 50 * rand(), weight);
        b.sum += (us / 1000) * weight;
      }
      b.count = perBucket;
      b.s5 = Math.round(perBucket * 0.002);
      b.s4 = Math.round(perBucket * 0.03);
      b.s2 = perBucket - b.s4 - b.s5;
      write(fine, t, b);
      add(minute, b);
      add(hour, b);
      rows++;
      if ((t + fine) % mid === 0) (write(mid, t + fine - mid, minute), (minute = fresh()), rows++);
      if ((t + fine) % coarse === 0) (write(coarse, t + fine - coarse, hour), (hour = fresh()), rows++);
    }
  })();
  db.close();
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const path = process.argv[2] ?? 'seed-rollups.db';
  const t0 = performance.now();
  const rows = seedRollups(path, { days: Number(process.argv[3] ?? 7), ratePerS: Number(process.argv[4] ?? 1000) });
  console.log(`seeded ${rows} rollup rows into ${path} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
