/** The benchmark's /proc/<pid>/stat reader: CPU per request is only as right as these fields. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStat, sampleTree } from '../../scripts/bench/proc-stats.js';

// A real line's shape (proc(5)): pid (comm) state ppid ... utime(14) stime(15) ...
const line = (comm: string): string =>
  `4242 (${comm}) S 17 4242 17 0 -1 4194560 1000 0 0 0 123 45 0 0 20 0 11 0 100 1000000 5000 18446744073709551615`;

test('parseStat reads ppid, utime and stime, counting fields from the last ")"', () => {
  for (const comm of ['node', 'nginx: worker process', 'odd) name (x', ') )']) {
    assert.deepEqual(parseStat(line(comm)), { ppid: 17, cpuTicks: 168, userTicks: 123 }, comm);
  }
});

test('sampleTree of this process: user time is part of the CPU time', () => {
  const sample = sampleTree(process.pid);
  assert.ok(sample.processes >= 1);
  assert.ok(sample.userSeconds <= sample.cpuSeconds);
  assert.ok(sample.rssBytes > 0);
});
