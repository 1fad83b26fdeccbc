/**
 * When a dead worker is started again, and how maxRequests is spread: pure numbers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKOFF_MAX_MS, STABLE_AFTER_MS, crashBackoffMs, maxRequestsWithJitter } from '../../server/supervisor/restart-policy.js';

test('the first crash restarts at once; quick crashes in a row back off exponentially up to 30 s', () => {
  let streak = 0;
  const waits: number[] = [];
  for (let i = 0; i < 9; i++) {
    const next = crashBackoffMs(streak, 200);
    streak = next.streak;
    waits.push(next.ms);
  }
  assert.deepEqual(waits, [0, 1000, 2000, 4000, 8000, 16_000, BACKOFF_MAX_MS, BACKOFF_MAX_MS, BACKOFF_MAX_MS]);
});

test('a worker that ran long enough ends the crash loop', () => {
  const inLoop = crashBackoffMs(5, 100);
  assert.ok(inLoop.ms > 0);
  assert.deepEqual(crashBackoffMs(inLoop.streak, STABLE_AFTER_MS), { ms: 0, streak: 1 });
});

test('maxRequests jitter lowers the limit by at most 10 % and keeps 0 as off', () => {
  assert.equal(maxRequestsWithJitter(0, 0.5), 0);
  assert.equal(maxRequestsWithJitter(1000, 0), 1000);
  assert.equal(maxRequestsWithJitter(1000, 0.999), 901);
  assert.equal(maxRequestsWithJitter(1, 0.999), 1);
  for (let r = 0; r < 1; r += 0.01) {
    const v = maxRequestsWithJitter(500, r);
    assert.ok(v >= 450 && v <= 500, String(v));
  }
});
