/** The `--peers` part of the benchmark: its ratios, medians, app-work figure, verdicts and doc section are only as right as these. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  appWorkDelta, filePeersSection, formatPeersRun, peerByRound, peerRatio, peersVerdicts, peerTargets, PEERS_SECTION_TITLE, summarizeCell,
  type PeerRest, type PeerRun, type PeersResults, type WorkloadId,
} from '../../scripts/bench/peers-report.js';
import type { Machine } from '../../scripts/bench/preflight.js';

const MIB = 1024 * 1024;

function run(target: string, workload: WorkloadId, round: number, rps: number, cpuUs: number, appWorkUs: number | null = null): PeerRun {
  return {
    target, workload, round,
    wrk: { requests: rps * 3, seconds: 3, requestsPerSecond: rps, p50Ms: 1, p99Ms: round, socketErrors: 0, non2xx: round === 2 ? 5 : 0 },
    backendCpuUs: cpuUs, frontCpuUs: 10, rssLoadBytes: 100 * MIB, pssLoadBytes: 80 * MIB, appWorkUs,
  };
}

function rest(backend: string, rssMiB: number): PeerRest {
  return { backend, kind: 'pm2', instances: 1, rssBytes: rssMiB * MIB, pssBytes: (rssMiB / 2) * MIB, processes: 2 };
}

function results(runs: PeerRun[], rounds: number, restFigures: PeerRest[] = []): PeersResults {
  return {
    rounds, secondsPerRun: 3, warmupSeconds: 1, targets: peerTargets({ pm2: true, passenger: true, apache: true }), runs, rest: restFigures,
    skipped: [], versions: {}, commands: [], loadAtStart: '0', loadAtEnd: '0', failures: [],
  };
}

test('peerTargets: ours, PM2, cluster with 1 and 2, node:http with 1 behind nginx; Passenger and ours behind Apache; each against PM2 (Apache: Passenger) with as many', () => {
  const all = peerTargets({ pm2: true, passenger: true, apache: true });
  assert.deepEqual(all.map((t) => t.id), [
    'ours-scgi-1', 'ours-http-1', 'pm2-1', 'cluster-1', 'node-http', 'ours-scgi-2', 'ours-http-2', 'pm2-2', 'cluster-2',
    'passenger-1', 'apache-ours-scgi-1', 'passenger-2', 'apache-ours-scgi-2',
  ]);
  const by = (id: string) => all.find((t) => t.id === id);
  assert.equal(by('ours-http-2')?.baseline, 'pm2-2');
  assert.equal(by('node-http')?.baseline, 'pm2-1');
  assert.equal(by('pm2-1')?.baseline, null);
  assert.equal(by('apache-ours-scgi-2')?.baseline, 'passenger-2');
  // Behind Apache, ours is the same backend process nginx's SCGI target reaches.
  assert.equal(by('apache-ours-scgi-1')?.backend, 'ours-scgi-1');
  const noPm2 = peerTargets({ pm2: false, passenger: false, apache: false });
  assert.ok(noPm2.every((t) => t.kind !== 'pm2' && t.front === 'nginx' && t.baseline === null));
});

test('peerByRound puts each round in its place whatever order the runs came in, NaN where one is missing', () => {
  const runs = [run('a', 'hello', 2, 200, 1), run('b', 'hello', 1, 999, 1), run('a', 'hello', 1, 100, 1), run('a', 'json', 3, 7, 1)];
  assert.deepEqual(peerByRound(runs, 'a', 'hello', 3, (r) => r.wrk.requestsPerSecond), [100, 200, NaN]);
});

test('peerRatio pairs by round: a round that slowed both sides leaves the ratio alone', () => {
  const r = results([
    run('ours-http-2', 'hello', 1, 9_000, 30), run('pm2-2', 'hello', 1, 10_000, 25),
    run('ours-http-2', 'hello', 2, 4_600, 60), run('pm2-2', 'hello', 2, 5_000, 50),
    run('ours-http-2', 'hello', 3, 9_500, 30), run('pm2-2', 'hello', 3, 10_000, 25),
  ], 3);
  const q = peerRatio(r, 'ours-http-2', 'pm2-2', 'hello', (x) => x.wrk.requestsPerSecond);
  assert.equal(q.median, 0.92);
  assert.equal(q.min, 0.9);
  assert.equal(q.max, 0.95);
});

test('summarizeCell: medians over rounds, the req/s range, errors summed (socket and non-2xx), nothing from other cells', () => {
  const r = [run('x', 'cpu', 1, 300, 10, 2000), run('x', 'cpu', 2, 100, 30, 2400), run('x', 'cpu', 3, 200, 20, 2200), run('x', 'hello', 1, 1e6, 1e6)];
  const s = summarizeCell(r, 'x', 'cpu');
  assert.equal(s.rounds, 3);
  assert.equal(s.rps, 200);
  assert.equal(s.rpsMin, 100);
  assert.equal(s.rpsMax, 300);
  assert.equal(s.backendCpuUs, 20);
  assert.equal(s.appWorkUs, 2200);
  assert.equal(s.p99Ms, 2);
  assert.equal(s.non2xx, 5);
  assert.equal(s.requests, 1800);
  assert.equal(s.rssLoadMiB, 100);
  assert.equal(s.pssLoadMiB, 80);
});

test('appWorkDelta: the mean over the requests between two snapshots, summed over processes; a process new in the second counts from zero', () => {
  const before = new Map([[1, { requests: 100, cpuUs: 200_000 }], [2, { requests: 50, cpuUs: 100_000 }]]);
  const after = new Map([[1, { requests: 300, cpuUs: 600_000 }], [2, { requests: 150, cpuUs: 400_000 }], [3, { requests: 50, cpuUs: 100_000 }]]);
  const d = appWorkDelta(before, after);
  assert.equal(d.requests, 200 + 100 + 50);
  assert.equal(d.meanUs, (400_000 + 300_000 + 100_000) / 350);
  assert.ok(Number.isNaN(appWorkDelta(after, after).meanUs), 'no request between the snapshots: no figure, not 0');
});

test('peersVerdicts: each target met or missed on its limit, the limit itself included; not run when the peer was skipped', () => {
  const runs: PeerRun[] = [];
  // App work: ours-scgi-1 at exactly 1.05× node:http (met), ours-http-1 at 1.10× (missed).
  runs.push(run('node-http', 'cpu', 1, 500, 2100, 2000), run('ours-scgi-1', 'cpu', 1, 475, 2200, 2100), run('ours-http-1', 'cpu', 1, 470, 2200, 2200));
  runs.push(run('pm2-1', 'cpu', 1, 500, 2100, 2000));
  // Hello, 2 workers over HTTP: 0.9× PM2's req/s (met), 1.25× its CPU (missed).
  runs.push(run('ours-http-2', 'hello', 1, 9_000, 50), run('pm2-2', 'hello', 1, 10_000, 40));
  const r = results(runs, 1, [rest('pm2-1', 100), rest('ours-scgi-1', 120), rest('ours-http-1', 120.5)]);
  const v = peersVerdicts(r);
  const find = (part: string) => {
    const found = v.find((x) => x.target.includes(part));
    assert.ok(found, `a verdict for ${part}`);
    return found;
  };
  assert.equal(find("CPU-bound, ours, SCGI, 1 worker: app work").met, true);
  assert.equal(find("CPU-bound, ours, protocol 'http', 1 worker: app work").met, false);
  assert.equal(find("CPU-bound, ours, SCGI, 1 worker: req/s").met, true);
  assert.equal(find('Hello over HTTP keep-alive, store on, 2 workers: req/s').met, true);
  assert.equal(find('Hello over HTTP keep-alive, store on, 2 workers: backend CPU').met, false);
  // Memory: 120 MiB against PM2's 100 + 20 is met, 120.5 is not; for 2 no figures at all.
  assert.equal(find('Memory at rest, ours, SCGI: supervisor + 1 worker ').met, true);
  assert.equal(find("Memory at rest, ours, protocol 'http': supervisor + 1 worker ").met, false);
  assert.equal(find('Memory at rest, ours, SCGI: supervisor + 2 workers').met, null);
  // Express JSON was not measured in this run: no verdict either way.
  assert.equal(find("Express JSON, ours, protocol 'http', 1 worker").met, null);

  const skipped = { ...r, targets: peerTargets({ pm2: false, passenger: false, apache: false }) };
  const hello = peersVerdicts(skipped).find((x) => x.target.includes('Hello over HTTP keep-alive, store on, 2 workers: req/s'));
  assert.equal(hello?.met, null);
  assert.match(hello?.measured ?? '', /pm2-2 skipped/);
});

const machine: Machine = {
  date: '2026-12-07T03:00:00Z', cpuModel: 'cpu', cores: 2, memoryGiB: 24, kernel: '6', loadAtStart: '1', node: 'v20',
  nginx: '1.22', uwsgi: '2', wrk: '4.1', python: '3', ours: 'dragon-on-wheels 2.0.0', commit: 'abc1234',
};

test('formatPeersRun: a table per workload with the ratio against the baseline named, skips said aloud, app work against node:http', () => {
  const r = results([
    run('node-http', 'cpu', 1, 500, 2100, 2000), run('ours-http-1', 'cpu', 1, 450, 2300, 2200), run('pm2-1', 'cpu', 1, 500, 2100, 2000),
  ], 1);
  r.skipped.push({ what: 'Passenger', reason: 'apt-get install failed: E: no network' });
  const text = formatPeersRun(r, machine, 'npm run bench -- --peers --quick', 100, true);
  assert.match(text, /SKIPPED Passenger: apt-get install failed: E: no network/);
  assert.match(text, /\| ours, protocol 'http', 1 \(nginx\) \| 450 \| 0\.90× pm2-1 \|/);
  assert.match(text, /\| 2,200 \| 1\.10× \|/);
  assert.match(text, /\| plain node:http \(nginx\) \| 500 \| 1\.00× pm2-1 \|.*\| 2,000 \| base \|/);
});

test('filePeersSection replaces its own section and nothing else, or goes in before "Timing store"', () => {
  const doc = '# Benchmarks\n\n## Runtime\n\nrun A\n\n## Timing store\n\nstore text\n';
  const once = filePeersSection(doc, '### run 1\n\nfigures 1\n');
  assert.ok(once.indexOf(PEERS_SECTION_TITLE) > once.indexOf('run A'));
  assert.ok(once.indexOf(PEERS_SECTION_TITLE) < once.indexOf('## Timing store'));
  const twice = filePeersSection(once, '### run 2\n\nfigures 2\n');
  assert.equal(twice.split(PEERS_SECTION_TITLE).length, 2, 'one section');
  assert.doesNotMatch(twice, /figures 1/);
  assert.match(twice, /figures 2\n\n## Timing store\n\nstore text\n$/);
  assert.match(twice, /^# Benchmarks\n\n## Runtime\n\nrun A\n\n## Against PM2/);
  // Last section of the file: replaced to the end.
  const atEnd = filePeersSection(filePeersSection('# B\n', 'first-run-figures\n'), 'second-run-figures\n');
  assert.match(atEnd, /second-run-figures\n$/);
  assert.doesNotMatch(atEnd, /first-run-figures/);
});
