/**
 * @module workers-report
 * The worker-process part of a benchmark run as Markdown, and its targets (pure). A
 * full run prints it inside its dated section; `--workers` files it as a dated run of its own.
 */
import type { Machine } from './preflight.js';
import type { Verdict } from './verdict.js';
import type { WrkResult } from './wrk.js';

/** One backend of a load comparison, medians over rounds; CPU figures are µs per request. */
export interface ModeSummary {
  label: string;
  workers: number;
  rounds: number;
  rps: number;
  rpsMin: number;
  rpsMax: number;
  p50Ms: number;
  p99Ms: number;
  socketErrors: number;
  non2xx: number;
  requests: number;
  /** Supervisor (every thread) + workers. */
  cpuUs: number;
  userUs: number;
  /** The supervisor's main thread: its event loop (IPC from the workers, heartbeats; in-process: the app too). */
  supervisorMainUs: number;
  supervisorMainUserUs: number;
  /** The supervisor's other threads: the timing store's SQLite writer, V8's GC helpers, libuv's pool. */
  supervisorOtherUs: number;
  workersUs: number;
  workersUserUs: number;
  /** The workers' main threads alone (the app, the request path, IPC sends). */
  workersMainUs: number;
  /** Each worker's share of the workers' CPU, largest first. */
  workerShares: number[];
  nginxUs: number;
  rssSupervisorMiB: number;
  rssWorkersMiB: number;
  loopSupervisorP99Ms: number;
  loopWorkerP99Ms: number;
  /** Cores busy on the whole machine during a run (of os.cpus().length), and the part outside the backend and nginx: wrk and other work. */
  machineBusyCores: number;
  otherCores: number;
  /** Per round, in round order: each round ran both modes back to back, so round i of two modes is a pair. */
  rpsByRound: number[];
  cpuUsByRound: number[];
}

export interface WorkersStoreCheck {
  label: string;
  requests: number;
  rows: number;
  dropped: number;
  lost: number;
}

export interface HangResult {
  app: string;
  hangTimeoutMs: number;
  /** From sending /hang to the first 200 for /. */
  servingAgainMs: number | null;
  /** What the client of /hang got (nginx's 502 when the worker is killed), null for no answer. */
  hangStatus: number | null;
  /** The supervisor's log: how long the worker had been silent when it was killed (since its last heartbeat answer, before /hang). */
  stuckMs: number | null;
  /** The supervisor's log: when it killed the worker, from sending /hang (pino's time, ms). */
  killedAfterMs: number | null;
  /** One stats-port read half-way through the hang. */
  statsAnswerMs: number | null;
  hangs: number;
  restarts: number;
  pidsBefore: number[];
  pidsAfter: number[];
  polls: number;
}

export interface ReloadTiming {
  oldPids: number[];
  newPids: number[];
  /** SIGHUP to the first new pid in `<app>_worker_pids` (the new workers accept). */
  newServingMs: number | null;
  /** SIGHUP to only new pids listed (the old ones drained and exited). */
  oldGoneMs: number | null;
  /** The supervisor's own "reloaded (SIGHUP): … in N ms". */
  logTookMs: number | null;
}

export interface ReloadResult {
  workers: number;
  seconds: number;
  connections: number;
  baseline: WrkResult;
  loaded: WrkResult;
  reloads: ReloadTiming[];
  nginxErrors: number;
  nginxErrorSamples: string[];
  command: string;
}

export interface MemoryResult {
  workers: number;
  processes: Array<{ role: string; pid: number; rssMiB: number; pssMiB: number }>;
  totalMiB: number;
  totalPssMiB: number;
  requests: number;
  command: string;
}

export interface WorkersResults {
  rounds: number;
  secondsPerRun: number;
  cpuBound: ModeSummary[];
  fullPath: ModeSummary[];
  storeChecks: WorkersStoreCheck[];
  hangs: HangResult[];
  reload: ReloadResult | null;
  memory: MemoryResult[];
  /** Parts that could not run, with why; the others still report. */
  failures: string[];
  commands: string[];
  cpuMs: number;
  cpuConnections: number;
  helloConnections: number;
}

const f0 = (n: number | null): string => (n === null || !Number.isFinite(n) ? '–' : Math.round(n).toLocaleString('en-US'));
const f1 = (n: number | null): string => (n === null || !Number.isFinite(n) ? '–' : n.toFixed(1));
const f2 = (n: number | null): string => (n === null || !Number.isFinite(n) ? '–' : n.toFixed(2));
const x = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}×` : '–');
const signed = (n: number): string => `${n >= 0 ? '+' : ''}${f1(n)}`;
const pct = (n: number): string => `${Math.round(n * 100)} %`;

/** Tolerance of the hang target: "≤ hangTimeout + 1 s". */
export const HANG_SLACK_MS = 1000;
export const CPU_SCALING_TARGET = 1.7;
export const CPU_OVERHEAD_TARGET = 1.1;

const mode = (rows: ModeSummary[], workers: number): ModeSummary | undefined => rows.find((m) => m.workers === workers);

/**
 * The median of the per-round ratios a/b: the two runs of a round are adjacent in time, so other
 * work on a shared machine moves both alike, steadier than the ratio of the medians.
 */
export function pairedRatio(a: number[], b: number[]): { median: number; min: number; max: number } {
  const ratios = a.map((v, i) => v / (b[i] ?? NaN)).filter(Number.isFinite).sort((p, q) => p - q);
  if (ratios.length === 0) return { median: NaN, min: NaN, max: NaN };
  const mid = Math.floor(ratios.length / 2);
  const median = ratios.length % 2 ? (ratios[mid] as number) : ((ratios[mid - 1] as number) + (ratios[mid] as number)) / 2;
  return { median, min: ratios[0] as number, max: ratios[ratios.length - 1] as number };
}

const range = (r: { min: number; max: number }, rounds: number): string => (rounds > 1 ? `, rounds ${r.min.toFixed(2)}–${r.max.toFixed(2)}` : '');

export function workersVerdicts(r: WorkersResults): Verdict[] {
  const out: Verdict[] = [];
  const one = mode(r.cpuBound, 1);
  const two = mode(r.cpuBound, 2);
  const scaling = one && two ? pairedRatio(two.rpsByRound, one.rpsByRound) : null;
  out.push({
    issue: '10', target: `CPU-bound app (${r.cpuMs} ms/request) through nginx: workers: 2 ≥ ${CPU_SCALING_TARGET} × the req/s of workers: 1`,
    measured: one && two && scaling ? `${f0(two.rps)} vs ${f0(one.rps)} req/s (${x(scaling.median)} median of per-round ratios${range(scaling, r.rounds)})` : 'not run',
    met: scaling && Number.isFinite(scaling.median) ? scaling.median >= CPU_SCALING_TARGET : null,
  });
  const inProcess = mode(r.fullPath, 0);
  const w1 = mode(r.fullPath, 1);
  const overhead = inProcess && w1 ? pairedRatio(w1.cpuUsByRound, inProcess.cpuUsByRound) : null;
  out.push({
    issue: '10', target: `hello, full path: backend CPU/request with workers: 1 (supervisor + worker) ≤ ${CPU_OVERHEAD_TARGET} × in-process (workers: 0)`,
    measured: inProcess && w1 && overhead ? `${f1(w1.cpuUs)} vs ${f1(inProcess.cpuUs)} µs (${x(overhead.median)} median of per-round ratios${range(overhead, r.rounds)})` : 'not run',
    met: overhead && Number.isFinite(overhead.median) ? overhead.median <= CPU_OVERHEAD_TARGET : null,
  });
  for (const h of r.hangs) {
    out.push({
      issue: '10', target: `hang to serving again ≤ hangTimeout + 1 s (hangTimeout ${f0(h.hangTimeoutMs)} ms)`,
      measured: h.servingAgainMs === null ? 'no 200 within the limit' : `${f0(h.servingAgainMs)} ms (limit ${f0(h.hangTimeoutMs + HANG_SLACK_MS)} ms)`,
      met: h.servingAgainMs !== null && h.servingAgainMs <= h.hangTimeoutMs + HANG_SLACK_MS,
    });
  }
  if (r.reload) {
    const l = r.reload.loaded;
    const errors = l.socketErrors + l.non2xx + r.reload.nginxErrors;
    out.push({
      issue: '10', target: 'reload (SIGHUP) under load through nginx: zero non-2xx, zero socket errors, zero nginx errors',
      measured: `${r.reload.reloads.length} reload(s): ${l.non2xx} non-2xx, ${l.socketErrors} socket errors, ${r.reload.nginxErrors} nginx error lines`,
      met: r.reload.reloads.every((t) => t.oldGoneMs !== null) ? errors === 0 : false,
    });
  }
  return out;
}

function throughputTable(rows: ModeSummary[]): string[] {
  const out = [
    '| backend | req/s (median) | min–max | p50 ms | p99 ms | socket errors | non-2xx | nginx CPU µs/req | machine busy, cores | of which outside backend and nginx (wrk, other work) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const m of rows) {
    out.push(`| ${m.label} | ${f0(m.rps)} | ${f0(m.rpsMin)}–${f0(m.rpsMax)} | ${f2(m.p50Ms)} | ${f2(m.p99Ms)} | ${m.socketErrors} | ${m.non2xx} | ${f1(m.nginxUs)} | ${f2(m.machineBusyCores)} | ${f2(m.otherCores)} |`);
  }
  return out;
}

/** Backend CPU per request, split by process and thread. */
function cpuTable(rows: ModeSummary[], withLoop: boolean): string[] {
  const out = [
    `| backend | backend CPU µs/req | user | system | supervisor main thread | supervisor other threads | workers: main threads | workers: other threads | split across workers | RSS MiB supervisor + workers |${withLoop ? ' loop p99 ms supervisor / worker |' : ''}`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${withLoop ? ' ---: |' : ''}`,
  ];
  for (const m of rows) {
    const inProcess = m.workers === 0;
    const split = m.workerShares.length > 1 ? m.workerShares.map(pct).join(' / ') : inProcess ? 'in-process' : 'one worker';
    out.push(`| ${m.label} | ${f1(m.cpuUs)} | ${f1(m.userUs)} | ${f1(m.cpuUs - m.userUs)} | ${f1(m.supervisorMainUs)} | ${f1(m.supervisorOtherUs)} | ${inProcess ? '–' : f1(m.workersMainUs)} | ${inProcess ? '–' : f1(m.workersUs - m.workersMainUs)} | ${split} | ${f1(m.rssSupervisorMiB)}${inProcess ? '' : ` + ${f1(m.rssWorkersMiB)}`} |${withLoop ? ` ${f2(m.loopSupervisorP99Ms)} / ${inProcess ? '–' : f2(m.loopWorkerP99Ms)} |` : ''}`);
  }
  return out;
}

/**
 * Where the extra CPU of workers: 1 goes. In-process, the one process does everything: the app on
 * its main thread, the store on its other threads. With a worker, the worker's main thread runs
 * the app and sends rows over IPC; the supervisor's main thread receives and unpacks them.
 */
function whereItGoes(inProcess: ModeSummary, w1: ModeSummary): string[] {
  const sys = (m: ModeSummary): number => m.cpuUs - m.userUs;
  const workerOther = w1.workersUs - w1.workersMainUs;
  return [
    `- Workers: 1 vs in-process: ${x(pairedRatio(w1.cpuUsByRound, inProcess.cpuUsByRound).median)} the backend CPU per request, median of the per-round ratios (medians ${f1(w1.cpuUs)} vs ${f1(inProcess.cpuUs)} µs, ${signed(w1.cpuUs - inProcess.cpuUs)} µs: user ${signed(w1.userUs - inProcess.userUs)}, system ${signed(sys(w1) - sys(inProcess))}); ${x(pairedRatio(w1.rpsByRound, inProcess.rpsByRound).median)} the req/s; nginx ${f1(w1.nginxUs)} vs ${f1(inProcess.nginxUs)} µs/request.`,
    `- Where it goes: the worker's main thread (the app and the request path, rows sent over IPC) ${f1(w1.workersMainUs)} µs against ${f1(inProcess.supervisorMainUs)} µs for the in-process main thread (${signed(w1.workersMainUs - inProcess.supervisorMainUs)}); ` +
      `the supervisor's main thread, which then runs no app code, ${f1(w1.supervisorMainUs)} µs (${f1(w1.supervisorMainUserUs)} user: receiving the rows and heartbeat figures over IPC and handing rows to the store); ` +
      `the threads besides the main ones (SQLite writer, V8's GC helpers, libuv's pool) ${f1(w1.supervisorOtherUs)} µs in the supervisor + ${f1(workerOther)} µs in the worker, against ${f1(inProcess.supervisorOtherUs)} µs in-process (${signed(w1.supervisorOtherUs + workerOther - inProcess.supervisorOtherUs)}).`,
  ];
}

export function formatWorkers(r: WorkersResults): string[] {
  const out: string[] = ['#### Worker processes (issue 10)', ''];
  out.push(`Our runtime from \`dist/\` under \`serve\` with generated configs (one supervisor per backend, the bench preload in the supervisor and in every worker), behind the same kind of nginx; the backends of one comparison run interleaved, order alternating (${r.rounds} round(s) of ${r.secondsPerRun} s; the full path three times as many at 0.4 the length); medians over rounds, ratios as the median of per-round ratios. CPU per request sums the supervisor (all its threads) and its workers, found by parent pid; "supervisor main thread" is /proc/<pid>/task/<pid> alone.`, '');
  if (r.cpuBound.length > 0) {
    out.push(`CPU-bound app (\`/cpu?ms=${r.cpuMs}\`: ${r.cpuMs} ms of synchronous work per request; store on; threads 10), \`wrk -t1 -c${r.cpuConnections}\`:`, '', ...throughputTable(r.cpuBound), '', ...cpuTable(r.cpuBound, false), '');
    const one = mode(r.cpuBound, 1);
    const two = mode(r.cpuBound, 2);
    if (one && two) {
      const scaling = pairedRatio(two.rpsByRound, one.rpsByRound);
      out.push(`- Workers: 2 vs 1: ${x(scaling.median)} the req/s, median of the per-round ratios${range(scaling, r.rounds)} (target ≥ ${CPU_SCALING_TARGET}×); CPU per request ${f1(two.cpuUs)} vs ${f1(one.cpuUs)} µs; p99 ${f2(two.p99Ms)} vs ${f2(one.p99Ms)} ms. ` +
        `With 2 cores for wrk, nginx, the supervisor and the workers, two workers can only reach the target while other work takes little of the machine (the last column).`, '');
    }
  }
  if (r.fullPath.length > 0) {
    out.push(`Hello, full path (the main table's "ours, full path": hello listener, store on, TCP), \`wrk -t1 -c${r.helloConnections}\`:`, '', ...throughputTable(r.fullPath), '', ...cpuTable(r.fullPath, true), '');
    const inProcess = mode(r.fullPath, 0);
    const w1 = mode(r.fullPath, 1);
    if (inProcess && w1) out.push(...whereItGoes(inProcess, w1), '');
  }
  if (r.storeChecks.length > 0) {
    out.push(`Rows recorded vs requests served (stats port, after the runs): ${r.storeChecks.map((c) => `${c.label} ${c.rows}/${c.requests} (${c.dropped} dropped, ${c.lost} lost)`).join('; ')}.`, '');
  }
  if (r.hangs.length > 0) {
    out.push('Hang to serving again (workers: 1, through nginx): `/hang` (an endless loop), then `/` every 50 ms with a 500 ms client timeout until a 200:', '');
    out.push('| hangTimeout ms | serving again after ms | limit ms (hangTimeout + 1 s) | killed after ms | silent for ms when killed | kill to serving again ms | /hang answered | stats port answered during the hang in ms | hangs / restarts counted | worker pid before → after | polls |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |');
    for (const h of r.hangs) {
      const restart = h.servingAgainMs !== null && h.killedAfterMs !== null ? h.servingAgainMs - h.killedAfterMs : null;
      out.push(`| ${f0(h.hangTimeoutMs)} | ${f0(h.servingAgainMs)} | ${f0(h.hangTimeoutMs + HANG_SLACK_MS)} | ${f0(h.killedAfterMs)} | ${f0(h.stuckMs)} | ${f0(restart)} | ${h.hangStatus ?? 'no answer'} | ${f1(h.statsAnswerMs)} | ${h.hangs} / ${h.restarts} | ${h.pidsBefore.join(' ')} → ${h.pidsAfter.join(' ')} | ${h.polls} |`);
    }
    out.push('');
  }
  if (r.reload) {
    const rl = r.reload;
    out.push(`Graceful reload under load (hello, workers: ${rl.workers}, store on; \`wrk -t1 -c${rl.connections} -d${rl.seconds}s\` through nginx; SIGHUP to the supervisor every 2 s; the stats port polled every 20 ms):`, '');
    out.push('| reload | supervisor\'s log: reloaded in ms | new workers listed after ms | old workers gone after ms | workers |', '| ---: | ---: | ---: | ---: | --- |');
    rl.reloads.forEach((t, i) => out.push(`| ${i + 1} | ${f0(t.logTookMs)} | ${f0(t.newServingMs)} | ${f0(t.oldGoneMs)} | ${t.oldPids.join(' ')} → ${t.newPids.join(' ')} |`));
    out.push('', `- wrk during the reloads: ${f0(rl.loaded.requests)} requests, ${f0(rl.loaded.requestsPerSecond)} req/s (${x(rl.loaded.requestsPerSecond / rl.baseline.requestsPerSecond)} a run of the same length without reloads, ${f0(rl.baseline.requestsPerSecond)} req/s), p99 ${f2(rl.loaded.p99Ms)} vs ${f2(rl.baseline.p99Ms)} ms; ${rl.loaded.socketErrors} socket errors, ${rl.loaded.non2xx} non-2xx; nginx error-log lines ${rl.nginxErrors}${rl.nginxErrorSamples.length ? ` (e.g. \`${rl.nginxErrorSamples[0]?.slice(0, 200)}\`)` : ''}.`, '');
  }
  if (r.memory.length > 0) {
    out.push('Memory of a config equivalent to `dragon-on-wheels demo` (two apps with the demo\'s code, threads 10 and 2, store on, dashboard on, free ports), RSS after 1-2 s of wrk per app and 40 dashboard requests:', '');
    out.push('| workers | process | RSS MiB | PSS MiB |', '| ---: | --- | ---: | ---: |');
    for (const m of r.memory) {
      for (const p of m.processes) out.push(`| ${m.workers} | ${p.role} | ${f1(p.rssMiB)} | ${f1(p.pssMiB)} |`);
      out.push(`| ${m.workers} | total | ${f1(m.totalMiB)} | ${f1(m.totalPssMiB)} |`);
    }
    out.push('');
    const w1 = r.memory.find((m) => m.workers === 1);
    const w0 = r.memory.find((m) => m.workers === 0);
    if (w1 && w0) {
      out.push(`- A worker per app vs in-process: RSS ${f1(w1.totalMiB)} vs ${f1(w0.totalMiB)} MiB (${x(w1.totalMiB / w0.totalMiB)}, ${signed(w1.totalMiB - w0.totalMiB)} MiB); PSS ${f1(w1.totalPssMiB)} vs ${f1(w0.totalPssMiB)} MiB (${x(w1.totalPssMiB / w0.totalPssMiB)}, ${signed(w1.totalPssMiB - w0.totalPssMiB)} MiB). RSS counts the pages the processes share (Node's binary) once per process; PSS splits them, so its total is what the machine spends.`, '');
    }
  }
  for (const failure of r.failures) out.push(`Not completed: ${failure}`, '');
  out.push('<details><summary>Worker-process backends</summary>', '', ...r.commands.map((c) => `- \`${c}\``), '', '</details>', '');
  return out;
}

/** A `--workers` run on its own: header, the block and its targets. */
export function formatWorkersRun(r: WorkersResults, m: Machine, command: string, elapsedS: number, quick: boolean): string {
  const out = [
    `### ${m.date.slice(0, 10)} worker processes ${quick ? 'quick run' : 'run'} (${m.date}, commit ${m.commit})`, '',
    `- Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB.toFixed(1)} GiB, Linux ${m.kernel}; load average at start ${m.loadAtStart} (the machine is shared: other work runs beside the benchmark).`,
    `- Versions: Node ${m.node}, nginx ${m.nginx}, wrk ${m.wrk}, ${m.ours}.`,
    `- Command: \`${command}\`; only the worker-process section (issue 10). Took ${Math.round(elapsedS)} s.`, '',
    ...formatWorkers(r).slice(2),
    'Targets:', '', '| issue | target | measured | met |', '| --- | --- | --- | --- |',
    ...workersVerdicts(r).map((v) => `| ${v.issue} | ${v.target} | ${v.measured} | ${v.met === null ? 'not measured' : v.met ? 'met' : '**not met**'} |`), '',
  ];
  return out.join('\n');
}
