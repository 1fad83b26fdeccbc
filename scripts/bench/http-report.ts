/**
 * @module http-report
 * The HTTP-listener part of a benchmark run as Markdown, and its targets (pure): our `protocol: 'http'`
 * app against plain node:http behind the same keep-alive nginx upstream, and against our own SCGI
 * full path, in-process and with one worker process.
 */
import { median, type Measurement, type TargetSummary } from './measure.js';
import type { Machine } from './preflight.js';
import type { Verdict } from './verdict.js';
import type { TargetId } from './targets.js';
import { pairedRatio } from './workers-report.js';

export interface HttpRound {
  measurement: Measurement;
  /** Cores busy on the whole machine during the run, and those outside the backend and nginx (wrk, other work). */
  busyCores: number;
  otherCores: number;
}

export interface HttpStoreCheck {
  target: TargetId;
  requests: number;
  rows: number;
  dropped: number;
  errors: number;
}

export interface HttpResults {
  rounds: number;
  secondsPerRun: number;
  connections: number;
  /** --http-alone: each run had a fresh backend and nginx of its own, nothing else of ours alive. */
  alone?: boolean;
  targets: Array<{ id: TargetId; label: string }>;
  summaries: TargetSummary[];
  perRound: HttpRound[];
  storeChecks: HttpStoreCheck[];
  loadAtStart: string;
  loadAtEnd: string;
  commands: string[];
  wrkCommand: string;
  nginxConfig: string;
}

/** The HTTP listener's targets: against node:http behind the same nginx, and against our SCGI path. */
export const HTTP_THROUGHPUT_TARGET = 0.9;
export const HTTP_CPU_TARGET = 1.15;
export const HTTP_OVER_SCGI_TARGET = 2;

/** The baseline of every ratio: plain node:http behind the keep-alive upstream. */
const BASELINE: TargetId = 'proxy-keepalive';

/** Our HTTP app and SCGI full path in each mode the part measures. */
export const HTTP_MODES: ReadonlyArray<{ label: string; http: TargetId; scgi: TargetId }> = [
  { label: 'in-process (workers: 0)', http: 'ours-http', scgi: 'ours-full-w0' },
  { label: 'workers: 1 (the default)', http: 'ours-http-w1', scgi: 'ours-full' },
];

/** A figure of one target per round, in round order (NaN for a round it did not run in). */
export function byRound(perRound: readonly HttpRound[], id: TargetId, rounds: number, pick: (m: Measurement) => number | null): number[] {
  const out = new Array<number>(rounds).fill(NaN);
  for (const r of perRound) {
    const m = r.measurement;
    if (m.target === id && m.round >= 1 && m.round <= rounds) out[m.round - 1] = pick(m) ?? NaN;
  }
  return out;
}

export interface HttpRatio {
  /** Median of the per-round ratios a/b: the two runs of a round are close in time. */
  median: number;
  min: number;
  max: number;
  /** The ratio of the medians over rounds, for comparison. */
  ofMedians: number;
}

export function httpRatio(r: HttpResults, a: TargetId, b: TargetId, pick: (m: Measurement) => number | null): HttpRatio {
  const va = byRound(r.perRound, a, r.rounds, pick);
  const vb = byRound(r.perRound, b, r.rounds, pick);
  return { ...pairedRatio(va, vb), ofMedians: median(va) / median(vb) };
}

const rps = (m: Measurement): number => m.wrk.requestsPerSecond;
const cpu = (m: Measurement): number | null => m.backendCpuUs;

/** Whether a measured ratio meets a target ("at least" or "at most"); null when it was not measured. */
export function meets(value: number, limit: number, atMost: boolean): boolean | null {
  if (!Number.isFinite(value)) return null;
  return atMost ? value <= limit : value >= limit;
}

const f0 = (n: number | null): string => (n === null || !Number.isFinite(n) ? '–' : Math.round(n).toLocaleString('en-US'));
const f1 = (n: number | null): string => (n === null || !Number.isFinite(n) ? '–' : n.toFixed(1));
const f2 = (n: number | null): string => (n === null || !Number.isFinite(n) ? '–' : n.toFixed(2));
const x = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}×` : '–');
const signed = (n: number): string => (Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${n.toFixed(1)}` : '–');
const spread = (q: HttpRatio, rounds: number): string => (rounds > 1 ? `, rounds ${q.min.toFixed(2)}–${q.max.toFixed(2)}` : '');

export function httpVerdicts(r: HttpResults): Verdict[] {
  const out: Verdict[] = [];
  const get = (id: TargetId): TargetSummary | undefined => r.summaries.find((s) => s.id === id);
  const base = get(BASELINE);
  for (const mode of HTTP_MODES) {
    const http = get(mode.http);
    const scgi = get(mode.scgi);
    if (!http) continue;
    const verdict = (target: string, q: HttpRatio | null, limit: number, atMost: boolean, figures: string): void => {
      out.push({
        issue: '14', target,
        measured: q ? `${figures} (${x(q.median)} median of per-round ratios${spread(q, r.rounds)}; ratio of medians ${x(q.ofMedians)})` : 'not run',
        met: q ? meets(q.median, limit, atMost) : null,
      });
    };
    const through = base ? httpRatio(r, mode.http, BASELINE, rps) : null;
    verdict(`${mode.label}: HTTP app ≥ ${HTTP_THROUGHPUT_TARGET} × the req/s of plain node:http, same nginx keep-alive upstream`, through, HTTP_THROUGHPUT_TARGET, false,
      `${f0(http.rps)} vs ${f0(base?.rps ?? NaN)} req/s`);
    const cost = base ? httpRatio(r, mode.http, BASELINE, cpu) : null;
    verdict(`${mode.label}: HTTP app backend CPU/request ≤ ${HTTP_CPU_TARGET} × plain node:http's`, cost, HTTP_CPU_TARGET, true,
      `${f1(http.backendCpuUs)} vs ${f1(base?.backendCpuUs ?? NaN)} µs`);
    const over = scgi ? httpRatio(r, mode.http, mode.scgi, rps) : null;
    verdict(`${mode.label}: HTTP app ≥ ${HTTP_OVER_SCGI_TARGET} × the req/s of our SCGI full path`, over, HTTP_OVER_SCGI_TARGET, false,
      `${f0(http.rps)} vs ${f0(scgi?.rps ?? NaN)} req/s`);
  }
  return out;
}

/** The verdicts as the console prints them: one line each, ✓ or ✗ (– when not measured). */
export function verdictLines(verdicts: readonly Verdict[]): string[] {
  return verdicts.map((v) => `${v.met === null ? '–' : v.met ? '✓' : '✗'} ${v.target}: ${v.measured}`);
}

/** The verdicts as the doc files them: a table under "Targets:". */
export function verdictTable(verdicts: readonly Verdict[]): string[] {
  return [
    'Targets:', '', '| issue | target | measured | met |', '| --- | --- | --- | --- |',
    ...verdicts.map((v) => `| ${v.issue} | ${v.target} | ${v.measured} | ${v.met === null ? 'not measured' : v.met ? '✓ met' : '✗ **not met**'} |`),
  ];
}

/** Where a target's CPU differs from the baseline's: user and system time, and nginx's. */
export function costLine(r: HttpResults, a: TargetId, b: TargetId, what: string): string | null {
  const sa = r.summaries.find((s) => s.id === a);
  const sb = r.summaries.find((s) => s.id === b);
  if (!sa || !sb) return null;
  const sys = (s: TargetSummary): number => (s.backendCpuUs ?? NaN) - (s.backendUserUs ?? NaN);
  const q = httpRatio(r, a, b, rps);
  const c = httpRatio(r, a, b, cpu);
  return `- ${what}: ${x(q.median)} the req/s${spread(q, r.rounds)}; backend CPU ${f1(sa.backendCpuUs)} vs ${f1(sb.backendCpuUs)} µs/request (${x(c.median)}${spread(c, r.rounds)}; ${signed((sa.backendCpuUs ?? NaN) - (sb.backendCpuUs ?? NaN))} µs: user ${signed((sa.backendUserUs ?? NaN) - (sb.backendUserUs ?? NaN))}, system ${signed(sys(sa) - sys(sb))}); nginx ${f1(sa.nginxCpuUs)} vs ${f1(sb.nginxCpuUs)} µs/request.`;
}

/** The run's table: one row per target, medians over rounds (the native I/O groups print it too). */
export function summaryTable(r: HttpResults): string[] {
  const out = [
    '| target | req/s (median) | min–max | p50 ms | p99 ms | socket errors | non-2xx | backend CPU µs/req | of which user | nginx CPU µs/req | backend RSS MiB | event-loop p99 ms | cores busy outside backend and nginx |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const s of r.summaries) {
    const other = median(r.perRound.filter((p) => p.measurement.target === s.id).map((p) => p.otherCores));
    out.push(`| ${s.label} | ${f0(s.rps)} | ${f0(s.rpsMin)}–${f0(s.rpsMax)} | ${f2(s.p50Ms)} | ${f2(s.p99Ms)} | ${s.socketErrors} | ${s.non2xx} | ${f1(s.backendCpuUs)} | ${f1(s.backendUserUs)} | ${f1(s.nginxCpuUs)} | ${f1(s.backendRssMiB)} | ${f2(s.loopP99Ms)} | ${f2(other)} |`);
  }
  return out;
}

export function formatHttp(r: HttpResults): string[] {
  const out: string[] = [];
  const how = r.alone
    ? 'one backend at a time (`--http-alone`): in each round every target gets a fresh backend and an nginx of its own (same config), a warm-up and its run, and both stop before the next target starts; order alternating (A B C … then … C B A)'
    : 'through one nginx, interleaved, order alternating (A B C … then … C B A)';
  out.push(`Each target ${r.rounds} round(s) of \`${r.wrkCommand}\` ${how}; figures are medians over rounds, ratios the median of per-round ratios. HTTP targets: \`upstream { server …; keepalive 64; }\`, \`proxy_http_version 1.1\`, \`proxy_set_header Connection ""\`; SCGI targets: \`scgi_pass\`. Every backend serves scripts/bench/apps/hello-listener.mjs; ours from \`dist/\`, store on unless the label says otherwise, default limits (threads 10, queue 100). Load average ${r.loadAtStart} at the start of the part, ${r.loadAtEnd} at its end.`, '');
  out.push(...summaryTable(r));
  out.push('', 'Ratios (same run):', '');
  const lines = [
    costLine(r, 'ours-http', BASELINE, 'Ours, HTTP, in-process vs plain node:http'),
    costLine(r, 'proxy-keepalive-ours-options', BASELINE, 'node:http with our listener\'s server options vs plain node:http'),
    costLine(r, 'ours-http', 'proxy-keepalive-ours-options', 'Ours, HTTP, in-process vs node:http with the same server options'),
    costLine(r, 'ours-http-nostore', BASELINE, 'Ours, HTTP, store off vs plain node:http'),
    costLine(r, 'ours-http', 'ours-http-nostore', 'Store on vs off (HTTP, in-process)'),
    costLine(r, 'ours-http-scratch', 'ours-http', 'The --http-scratch build vs dist/ (HTTP, in-process)'),
    costLine(r, 'ours-scgi-scratch', 'ours-full-w0', 'The --scgi-scratch build vs dist/ (SCGI, in-process)'),
    costLine(r, 'ours-http-w1', BASELINE, 'Ours, HTTP, workers: 1 vs plain node:http'),
    costLine(r, 'ours-http-w1', 'ours-http', 'Ours, HTTP, workers: 1 vs in-process'),
    costLine(r, 'ours-http-unix', 'ours-http', 'Ours, HTTP, Unix socket vs TCP (in-process)'),
    costLine(r, 'ours-http', 'ours-full-w0', 'Ours, HTTP vs SCGI, in-process'),
    costLine(r, 'ours-http-w1', 'ours-full', 'Ours, HTTP vs SCGI, workers: 1'),
  ];
  out.push(...lines.filter((l): l is string => l !== null), '');
  if (r.storeChecks.length > 0) {
    out.push(`Rows recorded vs requests served, from each of our backends' stats port after the runs (one row per request, not per connection): ${r.storeChecks.map((c) => `${c.target} ${c.rows}/${c.requests} (${c.dropped} dropped, ${c.errors} errors)`).join('; ')}.`, '');
  }
  return out;
}

/** A `--http` run on its own: header, the block, its targets and the command lines. */
export function formatHttpRun(r: HttpResults, m: Machine, command: string, elapsedS: number, quick: boolean): string {
  const out = [
    `### ${m.date.slice(0, 10)} HTTP listeners ${r.alone ? 'one-at-a-time ' : ''}${quick ? 'quick run' : 'run'} (${m.date}, commit ${m.commit})`, '',
    `- Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB.toFixed(1)} GiB, Linux ${m.kernel}; load average at start ${m.loadAtStart} (the machine is shared: other work runs beside the benchmark).`,
    `- Versions: Node ${m.node}, nginx ${m.nginx}, wrk ${m.wrk}, ${m.ours}.`,
    `- Command: \`${command}\`; only the HTTP-listener section (issue 14). Took ${Math.round(elapsedS)} s.`, '',
    ...formatHttp(r),
    ...verdictTable(httpVerdicts(r)), '',
    '<details><summary>Backend command lines</summary>', '', ...r.commands.map((c) => `- \`${c}\``), '', '</details>', '',
  ];
  return out.join('\n');
}
