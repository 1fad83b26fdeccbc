/** The HTTP-listener part of the benchmark: its round order, per-round pairing, ratios and verdicts are only as right as these. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roundOrder } from '../../scripts/bench/http-load.js';
import { byRound, formatHttp, httpRatio, httpVerdicts, meets, verdictLines, type HttpResults, type HttpRound } from '../../scripts/bench/http-report.js';
import { summarize, type Measurement } from '../../scripts/bench/measure.js';
import { HTTP_TARGETS, type TargetId } from '../../scripts/bench/targets.js';

function round(target: TargetId, n: number, rps: number, cpuUs: number): HttpRound {
  const measurement: Measurement = {
    target, round: n,
    wrk: { requests: rps * 10, seconds: 10, requestsPerSecond: rps, p50Ms: 1, p99Ms: 2, socketErrors: 0, non2xx: 0 },
    backendCpuUs: cpuUs, backendUserUs: cpuUs / 2, nginxCpuUs: 20, backendRssBytes: 1, loop: null,
    requestThreadUs: null, requestThreadUserUs: null, otherThreadsUs: null,
  };
  return { measurement, busyCores: 2, otherCores: 0.5 };
}

function results(perRound: HttpRound[], rounds: number): HttpResults {
  const measurements = perRound.map((r) => r.measurement);
  return {
    rounds, secondsPerRun: 10, connections: 32,
    targets: HTTP_TARGETS.map((t) => ({ id: t.id, label: t.label })),
    summaries: HTTP_TARGETS.filter((t) => measurements.some((m) => m.target === t.id)).map((t) => summarize(t, measurements)),
    perRound, storeChecks: [], loadAtStart: '0', loadAtEnd: '0', commands: [], wrkCommand: 'wrk', nginxConfig: '',
  };
}

test('roundOrder runs forward on odd rounds and backward on even ones, without changing its input', () => {
  const items = ['a', 'b', 'c'];
  assert.deepEqual(roundOrder(items, 1), ['a', 'b', 'c']);
  assert.deepEqual(roundOrder(items, 2), ['c', 'b', 'a']);
  assert.deepEqual(roundOrder(items, 3), ['a', 'b', 'c']);
  assert.deepEqual(items, ['a', 'b', 'c']);
});

test('byRound puts each round in its place, whatever order the runs came in, and NaN where one is missing', () => {
  const runs = [round('ours-http', 2, 200, 1), round('proxy-keepalive', 1, 999, 1), round('ours-http', 1, 100, 1)];
  assert.deepEqual(byRound(runs, 'ours-http', 3, (m) => m.wrk.requestsPerSecond), [100, 200, NaN]);
  assert.deepEqual(byRound(runs, 'ours-http', 3, (m) => m.backendCpuUs), [1, 1, NaN]);
});

test('httpRatio pairs runs by round: the median of per-round ratios, their range, and the ratio of medians', () => {
  // Round 2 ran while the machine was busy: both targets slowed, their ratio did not.
  const r = results([
    round('proxy-keepalive', 1, 10_000, 20), round('ours-http', 1, 9_000, 22),
    round('proxy-keepalive', 2, 5_000, 40), round('ours-http', 2, 4_600, 44),
    round('proxy-keepalive', 3, 10_000, 20), round('ours-http', 3, 9_500, 21),
  ], 3);
  const q = httpRatio(r, 'ours-http', 'proxy-keepalive', (m) => m.wrk.requestsPerSecond);
  assert.equal(q.median, 0.92);
  assert.equal(q.min, 0.9);
  assert.equal(q.max, 0.95);
  assert.equal(q.ofMedians, 9_000 / 10_000);
});

test('meets: at least or at most a limit, the limit itself included; null when nothing was measured', () => {
  assert.equal(meets(0.9, 0.9, false), true);
  assert.equal(meets(0.89, 0.9, false), false);
  assert.equal(meets(1.15, 1.15, true), true);
  assert.equal(meets(1.16, 1.15, true), false);
  assert.equal(meets(NaN, 1, true), null);
});

test('httpVerdicts: the three targets per mode, and a mode that did not run is left out', () => {
  const r = results([
    round('proxy-keepalive', 1, 10_000, 20), round('ours-http', 1, 9_500, 22), round('ours-full-w0', 1, 4_000, 90),
  ], 1);
  const v = httpVerdicts(r);
  assert.deepEqual(v.map((x) => x.met), [true, true, true]);
  assert.match(v[0]?.measured ?? '', /9,500 vs 10,000 req\/s \(0\.95×/);
  assert.match(v[1]?.measured ?? '', /22\.0 vs 20\.0 µs \(1\.10×/);
  assert.match(v[2]?.measured ?? '', /\(2\.38×/);
  const slow = results([round('proxy-keepalive', 1, 10_000, 20), round('ours-http', 1, 8_000, 30)], 1);
  const w = httpVerdicts(slow);
  assert.deepEqual(w.map((x) => x.met), [false, false, null]);
  assert.deepEqual(verdictLines(w).map((line) => line[0]), ['✗', '✗', '–']);
});

test('formatHttp says how the run was made: one nginx interleaved, or one backend at a time (--http-alone)', () => {
  const runs = [round('proxy-keepalive', 1, 10_000, 20), round('ours-http', 1, 9_500, 22)];
  const interleaved = formatHttp(results(runs, 1)).join('\n');
  assert.match(interleaved, /through one nginx, interleaved/);
  assert.doesNotMatch(interleaved, /--http-alone/);
  const alone = formatHttp({ ...results(runs, 1), alone: true }).join('\n');
  assert.match(alone, /one backend at a time \(`--http-alone`\)/);
  assert.match(alone, /Ours, HTTP, in-process vs plain node:http: 0\.95× the req\/s/);
});
