/**
 * Figures summed over an app's workers must be those of all its requests: counters add, extremes
 * combine, and the mean, stddev and percentiles are merged exactly, never averaged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AppStats } from '../../server/host/app-stats.js';

test('merging per-worker figures equals recording every request in one place', () => {
  const request = fc.record({ ms: fc.double({ min: 0.01, max: 5000, noNaN: true }), queue: fc.double({ min: 0, max: 100, noNaN: true }), status: fc.constantFrom(200, 404, 500, 503) });
  fc.assert(
    fc.property(fc.array(fc.array(request, { maxLength: 40 }), { minLength: 1, maxLength: 4 }), (perWorker) => {
      const all = new AppStats();
      const merged = new AppStats();
      for (const requests of perWorker) {
        const worker = new AppStats();
        for (const r of requests) {
          worker.record(r.ms, r.queue, r.status);
          all.record(r.ms, r.queue, r.status);
        }
        merged.merge(worker.toData());
      }
      assert.equal(merged.requests, all.requests);
      assert.equal(merged.errors, all.errors);
      assert.equal(merged.longest, all.longest);
      assert.equal(merged.shortest, all.shortest);
      const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
      assert.ok(close(merged.onlineTime, all.onlineTime));
      assert.ok(close(merged.average, all.average), `${merged.average} vs ${all.average}`);
      assert.ok(Math.abs(merged.stddev - all.stddev) <= 1e-6 * Math.max(1, all.stddev), `${merged.stddev} vs ${all.stddev}`);
      for (const q of [0.5, 0.95, 0.99]) assert.equal(merged.percentile(q), all.percentile(q));
    }),
    { numRuns: 200 },
  );
});
