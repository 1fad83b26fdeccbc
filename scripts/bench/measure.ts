/**
 * @module measure
 * One wrk run against one target with the CPU time of nginx and of the backend (whole process
 * trees, from /proc) and the backend's event-loop delay over exactly that run; and the medians
 * over rounds. CPU per request = CPU seconds spent during the run / requests wrk completed.
 */
import type { Backend } from './backends.js';
import { busiestThread, CLOCK_TICKS_PER_S, processTree, sampleThreads, sampleTree } from './proc-stats.js';
import { takeLoopFigures, type LoopFigures } from './probes.js';
import type { TargetSpec } from './targets.js';
import { runWrk, type WrkOptions, type WrkResult } from './wrk.js';

export interface Measurement {
  target: TargetSpec['id'];
  round: number;
  wrk: WrkResult;
  backendCpuUs: number | null;
  /** The user-mode part of backendCpuUs (the rest is system calls, mostly the same for every Node server). */
  backendUserUs: number | null;
  nginxCpuUs: number;
  backendRssBytes: number | null;
  loop: LoopFigures | null;
  /** The backend's busiest thread (the one serving the requests) and the user part of it. */
  requestThreadUs: number | null;
  requestThreadUserUs: number | null;
  /** Every other thread of the backend's processes. */
  otherThreadsUs: number | null;
}

export interface RunContext {
  nginxPid: number;
  port: number;
  wrk: Omit<WrkOptions, 'url'>;
}

/**
 * The worst event loop of the given processes since the previous call: our runtime serves from
 * worker processes, and the supervisor alone runs no app code. Each process is signalled in turn, as they all append to one file.
 */
export async function worstLoopOf(pids: number[], file: string): Promise<LoopFigures | null> {
  let worst: LoopFigures | null = null;
  for (const pid of pids) {
    const figures = await takeLoopFigures(pid, file);
    if (figures && (worst === null || figures.p99Ms > worst.p99Ms)) worst = figures;
  }
  return worst;
}

export async function measureOnce(target: TargetSpec, backend: Backend | null, round: number, ctx: RunContext): Promise<Measurement> {
  if (backend?.loopFile) await worstLoopOf(processTree(backend.process.pid), backend.loopFile); // reset
  const nginxBefore = sampleTree(ctx.nginxPid);
  const backendBefore = backend ? sampleTree(backend.process.pid) : null;
  const threadsBefore = backendBefore ? sampleThreads(backendBefore.pids) : null;
  const wrk = await runWrk({ ...ctx.wrk, url: `http://127.0.0.1:${ctx.port}/` });
  const nginxAfter = sampleTree(ctx.nginxPid);
  const backendAfter = backend ? sampleTree(backend.process.pid) : null;
  const threads = backendAfter && threadsBefore ? busiestThread(threadsBefore, sampleThreads(backendAfter.pids)) : null;
  const loop = backend?.loopFile ? await worstLoopOf(processTree(backend.process.pid), backend.loopFile) : null;
  const perRequestUs = (seconds: number): number => (wrk.requests > 0 ? (seconds * 1e6) / wrk.requests : NaN);
  return {
    target: target.id,
    round,
    wrk,
    nginxCpuUs: perRequestUs(nginxAfter.cpuSeconds - nginxBefore.cpuSeconds),
    backendCpuUs: backendBefore && backendAfter ? perRequestUs(backendAfter.cpuSeconds - backendBefore.cpuSeconds) : null,
    backendUserUs: backendBefore && backendAfter ? perRequestUs(backendAfter.userSeconds - backendBefore.userSeconds) : null,
    backendRssBytes: backendAfter ? backendAfter.rssBytes : null,
    loop,
    requestThreadUs: threads ? perRequestUs(threads.cpuTicks / CLOCK_TICKS_PER_S) : null,
    requestThreadUserUs: threads ? perRequestUs(threads.userTicks / CLOCK_TICKS_PER_S) : null,
    otherThreadsUs: threads ? perRequestUs(threads.othersCpuTicks / CLOCK_TICKS_PER_S) : null,
  };
}

export function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export interface TargetSummary {
  id: TargetSpec['id'];
  label: string;
  rounds: number;
  rps: number;
  /** Lowest and highest req/s over the rounds: the spread a reader should expect. */
  rpsMin: number;
  rpsMax: number;
  p50Ms: number;
  p99Ms: number;
  socketErrors: number;
  non2xx: number;
  requests: number;
  backendCpuUs: number | null;
  backendUserUs: number | null;
  nginxCpuUs: number;
  backendRssMiB: number | null;
  loopP99Ms: number | null;
  requestThreadUs: number | null;
  requestThreadUserUs: number | null;
  otherThreadsUs: number | null;
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

export function summarize(target: TargetSpec, runs: Measurement[]): TargetSummary {
  const mine = runs.filter((m) => m.target === target.id);
  const pick = (f: (m: Measurement) => number | null | undefined): number => median(mine.map((m) => f(m) ?? NaN));
  const rpsAll = mine.map((m) => m.wrk.requestsPerSecond);
  return {
    id: target.id,
    label: target.label,
    rounds: mine.length,
    rps: median(rpsAll),
    rpsMin: Math.min(...rpsAll),
    rpsMax: Math.max(...rpsAll),
    p50Ms: pick((m) => m.wrk.p50Ms),
    p99Ms: pick((m) => m.wrk.p99Ms),
    socketErrors: mine.reduce((sum, m) => sum + m.wrk.socketErrors, 0),
    non2xx: mine.reduce((sum, m) => sum + m.wrk.non2xx, 0),
    requests: mine.reduce((sum, m) => sum + m.wrk.requests, 0),
    backendCpuUs: finiteOrNull(pick((m) => m.backendCpuUs)),
    backendUserUs: finiteOrNull(pick((m) => m.backendUserUs)),
    nginxCpuUs: pick((m) => m.nginxCpuUs),
    backendRssMiB: finiteOrNull(pick((m) => m.backendRssBytes) / 1024 / 1024),
    loopP99Ms: finiteOrNull(pick((m) => m.loop?.p99Ms)),
    requestThreadUs: finiteOrNull(pick((m) => m.requestThreadUs)),
    requestThreadUserUs: finiteOrNull(pick((m) => m.requestThreadUserUs)),
    otherThreadsUs: finiteOrNull(pick((m) => m.otherThreadsUs)),
  };
}
