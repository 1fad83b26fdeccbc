// Histogram accuracy against exact percentiles, merge laws and the BLOB encoding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  LatencyHistogram,
  HISTOGRAM_BUCKETS,
  HISTOGRAM_MAX_US,
  HISTOGRAM_RELATIVE_ERROR,
  bucketIndex,
  bucketMidpoint,
} from '../../shared/histogram.js';
import { isDragonError } from '../../shared/errors.js';

/** Nearest-rank percentile, the definition the histogram approximates. */
function exactPercentile(sorted: number[], q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1]!;
}

function assertClose(actual: number | null, exact: number, what: string): void {
  assert.notEqual(actual, null, what);
  const err = Math.abs(actual! - exact);
  assert.ok(err <= exact * HISTOGRAM_RELATIVE_ERROR + 1e-9, `${what}: got ${actual}, exact ${exact}`);
}

const QUANTILES = [0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1];

test('bucket indexes are monotonic, in range, and values below 128 µs are exact', () => {
  let prev = -1;
  for (let v = 0; v < 200_000; v++) {
    const i = bucketIndex(v);
    assert.ok(i >= prev && i < HISTOGRAM_BUCKETS);
    prev = i;
    if (v < 128) assert.equal(bucketMidpoint(i), v);
  }
  assert.equal(bucketIndex(HISTOGRAM_MAX_US), HISTOGRAM_BUCKETS - 1);
  assert.equal(bucketIndex(2 ** 31), HISTOGRAM_BUCKETS - 64);
});

test('the midpoint of every bucket is within 1/128 of every value in it', () => {
  for (const v of [128, 129, 255, 256, 1000, 4095, 4096, 123_456, 2 ** 31 - 1, 2 ** 31, HISTOGRAM_MAX_US]) {
    const mid = bucketMidpoint(bucketIndex(v));
    assert.ok(Math.abs(mid - v) <= v / 128, `v=${v} mid=${mid}`);
  }
});

test('percentiles on random log-normal latencies match exact ones within the stated error', () => {
  let seed = 42;
  const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const h = new LatencyHistogram();
  const values: number[] = [];
  for (let k = 0; k < 100_000; k++) {
    // Box-Muller around 5 ms, a long tail to seconds.
    const z = Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
    const v = Math.round(Math.exp(Math.log(5000) + 1.2 * z));
    values.push(v);
    h.record(v);
  }
  values.sort((a, b) => a - b);
  for (const q of QUANTILES) assertClose(h.percentile(q), exactPercentile(values, q), `q=${q}`);
  assert.equal(h.count, values.length);
  assert.equal(h.sum, values.reduce((a, b) => a + b, 0));
  assert.equal(h.min, values[0]);
  assert.equal(h.max, values.at(-1));
});

test('property: any percentile of any data is within 1/128 of the exact one', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: HISTOGRAM_MAX_US }), { minLength: 1, maxLength: 300 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (values, q) => {
        const h = new LatencyHistogram();
        for (const v of values) h.record(v);
        const sorted = [...values].sort((a, b) => a - b);
        assertClose(h.percentile(q), exactPercentile(sorted, q), `q=${q}`);
      },
    ),
    { numRuns: 500 },
  );
});

test('property: merge equals recording everything into one histogram', () => {
  const values = fc.array(fc.integer({ min: 0, max: 10_000_000 }), { maxLength: 200 });
  fc.assert(
    fc.property(values, values, (a, b) => {
      const ha = new LatencyHistogram();
      const hb = new LatencyHistogram();
      const all = new LatencyHistogram();
      for (const v of a) (ha.record(v), all.record(v));
      for (const v of b) (hb.record(v), all.record(v));
      ha.merge(hb);
      assert.deepEqual(ha.encode(), all.encode());
      for (const q of [0.5, 0.95, 0.99]) assert.equal(ha.percentile(q), all.percentile(q));
    }),
  );
});

test('property: a histogram reset and reused answers as a new one (only the buckets it touched are scanned and cleared)', () => {
  const values = fc.array(fc.integer({ min: 0, max: HISTOGRAM_MAX_US }), { maxLength: 100 });
  fc.assert(
    fc.property(values, values, values, (before, merged, after) => {
      const reused = new LatencyHistogram();
      for (const v of before) reused.record(v);
      const other = new LatencyHistogram();
      for (const v of merged) other.record(v);
      reused.merge(other);
      reused.reset();
      assert.equal(reused.count, 0);
      assert.equal(reused.percentile(0.5), null);
      const fresh = new LatencyHistogram();
      for (const v of after) (reused.record(v), fresh.record(v));
      assert.deepEqual(reused.encode(), fresh.encode());
      for (const q of QUANTILES) assert.equal(reused.percentile(q), fresh.percentile(q));
      const edges = [64, 128, 1024, 65_536, 2 ** 20];
      assert.deepEqual(reused.countsBelow(edges), fresh.countsBelow(edges));
    }),
  );
});

test('property: encode/decode round-trips, and mergeEncoded equals merge', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: HISTOGRAM_MAX_US }), fc.integer({ min: 1, max: 2 ** 20 })), {
        maxLength: 100,
      }),
      (pairs) => {
        const h = new LatencyHistogram();
        for (const [v, c] of pairs) h.record(v, c);
        const back = LatencyHistogram.decode(h.encode());
        assert.equal(back.count, h.count);
        assert.equal(back.sum, h.sum);
        assert.equal(back.min, h.min);
        assert.equal(back.max, h.max);
        assert.deepEqual(back.encode(), h.encode());
        const twice = LatencyHistogram.decode(h.encode());
        twice.mergeEncoded(h.encode());
        const merged = LatencyHistogram.decode(h.encode());
        merged.merge(h);
        assert.deepEqual(twice.encode(), merged.encode());
      },
    ),
  );
});

test('edge inputs: negatives and NaN are 0, fractions round, huge values cap, empty is null', () => {
  const h = new LatencyHistogram();
  assert.equal(h.percentile(0.5), null);
  assert.equal(h.min, null);
  assert.equal(LatencyHistogram.decode(h.encode()).count, 0);
  h.record(-5);
  h.record(Number.NaN);
  h.record(1.6);
  h.record(1e12);
  h.record(7, 0); // a zero count records nothing
  assert.equal(h.count, 4);
  assert.equal(h.min, 0);
  assert.equal(h.max, HISTOGRAM_MAX_US);
  assert.equal(h.percentile(0.75), 2);
  h.reset();
  assert.equal(h.count, 0);
  assert.equal(h.sum, 0);
});

test('a typical rollup encodes compactly', () => {
  const h = new LatencyHistogram();
  for (let v = 1000; v < 200_000; v += 7) h.record(v);
  assert.ok(h.encode().length < 1200, `${h.encode().length} bytes`);
});

test('corrupt blobs raise DOW_ERR_STORE and leave the target unchanged', () => {
  const good = new LatencyHistogram();
  good.record(500);
  const blob = good.encode();
  for (const bad of [Buffer.alloc(0), Buffer.from([9, 0, 0, 0, 0]), blob.subarray(0, blob.length - 1), Buffer.concat([blob, Buffer.from([0])])]) {
    const target = new LatencyHistogram();
    target.record(3);
    assert.throws(() => target.mergeEncoded(bad), (err) => isDragonError(err, 'DOW_ERR_STORE'));
    assert.equal(target.count, 1);
  }
});
