/**
 * An app's running totals to one window's sample: service time is total less queue wait, and
 * requests that never ran (503s, queue timeouts) count as none finished.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { windowSample, type AppTotals } from '../../server/adaptive/window-sample.js';

const zero: AppTotals = { requests: 0, rejected: 0, timeouts: 0, onlineTime: 0, queueTime: 0, queued: 0 };

test('service time excludes the queue wait; 503s and timeouts are not finished requests', () => {
  // 10 requests: 8 ran for 20 ms each after waiting 5 ms, 2 were refused at once.
  const after: AppTotals = { requests: 10, rejected: 2, timeouts: 0, onlineTime: 8 * 0.025, queueTime: 8 * 0.005, queued: 3 };
  const s = windowSample(zero, after, 1000);
  assert.equal(s.completed, 8);
  assert.ok(Math.abs(s.serviceMs - 160) < 1e-9);
  assert.equal(s.queued, 3);
  assert.equal(s.elapsedMs, 1000);
});

test('a window where the totals went backwards (a worker replaced between reads) says nothing', () => {
  const before: AppTotals = { ...zero, requests: 100, onlineTime: 2 };
  assert.deepEqual(windowSample(before, { ...zero, requests: 90, onlineTime: 1.5, queued: 4 }, 1000), { completed: 0, serviceMs: 0, elapsedMs: 1000, queued: 4 });
  assert.equal(windowSample(before, { ...before, requests: 110, onlineTime: 1 }, 1000).completed, 0);
});

test('property: a sample is never negative, and says nothing rather than something wrong', () => {
  const totals = fc.record({ requests: fc.nat(1e6), rejected: fc.nat(1e6), timeouts: fc.nat(1e6), onlineTime: fc.double({ min: 0, max: 1e6, noNaN: true }), queueTime: fc.double({ min: 0, max: 1e6, noNaN: true }), queued: fc.nat(1000) });
  fc.assert(fc.property(totals, totals, (a, b) => {
    const s = windowSample(a, b, 1000);
    assert.ok(s.completed >= 0 && s.serviceMs >= 0);
    if (s.completed === 0) assert.equal(s.serviceMs, 0);
  }));
});
