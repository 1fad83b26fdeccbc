/** The benchmark's readers of /proc/<pid>/stat and of strace -c: the CPU and system-call figures are only as right as these. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { busiestThread, parseStat, sampleTree } from '../../scripts/bench/proc-stats.js';
import { parseStraceSummary } from '../../scripts/bench/syscall-count.js';

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

test('parseStraceSummary reads the calls column of strace -c, errors column blank or not', () => {
  const text = [
    '% time     seconds  usecs/call     calls    errors syscall',
    '------ ----------- ----------- --------- --------- ----------------',
    ' 11.14    1.688153         167     10103         1 epoll_pwait',
    '  1.04    0.156986           7     20013           epoll_ctl',
    '  0.00    0.000000           0         1         1 shutdown',
    '------ ----------- ----------- --------- --------- ----------------',
    '100.00   15.151002         485     31216       101 total',
  ].join('\n');
  assert.deepEqual([...parseStraceSummary(text)], [['epoll_pwait', 10103], ['epoll_ctl', 20013], ['shutdown', 1]]);
  assert.equal(parseStraceSummary('strace: Process 42 attached\n').size, 0);
});

test('busiestThread: the thread that used the most CPU between samples, and what the others used', () => {
  const before = new Map([['10/10', { cpuTicks: 100, userTicks: 40 }], ['10/11', { cpuTicks: 5, userTicks: 5 }], ['20/20', { cpuTicks: 50, userTicks: 10 }]]);
  const after = new Map([['10/10', { cpuTicks: 130, userTicks: 50 }], ['10/11', { cpuTicks: 9, userTicks: 8 }], ['20/20', { cpuTicks: 290, userTicks: 110 }], ['20/21', { cpuTicks: 3, userTicks: 3 }]]);
  // 20/20 used 240 (100 user); the others 30 + 4 + 3, a thread born between the samples included.
  assert.deepEqual(busiestThread(before, after), { cpuTicks: 240, userTicks: 100, othersCpuTicks: 37 });
});
