/**
 * @module native-report
 * The native I/O part of a benchmark run as Markdown, and its targets (pure): our native I/O core
 * against uWSGI and against our node:net path (`io: 'node'`), each ratio taken within one group's
 * interleaved rounds; held long-poll memory on both paths; and, where a target is missed, where
 * the time goes (user against system CPU, system calls per request).
 */
import type { LongPollResult } from './long-poll.js';
import { median, type TargetSummary } from './measure.js';
import type { Machine } from './preflight.js';
import { longPollTable } from './report.js';
import type { Verdict } from './verdict.js';
import { costLine, httpRatio, meets, summaryTable, verdictTable, type HttpRatio, type HttpResults } from './http-report.js';
import { formatSyscalls, type SyscallCounts } from './syscall-count.js';
import type { TargetId } from './targets.js';

export interface NativeGroupResult {
  id: 'tcp' | 'unix' | 'express' | 'fetch';
  label: string;
  results: HttpResults;
}

export interface NativeResults {
  rounds: number;
  secondsPerRun: number;
  groups: NativeGroupResult[];
  /** 10,000 held requests per run, native and node:net in alternating pairs. */
  longPoll: LongPollResult[];
  /** Native, node:net and uWSGI on TCP; empty when not counted. */
  syscalls: SyscallCounts[];
  /** Parts that did not complete, with the first line of their error. */
  failures: string[];
}

/** The native core's targets: backend CPU per request ≤ 1.0 × uWSGI's and req/s ≥ 1.0 × uWSGI's. */
export const NATIVE_CPU_TARGET = 1.0;
export const NATIVE_RPS_TARGET = 1.0;
/** "Long-poll memory no worse than today": held RSS within 5 % of node:net's, the spread of RSS between two runs of one path. */
export const LONG_POLL_RSS_TOLERANCE = 1.05;

export interface NativeComparison {
  group: NativeGroupResult['id'];
  what: string;
  native: TargetId;
  node: TargetId;
  /** Where a target compares with uWSGI. */
  uwsgi?: TargetId;
}

export const NATIVE_COMPARISONS: readonly NativeComparison[] = [
  { group: 'tcp', what: 'hello, full path (store on), TCP', native: 'ours-full-native', node: 'ours-full-node', uwsgi: 'uwsgi' },
  { group: 'unix', what: 'hello, full path (store on), Unix socket', native: 'ours-unix-native', node: 'ours-unix-node', uwsgi: 'uwsgi-unix' },
  { group: 'express', what: 'Express 5 hello', native: 'ours-express-native', node: 'ours-express-node' },
  { group: 'fetch', what: 'fetch-handler hello', native: 'ours-fetch-native', node: 'ours-fetch-node' },
];

const f0 = (n: number | null | undefined): string => (n === null || n === undefined || !Number.isFinite(n) ? '–' : Math.round(n).toLocaleString('en-US'));
const f1 = (n: number | null | undefined): string => (n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(1));
const x = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}×` : '–');
const signed = (n: number): string => (Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${n.toFixed(1)}` : '–');
const rps = (m: { wrk: { requestsPerSecond: number } }): number => m.wrk.requestsPerSecond;
const cpu = (m: { backendCpuUs: number | null }): number | null => m.backendCpuUs;
const system = (s: TargetSummary): number => (s.backendCpuUs ?? NaN) - (s.backendUserUs ?? NaN);

/** "0.92× median of per-round ratios, rounds 0.88–0.97; ratio of medians 0.93×". */
export function describeRatio(q: HttpRatio, rounds: number): string {
  return `${x(q.median)} median of per-round ratios${rounds > 1 ? `, rounds ${q.min.toFixed(2)}–${q.max.toFixed(2)}` : ''}; ratio of medians ${x(q.ofMedians)}`;
}

function groupOf(r: NativeResults, c: NativeComparison): HttpResults | undefined {
  return r.groups.find((g) => g.id === c.group)?.results;
}

function summaryOf(g: HttpResults | undefined, id: TargetId): TargetSummary | undefined {
  return g?.summaries.find((s) => s.id === id);
}

/** Median held RSS of one path's long-poll runs (MiB), NaN when it did not run. */
export function longPollRss(runs: readonly LongPollResult[], io: 'native' | 'node'): number {
  return median(runs.filter((l) => l.io === io).map((l) => l.heldRssMiB));
}

/** Native against uWSGI in one group, CPU per request and req/s; null when either did not run. */
function againstUwsgi(r: NativeResults, c: NativeComparison): { cpu: HttpRatio; rps: HttpRatio } | null {
  const g = groupOf(r, c);
  if (c.uwsgi === undefined || !summaryOf(g, c.native) || !summaryOf(g, c.uwsgi) || !g) return null;
  return { cpu: httpRatio(g, c.native, c.uwsgi, cpu), rps: httpRatio(g, c.native, c.uwsgi, rps) };
}

/** Whether native missed a uWSGI target of this comparison (CPU above or req/s below the limit). */
export function missesUwsgi(r: NativeResults, c: NativeComparison): boolean {
  const q = againstUwsgi(r, c);
  return q !== null && (meets(q.cpu.median, NATIVE_CPU_TARGET, true) === false || meets(q.rps.median, NATIVE_RPS_TARGET, false) === false);
}

export function nativeVerdicts(r: NativeResults): Verdict[] {
  const out: Verdict[] = [];
  const push = (target: string, g: HttpResults | undefined, q: HttpRatio | null, met: boolean | null, figures: string, after = ''): void => {
    out.push({ issue: '13', target, measured: g && q ? `${figures} (${describeRatio(q, g.rounds)})${after}` : 'not run', met: g && q ? met : null });
  };
  for (const c of NATIVE_COMPARISONS) {
    const g = groupOf(r, c);
    const native = summaryOf(g, c.native);
    const node = summaryOf(g, c.node);
    if (c.uwsgi !== undefined) {
      const uwsgi = summaryOf(g, c.uwsgi);
      const q = againstUwsgi(r, c);
      const also = c.group === 'tcp' ? '' : ' (the issue asks for these figures too; same limits as on TCP)';
      push(`${c.what}: native backend CPU/request ≤ ${NATIVE_CPU_TARGET.toFixed(1)} × uWSGI's${also}`, g, q?.cpu ?? null, q ? meets(q.cpu.median, NATIVE_CPU_TARGET, true) : null,
        `${f1(native?.backendCpuUs)} vs ${f1(uwsgi?.backendCpuUs)} µs`);
      push(`${c.what}: native req/s ≥ ${NATIVE_RPS_TARGET.toFixed(1)} × uWSGI's${also}`, g, q?.rps ?? null, q ? meets(q.rps.median, NATIVE_RPS_TARGET, false) : null,
        `${f0(native?.rps)} vs ${f0(uwsgi?.rps)} req/s`);
    }
    // "Report the gain over the node:net path": met when the native path costs less CPU per request.
    const both = g !== undefined && native !== undefined && node !== undefined;
    const gain = both ? httpRatio(g, c.native, c.node, cpu) : null;
    const through = both ? httpRatio(g, c.native, c.node, rps) : null;
    push(`${c.what}: native backend CPU/request below node:net's (the gain)`, g, gain, gain && Number.isFinite(gain.median) ? gain.median < 1 : null,
      `${f1(native?.backendCpuUs)} vs ${f1(node?.backendCpuUs)} µs`,
      `: ${gain ? signed((gain.median - 1) * 100) : '–'} % CPU; req/s ${f0(native?.rps)} vs ${f0(node?.rps)}, ${through ? describeRatio(through, g?.rounds ?? 1) : '–'}`);
  }
  const nativeRss = longPollRss(r.longPoll, 'native');
  const nodeRss = longPollRss(r.longPoll, 'node');
  const errors = r.longPoll.reduce((sum, l) => sum + l.errors, 0);
  const count = (io: 'native' | 'node'): number => r.longPoll.filter((l) => l.io === io).length;
  const measured = Number.isFinite(nativeRss) && Number.isFinite(nodeRss);
  out.push({
    issue: '13', target: `10,000 held long-poll requests: native RSS no worse than node:net's (≤ ${LONG_POLL_RSS_TOLERANCE}×), no errors`,
    measured: measured ? `${f1(nativeRss)} vs ${f1(nodeRss)} MiB held (${x(nativeRss / nodeRss)}; medians of ${count('native')} and ${count('node')} run(s)), ${errors} errors` : 'not run',
    met: measured ? nativeRss <= nodeRss * LONG_POLL_RSS_TOLERANCE && errors === 0 : null,
  });
  return out;
}

/** One backend's system calls per request: "5.1 (accept4 1.00, read 1.01, …)". */
export function syscallSummary(row: SyscallCounts | undefined): string {
  if (!row) return '–';
  const entries = [...row.perRequest].filter(([, n]) => n >= 0.05).sort((a, b) => b[1] - a[1]);
  const total = [...row.perRequest.values()].reduce((sum, n) => sum + n, 0);
  return `${total.toFixed(1)} (${entries.map(([name, n]) => `${name} ${n.toFixed(2)}`).join(', ')})`;
}

/** " By thread: …": the thread that serves the requests against the backend's other threads. */
function threadSplit(ours: TargetSummary, uwsgi: TargetSummary): string {
  if (ours.requestThreadUs === null || uwsgi.requestThreadUs === null) return '';
  return ` By thread: the one serving requests ${f1(ours.requestThreadUs)} µs (user ${f1(ours.requestThreadUserUs)}) against uWSGI's worker's ${f1(uwsgi.requestThreadUs)} (user ${f1(uwsgi.requestThreadUserUs)}); every other thread (supervisor, store writer, V8's helpers; uWSGI's master) ${f1(ours.otherThreadsUs)} against ${f1(uwsgi.otherThreadsUs)}.`;
}

/**
 * Where a missed uWSGI target's time goes, from the figures at hand: our native path's user and
 * system CPU against uWSGI's, nginx's CPU, the cores busy elsewhere, and the system calls.
 */
export function whereTimeGoes(r: NativeResults): string[] {
  const out: string[] = [];
  for (const c of NATIVE_COMPARISONS) {
    if (c.uwsgi === undefined || !missesUwsgi(r, c)) continue;
    const g = groupOf(r, c);
    const a = summaryOf(g, c.native);
    const b = summaryOf(g, c.uwsgi);
    if (!g || !a || !b) continue;
    const outside = (id: TargetId): number => median(g.perRound.filter((p) => p.measurement.target === id).map((p) => p.otherCores));
    out.push(`- ${c.what}: ours native ${f1(a.backendCpuUs)} µs/request (user ${f1(a.backendUserUs)}, system ${f1(system(a))}) against uWSGI's ${f1(b.backendCpuUs)} (user ${f1(b.backendUserUs)}, system ${f1(system(b))}): user ${signed((a.backendUserUs ?? NaN) - (b.backendUserUs ?? NaN))} µs, system ${signed(system(a) - system(b))} µs. nginx ${f1(a.nginxCpuUs)} vs ${f1(b.nginxCpuUs)} µs/request; cores busy outside the backend and nginx ${outside(c.native).toFixed(2)} vs ${outside(c.uwsgi).toFixed(2)}.${threadSplit(a, b)}`);
  }
  if (out.length > 0 && r.syscalls.length > 0) {
    const row = (id: TargetId): SyscallCounts | undefined => r.syscalls.find((s) => s.id === id);
    out.push(`- System calls per request on TCP (strace -f -c): native ${syscallSummary(row('ours-full-native'))}; node:net ${syscallSummary(row('ours-full-node'))}; uWSGI ${syscallSummary(row('uwsgi'))}.`);
  }
  return out;
}

export function formatNative(r: NativeResults): string[] {
  const out: string[] = [];
  const first = r.groups[0]?.results;
  out.push(`Each group runs behind an nginx of its own, ${r.rounds} round(s) of \`${first?.wrkCommand ?? 'wrk'}\` per target, interleaved with the order alternating (A B C … then … C B A), after a warm-up; one group after another. Figures are medians over rounds, ratios the median of per-round ratios. Ours from \`dist/\` with every default but \`io\` (store on, \`workers: 1\`, threads 10, queue 100); uWSGI \`--master --processes 1\`. CPU per request is the process tree's utime + stime over the run (/proc).`, '');
  for (const g of r.groups) {
    const c = NATIVE_COMPARISONS.find((k) => k.group === g.id);
    out.push(`**${g.label}** (load average ${g.results.loadAtStart} at the start, ${g.results.loadAtEnd} at the end):`, '', ...summaryTable(g.results), '');
    if (c) {
      const lines = [
        c.uwsgi ? costLine(g.results, c.native, c.uwsgi, 'Native vs uWSGI') : null,
        c.uwsgi ? costLine(g.results, c.node, c.uwsgi, 'node:net vs uWSGI') : null,
        costLine(g.results, c.native, c.node, 'Native vs node:net'),
      ];
      out.push(...lines.filter((l): l is string => l !== null), '');
    }
    if (g.results.storeChecks.length > 0) {
      out.push(`Rows recorded vs requests served: ${g.results.storeChecks.map((s) => `${s.target} ${s.rows}/${s.requests} (${s.dropped} dropped, ${s.errors} errors)`).join('; ')}.`, '');
    }
  }
  if (r.longPoll.length > 0) {
    out.push('Held long-poll requests (ours, store on, `workers: 0`, straight to the SCGI ports; a fresh server per row, native and node:net alternating):', '', ...longPollTable(r.longPoll), '');
  }
  if (r.syscalls.length > 0) out.push(formatSyscalls(r.syscalls, 'npm run bench -- --native'), '');
  const where = whereTimeGoes(r);
  if (where.length > 0) out.push('Where the time goes (a target was missed):', '', ...where, '');
  if (r.failures.length > 0) out.push(`Not completed: ${r.failures.join('; ')}.`, '');
  return out;
}

/** A `--native` run on its own: header, the groups, long-poll, system calls and the verdicts. */
export function formatNativeRun(r: NativeResults, m: Machine, command: string, elapsedS: number, quick: boolean): string {
  return [
    `### ${m.date.slice(0, 10)} native I/O core ${quick ? 'quick run' : 'run'} (${m.date}, commit ${m.commit})`, '',
    `- Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB.toFixed(1)} GiB, Linux ${m.kernel}; load average at start ${m.loadAtStart} (the machine is shared: other work runs beside the benchmark).`,
    `- Versions: Node ${m.node}, nginx ${m.nginx}, uWSGI ${m.uwsgi} (Python ${m.python}), wrk ${m.wrk}, ${m.ours}.`,
    `- Command: \`${command}\`; only the native I/O section (issue 13). Took ${Math.round(elapsedS)} s.`, '',
    ...formatNative(r),
    ...verdictTable(nativeVerdicts(r)), '',
    '<details><summary>Backend command lines</summary>', '', ...[...new Set(r.groups.flatMap((g) => g.results.commands))].map((c) => `- \`${c}\``), '', '</details>', '',
  ].join('\n');
}
