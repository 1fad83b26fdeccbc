/** The per-app limiter: FIFO admission, bounded queue, expiry, and limits changed at run time. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Limiter, type Waiter } from '../../server/host/limiter.js';

const item = (id: number): Waiter & { id: number } => ({ id, queuedAt: 0, inQueue: false });

test('admits up to the limit, queues up to the queue size, refuses the rest', () => {
  const limiter = new Limiter<ReturnType<typeof item>>(2, 2);
  assert.equal(limiter.acquire(item(1), 0), 'run');
  assert.equal(limiter.acquire(item(2), 0), 'run');
  assert.equal(limiter.acquire(item(3), 0), 'queued');
  assert.equal(limiter.acquire(item(4), 0), 'queued');
  assert.equal(limiter.acquire(item(5), 0), 'rejected');
  assert.equal(limiter.running, 2);
  assert.equal(limiter.waiting, 2);
  assert.equal(limiter.release()?.id, 3, 'FIFO');
  assert.equal(limiter.release()?.id, 4);
  assert.equal(limiter.release(), undefined);
  assert.equal(limiter.release(), undefined);
  assert.equal(limiter.running, 0);
});

test('queue 0 refuses as soon as every thread is busy', () => {
  const limiter = new Limiter<ReturnType<typeof item>>(1, 0);
  assert.equal(limiter.acquire(item(1), 0), 'run');
  assert.equal(limiter.acquire(item(2), 0), 'rejected');
});

test('raising the limit admits waiters at once', () => {
  const limiter = new Limiter<ReturnType<typeof item>>(1, 10);
  limiter.acquire(item(1), 0);
  for (let i = 2; i <= 5; i++) limiter.acquire(item(i), 0);
  assert.deepEqual(limiter.setLimit(3).map((w) => w.id), [2, 3]);
  assert.equal(limiter.running, 3);
  assert.equal(limiter.waiting, 2);
});

test('lowering the limit lets running requests finish and admits only below the new limit', () => {
  const limiter = new Limiter<ReturnType<typeof item>>(4, 10);
  for (let i = 1; i <= 4; i++) assert.equal(limiter.acquire(item(i), 0), 'run');
  limiter.acquire(item(5), 0);
  assert.deepEqual(limiter.setLimit(1), []);
  assert.equal(limiter.running, 4, 'nothing is killed');
  assert.equal(limiter.acquire(item(6), 0), 'queued');
  assert.equal(limiter.release(), undefined);
  assert.equal(limiter.release(), undefined);
  assert.equal(limiter.release(), undefined);
  assert.equal(limiter.running, 1);
  assert.equal(limiter.release()?.id, 5);
  assert.equal(limiter.running, 1);
});

test('cancelled waiters are skipped and not counted', () => {
  const limiter = new Limiter<ReturnType<typeof item>>(1, 3);
  limiter.acquire(item(1), 0);
  const two = item(2);
  limiter.acquire(two, 0);
  limiter.acquire(item(3), 0);
  limiter.cancel(two);
  limiter.cancel(two);
  assert.equal(limiter.waiting, 1);
  assert.equal(limiter.release()?.id, 3);
});

test('expire removes waiters queued at or before the deadline, oldest first', () => {
  const limiter = new Limiter<ReturnType<typeof item>>(1, 10);
  limiter.acquire(item(1), 0);
  limiter.acquire(item(2), 100);
  limiter.acquire(item(3), 200);
  limiter.acquire(item(4), 300);
  assert.deepEqual(limiter.expire(200).map((w) => w.id), [2, 3]);
  assert.equal(limiter.waiting, 1);
  assert.equal(limiter.release()?.id, 4);
});

test('a long run of queue churn keeps counts exact', () => {
  const limiter = new Limiter<ReturnType<typeof item>>(3, 50);
  let accepted = 0;
  let finished = 0;
  for (let round = 0; round < 20_000; round++) {
    if (limiter.acquire(item(round), round) !== 'rejected') accepted++;
    if (round % 3 !== 0 && limiter.running > 0) {
      limiter.release();
      finished++;
    }
    if (round % 1000 === 0) limiter.setLimit(1 + (round % 5));
    assert.ok(limiter.waiting <= 50);
    assert.equal(accepted, limiter.running + limiter.waiting + finished);
  }
});
