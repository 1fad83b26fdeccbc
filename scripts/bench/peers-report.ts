/**
 * @module peers-report
 * `npm run bench -- --peers` as figures and Markdown (pure): what runs (targets × workloads), the
 * medians over interleaved rounds, ratios paired by round against PM2 cluster with as many
 * instances (ours against Passenger behind Apache), the app's own work time against plain
 * node:http, its targets as verdicts, and the doc section the run is filed in.
 */
import { median } from './measure.js';
import { OURS_THREADS, type PeerKind, type Skip } from './peers-backends.js';
import type { Machine } from './preflight.js';
import type { Verdict } from './verdict.js';
import { pairedRatio } from './workers-report.js';
import type { WrkResult } from './wrk.js';

export type WorkloadId = 'hello' | 'json' | 'cpu' | 'wait';

export interface Workload {
  id: WorkloadId;
  label: string;
  path: string;
  connections: number;
}

export const WORKLOADS: readonly Workload[] = [
  { id: 'hello', label: 'hello (14-byte text)', path: '/', connections: 32 },
  { id: 'json', label: 'Express JSON (`res.json` of a small object)', path: '/json', connections: 32 },
  // Enough clients to keep two processes busy with a queue behind each.
  { id: 'cpu', label: 'CPU-bound (FNV-1a over 64 KiB, 24 passes)', path: '/cpu', connections: 16 },
  { id: 'wait', label: '50 ms wait (setTimeout), 200 clients', path: '/wait', connections: 200 },
];

export interface PeerTarget {
  id: string;
  label: string;
  backend: string;
  kind: PeerKind;
  front: 'nginx' | 'apache';
  instances: number;
  /** The target this one's req/s and CPU ratios are taken against; null for a baseline itself. */
  baseline: string | null;
}

/** The targets against PM2 and node:http (docs/benchmarks.md, "Today's numbers"). */
export const APP_WORK_LIMIT = 1.05;
export const CPU_BOUND_RPS_LIMIT = 0.95;
export const HELLO_RPS_LIMIT = 0.9;
export const HELLO_CPU_LIMIT = 1.2;
export const JSON_RPS_LIMIT = 1.0;
export const MEMORY_SLACK_MIB = 20;
/** The one plain node:http target: the app-work baseline. */
export const APP_WORK_BASELINE = 'node-http';

const KIND_LABEL: Record<PeerKind, string> = {
  'ours-scgi': 'ours, SCGI',
  'ours-http': "ours, protocol 'http'",
  pm2: 'PM2 cluster mode',
  cluster: 'node:cluster',
  'node-http': 'plain node:http',
  passenger: 'Passenger',
};

/**
 * What runs, in round order: behind nginx (keep-alive upstream, SCGI for ours-scgi) ours, PM2,
 * node:cluster with 1 and 2 instances and plain node:http with 1; behind Apache Passenger and ours
 * over mod_proxy_scgi (the same backend process as nginx's ours-scgi). Peers that could not be
 * had are left out.
 */
export function peerTargets(have: { pm2: boolean; passenger: boolean; apache: boolean }): PeerTarget[] {
  const out: PeerTarget[] = [];
  const nginx = (kind: PeerKind, n: number): void => {
    const id = kind === 'node-http' ? 'node-http' : `${kind}-${n}`;
    out.push({ id, label: `${KIND_LABEL[kind]}${kind === 'node-http' ? '' : `, ${n}`} (nginx)`, backend: id, kind, front: 'nginx', instances: n, baseline: have.pm2 && kind !== 'pm2' ? `pm2-${n}` : null });
  };
  for (const n of [1, 2]) {
    nginx('ours-scgi', n);
    nginx('ours-http', n);
    if (have.pm2) nginx('pm2', n);
    nginx('cluster', n);
    if (n === 1) nginx('node-http', 1);
  }
  if (have.apache) {
    for (const n of [1, 2]) {
      if (have.passenger) out.push({ id: `passenger-${n}`, label: `Passenger, ${n} (Apache)`, backend: `passenger-${n}`, kind: 'passenger', front: 'apache', instances: n, baseline: null });
      out.push({ id: `apache-ours-scgi-${n}`, label: `ours, SCGI, ${n} (Apache)`, backend: `ours-scgi-${n}`, kind: 'ours-scgi', front: 'apache', instances: n, baseline: have.passenger ? `passenger-${n}` : null });
    }
  }
  return out;
}

export interface PeerRun {
  target: string;
  workload: WorkloadId;
  round: number;
  wrk: WrkResult;
  /** µs of CPU per request over the backend's whole process tree; null when it has none to read. */
  backendCpuUs: number | null;
  /** The front end's (nginx's, or Apache's without Passenger's agents). */
  frontCpuUs: number | null;
  /** Summed over the backend's tree, sampled half-way through the run. */
  rssLoadBytes: number | null;
  pssLoadBytes: number | null;
  /** /cpu only: the app's own CPU per request, timed inside it (process.cpuUsage around the work). */
  appWorkUs: number | null;
}

export interface PeerRest {
  backend: string;
  kind: PeerKind;
  instances: number;
  rssBytes: number;
  pssBytes: number;
  processes: number;
}

export interface PeersResults {
  rounds: number;
  secondsPerRun: number;
  warmupSeconds: number;
  targets: PeerTarget[];
  runs: PeerRun[];
  rest: PeerRest[];
  skipped: Skip[];
  /** Peer name -> version (PM2, Passenger, Apache, Express). */
  versions: Record<string, string>;
  commands: string[];
  loadAtStart: string;
  loadAtEnd: string;
  /** Cells that failed outright (a run that threw), as text. */
  failures: string[];
}

export interface Ratio {
  median: number;
  min: number;
  max: number;
}

/** A figure of one target and workload per round, in round order (NaN where it did not run). */
export function peerByRound(runs: readonly PeerRun[], target: string, workload: WorkloadId, rounds: number, pick: (r: PeerRun) => number | null): number[] {
  const out = new Array<number>(rounds).fill(NaN);
  for (const r of runs) {
    if (r.target === target && r.workload === workload && r.round >= 1 && r.round <= rounds) out[r.round - 1] = pick(r) ?? NaN;
  }
  return out;
}

/** a/b paired by round (the two ran minutes apart at most), the median of the per-round ratios and their range. */
export function peerRatio(r: Pick<PeersResults, 'runs' | 'rounds'>, a: string, b: string, workload: WorkloadId, pick: (run: PeerRun) => number | null): Ratio {
  return pairedRatio(peerByRound(r.runs, a, workload, r.rounds, pick), peerByRound(r.runs, b, workload, r.rounds, pick));
}

/** The app's mean CPU per /cpu request between two snapshots of its processes' cumulative figures. */
export function appWorkDelta(before: ReadonlyMap<number, { requests: number; cpuUs: number }>, after: ReadonlyMap<number, { requests: number; cpuUs: number }>): { requests: number; meanUs: number } {
  let requests = 0;
  let cpuUs = 0;
  for (const [pid, now] of after) {
    // A process that appeared during the run (a restart) counts from zero.
    const then = before.get(pid) ?? { requests: 0, cpuUs: 0 };
    requests += now.requests - then.requests;
    cpuUs += now.cpuUs - then.cpuUs;
  }
  return { requests, meanUs: requests > 0 ? cpuUs / requests : NaN };
}

export interface CellSummary {
  target: string;
  workload: WorkloadId;
  rounds: number;
  rps: number;
  rpsMin: number;
  rpsMax: number;
  p99Ms: number;
  backendCpuUs: number;
  frontCpuUs: number;
  rssLoadMiB: number;
  pssLoadMiB: number;
  socketErrors: number;
  non2xx: number;
  requests: number;
  appWorkUs: number;
}

const MIB = 1024 * 1024;

export function summarizeCell(runs: readonly PeerRun[], target: string, workload: WorkloadId): CellSummary {
  const mine = runs.filter((r) => r.target === target && r.workload === workload);
  const pick = (f: (r: PeerRun) => number | null): number => median(mine.map((r) => f(r) ?? NaN));
  const rps = mine.map((r) => r.wrk.requestsPerSecond);
  return {
    target, workload, rounds: mine.length,
    rps: median(rps),
    rpsMin: mine.length ? Math.min(...rps) : NaN,
    rpsMax: mine.length ? Math.max(...rps) : NaN,
    p99Ms: pick((r) => r.wrk.p99Ms),
    backendCpuUs: pick((r) => r.backendCpuUs),
    frontCpuUs: pick((r) => r.frontCpuUs),
    rssLoadMiB: pick((r) => r.rssLoadBytes) / MIB,
    pssLoadMiB: pick((r) => r.pssLoadBytes) / MIB,
    socketErrors: mine.reduce((sum, r) => sum + r.wrk.socketErrors, 0),
    non2xx: mine.reduce((sum, r) => sum + r.wrk.non2xx, 0),
    requests: mine.reduce((sum, r) => sum + r.wrk.requests, 0),
    appWorkUs: pick((r) => r.appWorkUs),
  };
}

/** Whether a ratio meets a limit (at least, or at most, the limit itself included); null when not measured. */
export function meetsLimit(value: number, limit: number, atMost: boolean): boolean | null {
  if (!Number.isFinite(value)) return null;
  return atMost ? value <= limit : value >= limit;
}

const f0 = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const f1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '–');
const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '–');
const x = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}×` : '–');
const spread = (q: Ratio, rounds: number): string => (rounds > 1 && Number.isFinite(q.min) ? `, rounds ${q.min.toFixed(2)}–${q.max.toFixed(2)}` : '');

const rpsOf = (r: PeerRun): number => r.wrk.requestsPerSecond;
const cpuOf = (r: PeerRun): number | null => r.backendCpuUs;
const appOf = (r: PeerRun): number | null => r.appWorkUs;

function restOf(r: PeersResults, backend: string): PeerRest | undefined {
  return r.rest.find((m) => m.backend === backend);
}

interface Metric {
  pick(run: PeerRun): number | null;
  figure(s: CellSummary): number;
  unit: string;
  format(n: number): string;
}

const RPS: Metric = { pick: rpsOf, figure: (s) => s.rps, unit: 'req/s', format: f0 };
const CPU: Metric = { pick: cpuOf, figure: (s) => s.backendCpuUs, unit: 'µs', format: f1 };
const APP_WORK: Metric = { pick: appOf, figure: (s) => s.appWorkUs, unit: 'µs', format: f1 };

export function peersVerdicts(r: PeersResults): Verdict[] {
  const out: Verdict[] = [];
  const has = (id: string): boolean => r.targets.some((t) => t.id === id);
  const ratioVerdict = (target: string, a: string, b: string, w: WorkloadId, m: Metric, limit: number, atMost: boolean): void => {
    if (!has(a) || !has(b)) {
      out.push({ issue: '20', target, measured: `not run (${has(a) ? b : a} skipped)`, met: null });
      return;
    }
    const q = peerRatio(r, a, b, w, m.pick);
    out.push({
      issue: '20', target,
      measured: `${m.format(m.figure(summarizeCell(r.runs, a, w)))} vs ${m.format(m.figure(summarizeCell(r.runs, b, w)))} ${m.unit} (${x(q.median)} median of per-round ratios${spread(q, r.rounds)})`,
      met: meetsLimit(q.median, limit, atMost),
    });
  };
  for (const n of [1, 2]) {
    for (const kind of ['ours-scgi', 'ours-http'] as const) {
      const id = `${kind}-${n}`;
      ratioVerdict(`CPU-bound, ${KIND_LABEL[kind]}, ${n} worker${n > 1 ? 's' : ''}: app work time ≤ ${APP_WORK_LIMIT} × plain node:http's`, id, APP_WORK_BASELINE, 'cpu', APP_WORK, APP_WORK_LIMIT, true);
      ratioVerdict(`CPU-bound, ${KIND_LABEL[kind]}, ${n} worker${n > 1 ? 's' : ''}: req/s ≥ ${CPU_BOUND_RPS_LIMIT} × PM2 cluster with ${n}`, id, `pm2-${n}`, 'cpu', RPS, CPU_BOUND_RPS_LIMIT, false);
    }
  }
  ratioVerdict(`Hello over HTTP keep-alive, store on, 2 workers: req/s ≥ ${HELLO_RPS_LIMIT} × PM2 cluster with 2`, 'ours-http-2', 'pm2-2', 'hello', RPS, HELLO_RPS_LIMIT, false);
  ratioVerdict(`Hello over HTTP keep-alive, store on, 2 workers: backend CPU/request ≤ ${HELLO_CPU_LIMIT} × PM2 cluster's with 2`, 'ours-http-2', 'pm2-2', 'hello', CPU, HELLO_CPU_LIMIT, true);
  for (const n of [1, 2]) {
    for (const kind of ['ours-http', 'ours-scgi'] as const) {
      ratioVerdict(`Express JSON, ${KIND_LABEL[kind]}, ${n} worker${n > 1 ? 's' : ''}: req/s ≥ ${JSON_RPS_LIMIT} × PM2 cluster with ${n}`, `${kind}-${n}`, `pm2-${n}`, 'json', RPS, JSON_RPS_LIMIT, false);
    }
  }
  for (const n of [1, 2]) {
    const pm2 = restOf(r, `pm2-${n}`);
    for (const kind of ['ours-scgi', 'ours-http'] as const) {
      const ours = restOf(r, `${kind}-${n}`);
      const target = `Memory at rest, ${KIND_LABEL[kind]}: supervisor + ${n} worker${n > 1 ? 's' : ''} ≤ PM2's daemon + ${n} instance${n > 1 ? 's' : ''} + ${MEMORY_SLACK_MIB} MiB (RSS)`;
      if (!ours || !pm2) {
        out.push({ issue: '20', target, measured: 'not run', met: null });
        continue;
      }
      const limit = pm2.rssBytes / MIB + MEMORY_SLACK_MIB;
      out.push({
        issue: '20', target,
        measured: `RSS ${f1(ours.rssBytes / MIB)} vs ${f1(pm2.rssBytes / MIB)} MiB (limit ${f1(limit)}); PSS ${f1(ours.pssBytes / MIB)} vs ${f1(pm2.pssBytes / MIB)} MiB`,
        met: meetsLimit(ours.rssBytes / MIB, limit, true),
      });
    }
  }
  return out;
}

/** One workload's table: a row per target, its ratios against its baseline paired by round. */
export function formatWorkload(r: PeersResults, w: Workload): string[] {
  const cpu = w.id === 'cpu';
  const out = [
    `**${w.label}**: \`wrk -t1 -c${w.connections} -d${r.secondsPerRun}s\` on \`${w.path}\`${r.rounds > 1 ? `, median of ${r.rounds} rounds` : ''}`, '',
    `| backend (front) | req/s${r.rounds > 1 ? ' (min–max)' : ''} | req/s vs base | p99 ms | backend CPU µs/req | CPU vs base | front CPU µs/req | RSS / PSS under load MiB | errors |${cpu ? ' app work µs/req | vs node:http |' : ''}`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${cpu ? ' ---: | ---: |' : ''}`,
  ];
  for (const t of r.targets) {
    const s = summarizeCell(r.runs, t.id, w.id);
    if (s.rounds === 0) continue;
    const base = t.baseline;
    const rq = base ? peerRatio(r, t.id, base, w.id, rpsOf) : null;
    const cq = base ? peerRatio(r, t.id, base, w.id, cpuOf) : null;
    const aq = cpu && t.id !== APP_WORK_BASELINE ? peerRatio(r, t.id, APP_WORK_BASELINE, w.id, appOf) : null;
    const errors = s.socketErrors + s.non2xx;
    out.push(`| ${t.label} | ${f0(s.rps)}${r.rounds > 1 ? ` (${f0(s.rpsMin)}–${f0(s.rpsMax)})` : ''} | ${rq ? `${x(rq.median)} ${base}` : 'base'} | ${f2(s.p99Ms)} | ${f1(s.backendCpuUs)} | ${cq ? x(cq.median) : '–'} | ${f1(s.frontCpuUs)} | ${f1(s.rssLoadMiB)} / ${f1(s.pssLoadMiB)} | ${errors === 0 ? '0' : `${s.socketErrors} socket, ${s.non2xx} non-2xx`} |${cpu ? ` ${f0(s.appWorkUs)} | ${aq ? x(aq.median) : 'base'} |` : ''}`);
  }
  out.push('');
  return out;
}

export function formatRest(r: PeersResults): string[] {
  if (r.rest.length === 0) return [];
  return [
    'Memory at rest (after the warm-up, 1 s idle; summed over the backend\'s processes):', '',
    '| backend | processes | RSS MiB | PSS MiB |', '| --- | ---: | ---: | ---: |',
    ...r.rest.map((m) => `| ${m.backend} | ${m.processes} | ${f1(m.rssBytes / MIB)} | ${f1(m.pssBytes / MIB)} |`), '',
  ];
}

/** The verdicts as the doc files them. */
export function peersVerdictTable(verdicts: readonly Verdict[]): string[] {
  return [
    'Targets (issue 20):', '', '| target | measured | met |', '| --- | --- | --- |',
    ...verdicts.map((v) => `| ${v.target} | ${v.measured} | ${v.met === null ? 'not measured' : v.met ? '✓ met' : '✗ **not met**'} |`), '',
  ];
}

/** One `--peers` run as Markdown: header, skips, a table per workload, memory at rest, the targets. */
export function formatPeersRun(r: PeersResults, m: Machine, command: string, elapsedS: number, quick: boolean): string {
  const versions = Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ');
  const out = [
    `### ${m.date.slice(0, 10)} peers ${quick ? 'quick run' : 'run'} (${m.date}, commit ${m.commit})`, '',
    `- Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB.toFixed(1)} GiB, Linux ${m.kernel}; load average ${r.loadAtStart} at the start, ${r.loadAtEnd} at the end (the machine is shared: other work runs beside the benchmark).`,
    `- Versions: Node ${m.node}, nginx ${m.nginx}, wrk ${m.wrk}, ${m.ours}${versions ? `, ${versions}` : ''}.`,
    `- Command: \`${command}\`; ${r.rounds} round${r.rounds > 1 ? 's' : ''} of ${r.secondsPerRun} s per cell after a warm-up of ${r.warmupSeconds} s (the CPU-bound route 3× that). Took ${Math.round(elapsedS)} s.`,
    ...r.skipped.map((s) => `- SKIPPED ${s.what}: ${s.reason}.`),
    '',
    ...WORKLOADS.flatMap((w) => formatWorkload(r, w)),
    ...formatRest(r),
    ...r.failures.map((f) => `Not completed: ${f}`),
    ...(r.failures.length ? [''] : []),
    ...peersVerdictTable(peersVerdicts(r)),
    '<details><summary>Backends</summary>', '', ...r.commands.map((c) => `- \`${c}\``), '', '</details>', '',
  ];
  return out.join('\n');
}

export const PEERS_SECTION_TITLE = '## Against PM2, cluster and Passenger (`npm run bench -- --peers`)';

function peersIntro(): string {
  return `${PEERS_SECTION_TITLE}

\`npm run bench -- --peers\` (about 20 minutes; \`--quick\` a few seconds per cell) serves one app
(\`scripts/bench/apps/peers-app.cjs\`) under what Node users run, on loopback only, and drives each
backend in interleaved rounds (every target once per workload per round, the order reversed on
even rounds), so machine noise hits them alike:

- behind one nginx (\`worker_processes 1\`, upstream keep-alive for every HTTP backend, SCGI for
  ours-scgi), with 1 and 2 instances: ours over SCGI and over HTTP (\`protocol: 'http'\`; store on,
  \`threads: ${OURS_THREADS}\` so that 200 waiting clients measure the server, not the limiter), PM2 in
  cluster mode (installed by the bench with \`npm install --prefix <tmp> pm2@latest\`, its own
  PM2_HOME, \`pm2 kill\` at the end), Node's cluster module (\`scripts/bench/apps/peers-server.cjs\`),
  and plain node:http (1 instance);
- behind one Apache (mpm_event) per instance count: Debian's Passenger
  (\`libapache2-mod-passenger\`, \`PassengerMinInstances\` = pool size = N; installed by the bench
  with apt-get when missing) and ours over mod_proxy_scgi, the same backend process as nginx's
  ours-scgi.

Workloads: \`/\` a 14-byte hello, \`/json\` an Express 5 app's \`res.json\`, \`/cpu\` a fixed FNV-1a
loop timed inside the app (\`process.cpuUsage\` around the work; each process files its mean, so
"app work" is the app's own code, not the server's), \`/wait\` a 50 ms setTimeout at 200 clients.
Backend CPU per request is the utime+stime delta of the backend's whole process tree over a run
(PM2's daemon and workers, our supervisor and workers, the cluster primary and workers,
Passenger's watchdog, core and apps) divided by the requests wrk completed; RSS and PSS are summed
over the same tree at rest and half-way through each run. Ratios are the median of per-round ratios
against PM2 cluster with as many instances (behind Apache: against Passenger), and app work against
plain node:http. A peer that cannot be installed or started is reported as SKIPPED with its reason.

`;
}

/** The section with `run` as its latest run, replacing the section if the doc has one (before "## Timing store" otherwise). */
export function filePeersSection(docText: string, run: string): string {
  const section = `${peersIntro()}${run.trimEnd()}\n`;
  const start = docText.indexOf(PEERS_SECTION_TITLE);
  if (start >= 0) {
    const rest = docText.slice(start + PEERS_SECTION_TITLE.length);
    const next = rest.search(/^## /m);
    const end = next < 0 ? docText.length : start + PEERS_SECTION_TITLE.length + next;
    return `${docText.slice(0, start)}${section}${next < 0 ? '' : '\n'}${docText.slice(end)}`;
  }
  if (docText.trim() === '') return `# Benchmarks\n\n${section}`;
  const anchor = docText.search(/^## Timing store/m);
  if (anchor < 0) return `${docText.trimEnd()}\n\n${section}`;
  return `${docText.slice(0, anchor)}${section}\n${docText.slice(anchor)}`;
}

/** The run's median figures, for a reader of the raw JSON. */
export function allCells(r: PeersResults): CellSummary[] {
  return WORKLOADS.flatMap((w) => r.targets.map((t) => summarizeCell(r.runs, t.id, w.id))).filter((s) => s.rounds > 0);
}
