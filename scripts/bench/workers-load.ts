/**
 * @module workers-load
 * The worker-process load comparisons through nginx, interleaved in rounds: a CPU-bound app with 2
 * workers vs 1 (req/s), and the hello full path with 1 worker vs in-process (CPU per request,
 * split into the supervisor's main thread, its other threads and the workers).
 */
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { median, worstLoopOf } from './measure.js';
import { startNginx } from './nginx.js';
import { readMachineTicks, sampleProcess, sampleTree, CLOCK_TICKS_PER_S, type ProcessSample } from './proc-stats.js';
import { freePort, type Started } from './processes.js';
import { readStatsPort } from './probes.js';
import type { ModeSummary, WorkersStoreCheck } from './workers-report.js';
import { HELLO_APP, httpGet, startServe, WORKER_APP, workerPidsOf, type RunningServe } from './worker-backend.js';
import { runWrk, type WrkResult } from './wrk.js';

/** The CPU-bound app: about 2 ms of synchronous work per request. */
export const CPU_MS = 2;
/** Enough connections to keep two workers' queues non-empty (nginx opens one upstream connection each). */
export const CPU_CONNECTIONS = 16;
/** The same as the main table, so the full path's figures compare with it. */
export const HELLO_CONNECTIONS = 32;
const PAUSE_BETWEEN_RUNS_MS = 300;

export interface LoadPartOptions {
  dir: string;
  rounds: number;
  secondsPerRun: number;
  warmupSeconds: number;
  log(line: string): void;
}

interface Mode {
  label: string;
  workers: number;
  serve: RunningServe;
  port: number;
}

interface Round {
  wrk: WrkResult;
  /** µs per request. */
  totalUs: number;
  userUs: number;
  supervisorMainUs: number;
  supervisorMainUserUs: number;
  supervisorOtherUs: number;
  workersUs: number;
  workersUserUs: number;
  workersMainUs: number;
  /** Each worker's share of the workers' CPU, largest first (balance across workers). */
  workerShares: number[];
  nginxUs: number;
  rssSupervisorBytes: number;
  rssWorkersBytes: number;
  loopSupervisorP99Ms: number | null;
  loopWorkerP99Ms: number | null;
  /** Cores busy on the whole machine during the run, and those not spent by the backend or nginx (wrk, other work). */
  machineBusyCores: number;
  otherCores: number;
}

function samples(pids: number[]): Map<number, ProcessSample> {
  const out = new Map<number, ProcessSample>();
  for (const pid of pids) {
    const s = sampleProcess(pid);
    if (s) out.set(pid, s);
  }
  return out;
}

/** The worst p99 over the given processes' loops since the previous call. */
async function loopP99(pids: number[], file: string): Promise<number | null> {
  return (await worstLoopOf(pids, file))?.p99Ms ?? null;
}

async function measureMode(mode: Mode, nginxPid: number, path: string, connections: number, seconds: number, withLoop: boolean): Promise<Round> {
  const supervisor = mode.serve.process.pid;
  const workers = workerPidsOf(supervisor);
  if (withLoop) await loopP99([supervisor, ...workers], mode.serve.loopFile); // reset
  const nginxBefore = sampleTree(nginxPid);
  const before = samples([supervisor, ...workers]);
  const machineBefore = readMachineTicks();
  const startedAt = performance.now();
  const wrk = await runWrk({ url: `http://127.0.0.1:${mode.port}${path}`, seconds, connections, threads: 1 });
  const wallS = (performance.now() - startedAt) / 1000;
  const machineAfter = readMachineTicks();
  const after = samples([supervisor, ...workers]);
  const nginxAfter = sampleTree(nginxPid);
  const loopSupervisor = withLoop ? await loopP99([supervisor], mode.serve.loopFile) : null;
  const loopWorker = withLoop && workers.length > 0 ? await loopP99(workers, mode.serve.loopFile) : null;
  const us = (ticks: number): number => (wrk.requests > 0 ? (ticks / CLOCK_TICKS_PER_S) * 1e6 / wrk.requests : NaN);
  const delta = (pid: number, f: (s: ProcessSample) => number): number => {
    const a = before.get(pid);
    const b = after.get(pid);
    // A worker replaced during the run (none is expected) is left out rather than miscounted.
    return a && b ? f(b) - f(a) : 0;
  };
  const workerTicks = workers.map((pid) => delta(pid, (s) => s.cpuTicks));
  const workersTicks = workerTicks.reduce((a, b) => a + b, 0);
  const supervisorTicks = delta(supervisor, (s) => s.cpuTicks);
  const supervisorMainTicks = delta(supervisor, (s) => s.mainCpuTicks);
  const userTicks = [supervisor, ...workers].reduce((sum, pid) => sum + delta(pid, (s) => s.userTicks), 0);
  const nginxS = nginxAfter.cpuSeconds - nginxBefore.cpuSeconds;
  const busyCores = ((machineAfter.busy - machineBefore.busy) / Math.max(1, machineAfter.total - machineBefore.total)) * cpus().length;
  return {
    wrk,
    totalUs: us(supervisorTicks + workersTicks),
    userUs: us(userTicks),
    supervisorMainUs: us(supervisorMainTicks),
    supervisorMainUserUs: us(delta(supervisor, (s) => s.mainUserTicks)),
    supervisorOtherUs: us(supervisorTicks - supervisorMainTicks),
    workersUs: us(workersTicks),
    workersUserUs: us(workers.reduce((sum, pid) => sum + delta(pid, (s) => s.userTicks), 0)),
    workersMainUs: us(workers.reduce((sum, pid) => sum + delta(pid, (s) => s.mainCpuTicks), 0)),
    workerShares: workersTicks > 0 ? workerTicks.map((t) => t / workersTicks).sort((a, b) => b - a) : [],
    nginxUs: us(nginxS * CLOCK_TICKS_PER_S),
    rssSupervisorBytes: after.get(supervisor)?.rssBytes ?? NaN,
    rssWorkersBytes: workers.reduce((sum, pid) => sum + (after.get(pid)?.rssBytes ?? 0), 0),
    loopSupervisorP99Ms: loopSupervisor,
    loopWorkerP99Ms: loopWorker,
    machineBusyCores: busyCores,
    otherCores: busyCores - ((supervisorTicks + workersTicks) / CLOCK_TICKS_PER_S + nginxS) / wallS,
  };
}

function summarizeMode(mode: Mode, rounds: Round[]): ModeSummary {
  const pick = (f: (r: Round) => number | null): number => median(rounds.map((r) => f(r) ?? NaN));
  const rps = rounds.map((r) => r.wrk.requestsPerSecond);
  const shares = rounds[0]?.workerShares.map((_, i) => pick((r) => r.workerShares[i] ?? NaN)) ?? [];
  return {
    label: mode.label,
    workers: mode.workers,
    rounds: rounds.length,
    rps: median(rps),
    rpsMin: Math.min(...rps),
    rpsMax: Math.max(...rps),
    p50Ms: pick((r) => r.wrk.p50Ms),
    p99Ms: pick((r) => r.wrk.p99Ms),
    socketErrors: rounds.reduce((sum, r) => sum + r.wrk.socketErrors, 0),
    non2xx: rounds.reduce((sum, r) => sum + r.wrk.non2xx, 0),
    requests: rounds.reduce((sum, r) => sum + r.wrk.requests, 0),
    cpuUs: pick((r) => r.totalUs),
    userUs: pick((r) => r.userUs),
    supervisorMainUs: pick((r) => r.supervisorMainUs),
    supervisorMainUserUs: pick((r) => r.supervisorMainUserUs),
    supervisorOtherUs: pick((r) => r.supervisorOtherUs),
    workersUs: pick((r) => r.workersUs),
    workersUserUs: pick((r) => r.workersUserUs),
    workersMainUs: pick((r) => r.workersMainUs),
    workerShares: shares,
    nginxUs: pick((r) => r.nginxUs),
    rssSupervisorMiB: pick((r) => r.rssSupervisorBytes) / 1024 / 1024,
    rssWorkersMiB: pick((r) => r.rssWorkersBytes) / 1024 / 1024,
    loopSupervisorP99Ms: pick((r) => r.loopSupervisorP99Ms),
    loopWorkerP99Ms: pick((r) => r.loopWorkerP99Ms),
    machineBusyCores: pick((r) => r.machineBusyCores),
    otherCores: pick((r) => r.otherCores),
    rpsByRound: rps,
    cpuUsByRound: rounds.map((r) => r.totalUs),
  };
}

interface Comparison {
  dir: string;
  id: string;
  modes: Array<{ label: string; workers: number }>;
  module: string;
  store: boolean;
  path: string;
  expect: string;
  connections: number;
  withLoop: boolean;
}

/** Starts one backend per mode and one nginx, checks the answer, warms up, runs the rounds in alternating order. */
async function compare(c: Comparison, o: LoadPartOptions): Promise<{ summaries: ModeSummary[]; storeChecks: WorkersStoreCheck[]; commands: string[] }> {
  const modes: Mode[] = [];
  let nginx: Started | null = null;
  try {
    for (const m of c.modes) {
      const serve = await startServe({ id: `${c.id}-w${m.workers}`, dir: c.dir, apps: [{ name: 'app', module: c.module, workers: m.workers }], store: c.store, logLevel: 'warn' });
      modes.push({ ...m, serve, port: await freePort() });
      o.log(`started ${serve.id} (supervisor ${serve.process.pid}, workers ${workerPidsOf(serve.process.pid).join(' ') || 'none: in-process'})`);
    }
    const started = await startNginx(`${c.dir}/nginx-${c.id}`, modes.map((m) => ({ name: `${c.id}-w${m.workers}`, port: m.port, front: { kind: 'scgi', upstream: `127.0.0.1:${m.serve.ports.get('app')}` } })));
    nginx = started.process;
    for (const m of modes) {
      const answer = await httpGet(m.port, c.path, 5000);
      if (answer.status !== 200 || answer.body !== c.expect) throw new Error(`${m.label}: expected 200 ${JSON.stringify(c.expect)}, got ${answer.status} ${JSON.stringify(answer.body.slice(0, 200))}`);
    }
    const nginxPid = nginx.pid;
    for (const m of modes) await measureMode(m, nginxPid, c.path, c.connections, o.warmupSeconds, false);
    const rounds = new Map<Mode, Round[]>(modes.map((m) => [m, []]));
    for (let round = 1; round <= o.rounds; round++) {
      // Alternating order: neither mode always runs right after the other's TIME_WAIT churn.
      for (const m of round % 2 === 1 ? modes : [...modes].reverse()) {
        await sleep(PAUSE_BETWEEN_RUNS_MS);
        const r = await measureMode(m, nginxPid, c.path, c.connections, o.secondsPerRun, c.withLoop);
        rounds.get(m)?.push(r);
        o.log(`round ${round}/${o.rounds} ${m.label.padEnd(22)} ${Math.round(r.wrk.requestsPerSecond).toString().padStart(6)} req/s  CPU ${r.totalUs.toFixed(1)} µs (supervisor main ${r.supervisorMainUs.toFixed(1)}, other threads ${r.supervisorOtherUs.toFixed(1)}, workers ${r.workersUs.toFixed(1)})  nginx ${r.nginxUs.toFixed(1)} µs  machine ${r.machineBusyCores.toFixed(2)} cores busy, ${r.otherCores.toFixed(2)} outside backend+nginx  p99 ${r.wrk.p99Ms.toFixed(2)} ms  errors ${r.wrk.socketErrors} non-2xx ${r.wrk.non2xx}`);
      }
    }
    const storeChecks: WorkersStoreCheck[] = [];
    if (c.store) {
      await sleep(1000); // a flush interval (200 ms) and then some: every row reaches the database
      for (const m of modes) {
        const f = await readStatsPort(m.serve.statsPort);
        storeChecks.push({ label: m.label, requests: Number(f.get('requests') ?? 0), rows: Number(f.get('store_rows') ?? 0), dropped: Number(f.get('store_dropped') ?? 0), lost: Number(f.get('store_lost') ?? 0) });
      }
    }
    return { summaries: modes.map((m) => summarizeMode(m, rounds.get(m) ?? [])), storeChecks, commands: modes.map((m) => m.serve.command) };
  } finally {
    await nginx?.stop();
    await Promise.all(modes.map((m) => m.serve.process.stop()));
  }
}

export function runCpuBound(o: LoadPartOptions): ReturnType<typeof compare> {
  return compare({
    dir: o.dir, id: 'cpu', module: WORKER_APP, store: true, path: `/cpu?ms=${CPU_MS}`, expect: `spun ${CPU_MS} ms\n`,
    connections: CPU_CONNECTIONS, withLoop: false,
    modes: [{ label: 'CPU-bound, workers: 1', workers: 1 }, { label: 'CPU-bound, workers: 2', workers: 2 }],
  }, o);
}

/**
 * Three times the rounds at 0.4 the length (full: 9 pairs of 4 s): the target is a ratio of CPU
 * per request that other work on the machine moves by ±15 % from one pair to the next (10 pairs
 * measured 0.72-1.42×, median 1.09×); many adjacent pairs steady the median.
 */
export function runFullPath(o: LoadPartOptions): ReturnType<typeof compare> {
  const paired = { ...o, rounds: o.rounds * 3, secondsPerRun: Math.max(3, Math.round(o.secondsPerRun * 0.4)) };
  return compare({
    dir: o.dir, id: 'full', module: HELLO_APP, store: true, path: '/', expect: 'Hello, world!\n',
    connections: HELLO_CONNECTIONS, withLoop: true,
    modes: [{ label: 'full path, workers: 0', workers: 0 }, { label: 'full path, workers: 1', workers: 1 }],
  }, paired);
}
