// Window covers over rollup resolutions: exact tiling and the series resolution per window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WINDOWS_MS } from '../../shared/history.js';
import { coverWindow, seriesResolution } from '../../shared/store/rollup-cover.js';

test('series resolutions: 10 s up to 1 h, 1 min up to 24 h, 1 h beyond', () => {
  assert.equal(seriesResolution(WINDOWS_MS['15m']), 10_000);
  assert.equal(seriesResolution(WINDOWS_MS['1h']), 10_000);
  assert.equal(seriesResolution(WINDOWS_MS['6h']), 60_000);
  assert.equal(seriesResolution(WINDOWS_MS['24h']), 60_000);
  assert.equal(seriesResolution(WINDOWS_MS['7d']), 3_600_000);
});

test('property: a cover tiles the window without overlap, sticking out by under 10 s per edge', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2e12 }), fc.integer({ min: 1, max: WINDOWS_MS['7d'] * 2 }), (from, len) => {
      const to = from + len;
      const ranges = coverWindow(from, to);
      for (const r of ranges) {
        assert.equal(r.loMs % r.resMs, 0);
        assert.equal(r.hiMs % r.resMs, 0);
        assert.ok(r.loMs < r.hiMs);
      }
      for (let k = 1; k < ranges.length; k++) assert.equal(ranges[k]!.loMs, ranges[k - 1]!.hiMs);
      assert.ok(ranges[0]!.loMs <= from && from - ranges[0]!.loMs < 10_000);
      assert.ok(ranges.at(-1)!.hiMs >= to && ranges.at(-1)!.hiMs - to < 10_000);
    }),
  );
});

test('a 7-day window merges about 300 buckets, mostly hourly', () => {
  const from = Date.UTC(2024, 0, 1, 10, 17, 23);
  const ranges = coverWindow(from, from + WINDOWS_MS['7d']);
  const buckets = ranges.reduce((n, r) => n + (r.hiMs - r.loMs) / r.resMs, 0);
  assert.ok(buckets < 320, `${buckets} buckets`);
  assert.ok(ranges.some((r) => r.resMs === 3_600_000));
});
