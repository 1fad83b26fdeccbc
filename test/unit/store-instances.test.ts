/**
 * recordedMs: how much of a window the server runs were recording, the span a
 * card's req/s is divided by. Pure; the writer and reader are covered by
 * test/integration/store-instances.test.ts.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { INSTANCE_HEARTBEAT_MS, recordedMs } from '../../shared/store/instances.js';

const run = (startedMs: number, seenMs: number, stopped = true) => ({ startedMs, seenMs, stopped });

it('clips each run to the window and adds them up', () => {
  assert.equal(recordedMs([run(0, 1000)], 0, 1000), 1000);
  assert.equal(recordedMs([run(-500, 300)], 0, 1000), 300, 'started before the window');
  assert.equal(recordedMs([run(200, 5000)], 0, 1000), 800, 'still up after it');
  assert.equal(recordedMs([run(0, 100), run(600, 900)], 0, 1000), 400, 'a stop between two runs is not recorded time');
  assert.equal(recordedMs([run(-5000, -100)], 0, 1000), 0, 'a run that ended before the window');
  assert.equal(recordedMs([], 0, 1000), 0);
});

it('counts overlapping runs once (a writer thread restarted within one process)', () => {
  assert.equal(recordedMs([run(0, 600), run(400, 1000)], 0, 1000), 1000);
  assert.equal(recordedMs([run(100, 900), run(200, 300)], 0, 1000), 800);
});

it('a running instance counts up to one heartbeat past its last one, never past the window', () => {
  assert.equal(recordedMs([run(0, 1000, false)], 0, 100_000), 1000 + INSTANCE_HEARTBEAT_MS);
  assert.equal(recordedMs([run(0, 99_000, false)], 0, 100_000), 100_000);
});
