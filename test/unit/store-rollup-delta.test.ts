/**
 * Rollup aggregation: coarse cells merged from fine ones must equal cells built from the rows
 * directly, for every resolution, app and bucket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { aggregate, type RollupCell } from '../../server/store/rollup-delta.js';
import { Outcome, type TimingRow } from '../../shared/timing-row.js';

const HOUR = 3_600_000;

function direct(rows: TimingRow[], resMs: number): Map<string, RollupCell> {
  // One resolution at a time: the plain per-row definition the merged result must match.
  return new Map(aggregate(rows, [resMs]).map((cell) => [`${cell.resMs}|${cell.bucketMs}|${cell.app}`, cell]));
}

function summary(cell: RollupCell) {
  return {
    count: cell.count, status: cell.status, rejected: cell.rejected, timeouts: cell.timeouts, aborted: cell.aborted,
    serviceCount: cell.serviceCount, min: cell.serviceMinMs, max: cell.serviceMaxMs,
    service: cell.service.encode().toString('hex'), queue: cell.queue.encode().toString('hex'),
  };
}

const rowArb = fc.record({
  app: fc.constantFrom('a', 'b_2'),
  startMs: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_000 + 3 * HOUR }),
  queueMs: fc.double({ min: 0, max: 5000, noNaN: true }),
  serviceMs: fc.double({ min: 0, max: 60_000, noNaN: true }),
  status: fc.constantFrom(200, 204, 301, 404, 499, 500, 503, 504),
  outcome: fc.constantFrom(Outcome.ANSWERED, Outcome.REJECTED, Outcome.TIMEOUT, Outcome.ABORTED, Outcome.APP_ERROR),
  bytesIn: fc.nat(), bytesOut: fc.nat(), method: fc.constant('GET'), path: fc.constant(null),
}) as fc.Arbitrary<TimingRow>;

test('cells merged from 10 s cells equal cells built from rows, at 1 min and 1 h', () => {
  fc.assert(
    fc.property(fc.array(rowArb, { maxLength: 300 }), (rows) => {
      const merged = new Map(aggregate(rows).map((cell) => [`${cell.resMs}|${cell.bucketMs}|${cell.app}`, cell]));
      const expected = new Map([...direct(rows, 10_000), ...direct(rows, 60_000), ...direct(rows, HOUR)]);
      assert.deepEqual([...merged.keys()].sort(), [...expected.keys()].sort());
      for (const [key, cell] of expected) {
        const got = merged.get(key)!;
        assert.deepEqual(summary(got), summary(cell), key);
        // Sums added in another order may differ in the last bits.
        assert.ok(Math.abs(got.serviceSumMs - cell.serviceSumMs) <= 1e-9 * Math.max(1, cell.serviceSumMs), key);
      }
    }),
    { numRuns: 200 },
  );
});

test('a resolution that is not a multiple of the finest is refused', () => {
  const row: TimingRow = { app: 'a', startMs: 0, queueMs: 0, serviceMs: 1, status: 200, outcome: Outcome.ANSWERED, bytesIn: 0, bytesOut: 0, method: 'GET', path: null };
  assert.throws(() => aggregate([row], [10_000, 15_000]), RangeError);
});
