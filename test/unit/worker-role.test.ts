/**
 * The pool's roles for its workers: which moves lead where, and what a role says about the
 * worker's exit (replaced or not, a standby or not). Pure: no process is forked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WorkerProcess } from '../../server/supervisor/worker-process.js';
import * as roles from '../../server/supervisor/worker-role.js';

function worker(role: 'loading' | 'replacement' = 'loading'): roles.PoolWorker {
  return roles.createPoolWorker({} as WorkerProcess, 0, role);
}

test('a loaded worker serves once admitted; a replacement keeps being retried if it cannot listen', () => {
  const started = worker('loading');
  roles.admitted(started);
  assert.deepEqual(started.role, { name: 'serving', replacement: false, recycling: false });
  assert.equal(roles.retries(started.role), false);
  const replacement = worker('replacement');
  roles.admitted(replacement);
  assert.equal(roles.retries(replacement.role), true);
  roles.failed(replacement);
  assert.deepEqual(replacement.role, { name: 'failed', retry: true, retiring: false, standbyFor: null });
});

test('a retired worker is not replaced, whatever ends it afterwards', () => {
  const w = worker();
  roles.admitted(w);
  roles.retired(w);
  assert.equal(roles.isRetiring(w.role), true);
  roles.hung(w, 'stuck');
  assert.equal(w.role.name, 'hung');
  assert.equal(roles.isRetiring(w.role), true);
  const failing = worker('replacement');
  roles.retired(failing);
  roles.failed(failing);
  assert.deepEqual(failing.role, { name: 'failed', retry: true, retiring: true, standbyFor: null });
});

test('a discarded worker is not retried; a retiring one discarded stays retiring', () => {
  const w = worker('replacement');
  roles.discarded(w);
  assert.deepEqual(w.role, { name: 'failed', retry: false, retiring: false, standbyFor: null });
  const draining = worker('replacement');
  roles.retired(draining);
  roles.discarded(draining);
  assert.deepEqual(draining.role, { name: 'retiring', replacement: false });
});

test('a standby stays linked to its worker when it hangs or fails, and takes over as a replacement', () => {
  const served = worker();
  roles.admitted(served);
  const standby = worker();
  roles.becomeStandby(standby, served);
  roles.retired(standby);
  assert.equal(roles.standbyOf(standby.role), served, 'a stop drains a standby; it stays one');
  roles.hung(standby, 'stuck');
  assert.equal(roles.standbyOf(standby.role), served);
  roles.tookOver(standby);
  assert.equal(roles.standbyOf(standby.role), null);
  assert.equal(roles.retries(standby.role), true);
  const fresh = worker();
  roles.becomeStandby(fresh, served);
  roles.tookOver(fresh);
  assert.deepEqual(fresh.role, { name: 'replacement' });
});

test('only a serving worker records a recycle under way', () => {
  const w = worker();
  roles.setRecycling(w, true);
  assert.deepEqual(w.role, { name: 'loading' });
  roles.admitted(w);
  roles.setRecycling(w, true);
  assert.deepEqual(w.role, { name: 'serving', replacement: false, recycling: true });
});
