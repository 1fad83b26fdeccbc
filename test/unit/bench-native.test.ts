/** The native I/O part of the benchmark: its verdicts, the long-poll comparison and the "where the time goes" note are only as right as these. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HttpResults, HttpRound } from '../../scripts/bench/http-report.js';
import type { LongPollResult } from '../../scripts/bench/long-poll.js';
import { summarize, type Measurement } from '../../scripts/bench/measure.js';
import { formatNative, longPollRss, nativeVerdicts, syscallSummary, whereTimeGoes, type NativeGroupResult, type NativeResults } from '../../scripts/bench/native-report.js';
import { longPollTable } from '../../scripts/bench/report.js';
import { NATIVE_GROUPS, type TargetId } from '../../scripts/bench/targets.js';

function round(target: TargetId, n: number, rps: number, cpuUs: number, userUs = cpuUs / 2): HttpRound {
  const measurement: Measurement = {
    target, round: n,
    wrk: { requests: rps * 10, seconds: 10, requestsPerSecond: rps, p50Ms: 1, p99Ms: 2, socketErrors: 0, non2xx: 0 },
    backendCpuUs: cpuUs, backendUserUs: userUs, nginxCpuUs: 30, backendRssBytes: 1, loop: null,
    requestThreadUs: null, requestThreadUserUs: null, otherThreadsUs: null,
  };
  return { measurement, busyCores: 2, otherCores: 0.4 };
}

function group(id: NativeGroupResult['id'], perRound: HttpRound[], rounds: number): NativeGroupResult {
  const spec = NATIVE_GROUPS.find((g) => g.id === id);
  assert.ok(spec);
  const measurements = perRound.map((r) => r.measurement);
  const results: HttpResults = {
    rounds, secondsPerRun: 8, connections: 32,
    targets: spec.targets.map((t) => ({ id: t.id, label: t.label })),
    summaries: spec.targets.filter((t) => measurements.some((m) => m.target === t.id)).map((t) => summarize(t, measurements)),
    perRound, storeChecks: [], loadAtStart: '0', loadAtEnd: '0', commands: [], wrkCommand: 'wrk', nginxConfig: '',
  };
  return { id, label: spec.label, results };
}

const held = (io: 'native' | 'node', heldRssMiB: number, errors = 0): LongPollResult => ({
  held: 10_000, io, apps: 10, idleRssMiB: 90, heldRssMiB, perRequestKiB: ((heldRssMiB - 90) * 1024) / 10_000,
  onlineSeen: 10_000, answered200: 10_000 - errors, errors, errorSamples: [], seconds: 4,
});

function native(groups: NativeGroupResult[], longPoll: LongPollResult[] = []): NativeResults {
  return { rounds: 2, secondsPerRun: 8, groups, longPoll, syscalls: [], failures: [] };
}

test('nativeVerdicts: TCP against uWSGI by the median of per-round ratios, the limit itself included', () => {
  // Round 2 ran while the machine was busy: every target slowed, the ratios did not.
  const tcp = group('tcp', [
    round('uwsgi', 1, 10_000, 20), round('ours-full-native', 1, 10_000, 20), round('ours-full-node', 1, 6_000, 50),
    round('uwsgi', 2, 5_000, 40), round('ours-full-native', 2, 5_500, 36), round('ours-full-node', 2, 3_000, 100),
  ], 2);
  const [cpu, rps, gain] = nativeVerdicts(native([tcp]));
  assert.equal(cpu?.met, true);
  assert.match(cpu?.target ?? '', /TCP: native backend CPU\/request ≤ 1\.0 × uWSGI's$/);
  assert.match(cpu?.measured ?? '', /^28\.0 vs 30\.0 µs \(0\.95× median of per-round ratios, rounds 0\.90–1\.00; ratio of medians 0\.93×\)$/);
  assert.equal(rps?.met, true);
  assert.equal(gain?.met, true);
  assert.match(gain?.measured ?? '', /28\.0 vs 75\.0 µs \(0\.38×.*\): -62\.0 % CPU; req\/s 7,750 vs 4,500, 1\.75×/);
});

test('nativeVerdicts: a missed uWSGI target is ✗, a group that did not run is not measured, and so is long-poll without both paths', () => {
  const tcp = group('tcp', [round('uwsgi', 1, 10_000, 20), round('ours-full-native', 1, 8_000, 30), round('ours-full-node', 1, 6_000, 50)], 1);
  const v = nativeVerdicts(native([tcp], [held('native', 150)]));
  assert.deepEqual(v.slice(0, 3).map((x) => x.met), [false, false, true]);
  const unix = v.filter((x) => x.target.includes('Unix socket'));
  assert.equal(unix.length, 3);
  assert.ok(unix.every((x) => x.met === null && x.measured === 'not run'));
  assert.match(unix[0]?.target ?? '', /same limits as on TCP/);
  const express = v.find((x) => x.target.startsWith('Express 5'));
  assert.equal(express?.met, null);
  const longPoll = v[v.length - 1];
  assert.equal(longPoll?.met, null);
  assert.equal(longPoll?.measured, 'not run');
});

test('nativeVerdicts: no gain when the native path costs as much as node:net', () => {
  const fetch = group('fetch', [round('ours-fetch-native', 1, 5_000, 100), round('ours-fetch-node', 1, 5_000, 100)], 1);
  const v = nativeVerdicts(native([fetch])).find((x) => x.target.startsWith('fetch-handler'));
  assert.equal(v?.met, false);
  assert.match(v?.measured ?? '', /\+0\.0 % CPU/);
});

test('long-poll: the median held RSS of each path; within 5 % of node:net\'s and no errors is met', () => {
  const runs = [held('native', 150), held('node', 150), held('node', 140), held('native', 160), held('native', 155), held('node', 148)];
  assert.equal(longPollRss(runs, 'native'), 155);
  assert.equal(longPollRss(runs, 'node'), 148);
  assert.ok(Number.isNaN(longPollRss([], 'node')));
  const last = (r: NativeResults) => nativeVerdicts(r).at(-1);
  assert.equal(last(native([], runs))?.met, true); // 155 ≤ 148 × 1.05 = 155.4
  assert.match(last(native([], runs))?.measured ?? '', /155\.0 vs 148\.0 MiB held \(1\.05×; medians of 3 and 3 run\(s\)\), 0 errors/);
  assert.equal(last(native([], [held('native', 156), held('node', 148)]))?.met, false);
  assert.equal(last(native([], [held('native', 100), held('node', 148, 1)]))?.met, false);
});

test('longPollTable adds an I/O column only when the runs named their io', () => {
  const plain = { ...held('node', 150) };
  delete plain.io;
  assert.match(longPollTable([plain])[0] ?? '', /^\| held \|/);
  const table = longPollTable([held('native', 150), held('node', 152)]);
  assert.match(table[0] ?? '', /^\| I\/O \| held \|/);
  assert.match(table[2] ?? '', /^\| native \| 10,000 \| 10 \| 90\.0 \| 150\.0 \|/);
});

test('whereTimeGoes: only for a missed uWSGI target, with the user and system split and the system calls', () => {
  const met = group('tcp', [round('uwsgi', 1, 10_000, 20, 5), round('ours-full-native', 1, 10_000, 19, 6), round('ours-full-node', 1, 6_000, 50)], 1);
  assert.deepEqual(whereTimeGoes(native([met])), []);
  const missed = group('tcp', [round('uwsgi', 1, 10_000, 20, 5), round('ours-full-native', 1, 8_000, 30, 12), round('ours-full-node', 1, 6_000, 50)], 1);
  const r = native([missed]);
  r.syscalls = [
    { id: 'uwsgi', label: 'uWSGI', requests: 1000, perRequest: new Map([['accept4', 1], ['read', 1], ['writev', 1], ['close', 1], ['epoll_wait', 1]]) },
    { id: 'ours-full-native', label: 'native', requests: 1000, perRequest: new Map([['accept4', 1], ['epoll_ctl', 4], ['mprotect', 0.01]]) },
  ];
  const lines = whereTimeGoes(r);
  assert.equal(lines.length, 2);
  assert.match(lines[0] ?? '', /native 30\.0 µs\/request \(user 12\.0, system 18\.0\) against uWSGI's 20\.0 \(user 5\.0, system 15\.0\): user \+7\.0 µs, system \+3\.0 µs/);
  assert.match(lines[1] ?? '', /native 5\.0 \(epoll_ctl 4\.00, accept4 1\.00\); node:net –; uWSGI 5\.0/);
  assert.match(formatNative(r).join('\n'), /Where the time goes \(a target was missed\)/);
});

test('syscallSummary: total, then the calls of at least 0.05 per request, most first', () => {
  assert.equal(syscallSummary(undefined), '–');
  assert.equal(syscallSummary({ id: 'uwsgi', label: 'u', requests: 1, perRequest: new Map([['read', 1], ['futex', 2], ['brk', 0.01]]) }), '3.0 (futex 2.00, read 1.00)');
});
