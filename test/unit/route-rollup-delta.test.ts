// A batch's per-route rollup cells (server/store/route-rollup-delta.ts) against the plain
// definition: one cell per (app, method, route, resolution, bucket), each counting exactly its
// rows, whatever characters the parts hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { aggregateRoutes } from '../../server/store/route-rollup-delta.js';
import { OVERFLOW_ROUTE, ROUTE_RESOLUTIONS_MS } from '../../shared/store/schema.js';
import { Outcome, type TimingRow } from '../../shared/timing-row.js';

const DAY_MS = 86_400_000;
// Parts that would run together if joined naively: spaces, NULs, a separator inside a route.
const part = fc.constantFrom('a', 'a b', 'a\u0000b', 'b', '', ' ', '/x/:id', '["x"]');
const rowArb = fc.record({
  app: fc.constantFrom('shop', 'blog', 'shop blog'),
  method: fc.constantFrom('GET', 'POST', 'GET a'),
  route: fc.oneof(part, fc.constant(OVERFLOW_ROUTE.route), fc.constant(null)),
  startMs: fc.integer({ min: 20_000 * DAY_MS, max: 20_000 * DAY_MS + 2 * DAY_MS }),
  status: fc.constantFrom(200, 404, 500, 503),
  outcome: fc.constantFrom(Outcome.ANSWERED, Outcome.REJECTED),
  serviceMs: fc.double({ min: 0, max: 5000, noNaN: true }),
});

test('fuzz: each cell counts exactly the rows of its app, method, route and bucket, at every resolution', () => {
  fc.assert(
    fc.property(fc.array(rowArb, { maxLength: 200 }), (drawn) => {
      const rows: TimingRow[] = drawn.map((r) => ({ ...r, queueMs: 0, bytesIn: 0, bytesOut: 0, path: null }));
      const cells = aggregateRoutes(rows);
      const expected = new Map<string, { count: number; errors: number; serviceCount: number }>();
      for (const resMs of ROUTE_RESOLUTIONS_MS) {
        for (const row of rows) {
          if (row.route === null || row.route === undefined) continue;
          const method = row.route === OVERFLOW_ROUTE.route ? OVERFLOW_ROUTE.method : row.method;
          const key = JSON.stringify([row.app, method, row.route, resMs, Math.floor(row.startMs / resMs) * resMs]);
          const e = expected.get(key) ?? { count: 0, errors: 0, serviceCount: 0 };
          e.count++;
          if (row.status >= 500) e.errors++;
          if (row.outcome !== Outcome.REJECTED) e.serviceCount++;
          expected.set(key, e);
        }
      }
      const seen = new Map<string, { count: number; errors: number; serviceCount: number }>();
      for (const c of cells) {
        const key = JSON.stringify([c.app, c.method, c.route, c.resMs, c.bucketMs]);
        assert.equal(seen.has(key), false, `one cell per key: ${key}`);
        seen.set(key, { count: c.count, errors: c.errors, serviceCount: c.serviceCount });
        assert.equal(c.service.count, c.serviceCount);
      }
      assert.deepEqual(seen, expected);
    }),
    { numRuns: 300 },
  );
});
