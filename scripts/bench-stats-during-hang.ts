/**
 * @module bench-stats-during-hang
 * How fast the stats port and the metrics listener's /readyz answer while the supervisor kills a
 * hung worker and brings in its replacement, against the same ports idle in the same run: one
 * poll at a time over loopback (the stats port, then /readyz), the latency distribution of each
 * phase, what /readyz said, and the supervisor's own event-loop delay.
 * Usage: npm run build && node --import tsx scripts/bench-stats-during-hang.ts [rounds] [hangTimeoutMs]
 * BENCH_CPU_PROF=<dir>: the supervisor writes a CPU profile there when it stops (--cpu-prof).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { takeLoopFigures, type LoopFigures } from './bench/probes.js';
import { httpGet, logLines, startServe, statsWorkerPids, WORKER_APP } from './bench/worker-backend.js';

const ROUNDS = Number(process.argv[2] ?? 5);
const HANG_TIMEOUT_MS = Number(process.argv[3] ?? 1000);
/** Idle polls before each hang: the baseline of the same round. */
const BASELINE_MS = 2000;
/** A pause between polls, so that the poller itself does not keep the supervisor busy. */
const POLL_GAP_MS = 5;
/** A poll that takes this long is counted at this (the supervisor was blocked or gone). */
const POLL_TIMEOUT_MS = 3000;
/** The hang window ends this long after the replacement is listed (its first figures, its rows). */
const SETTLE_MS = 500;
/** Past this, a round that has not seen the replacement gives up. */
const ROUND_LIMIT_MS = HANG_TIMEOUT_MS + 30_000;
const TARGET_MS = 100;
/** What one figures request may wait for a worker's answer (worker-pool.ts): polls past it waited, or were held up. */
const COLLECT_TIMEOUT_MS = 50;

/** Milliseconds for one full answer of the stats port (connect, read until it closes). */
function pollMs(port: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (): void => {
      socket.destroy();
      resolve(Math.min(performance.now() - t0, POLL_TIMEOUT_MS));
    };
    socket.setTimeout(POLL_TIMEOUT_MS, done);
    socket.resume();
    socket.on('close', done);
    socket.on('error', done);
  });
}

/** Milliseconds for one GET /readyz on a new connection, as a load balancer's probe, and its status (0: none). */
async function readyzMs(port: number): Promise<{ ms: number; status: number }> {
  const t0 = performance.now();
  try {
    const answer = await httpGet(port, '/readyz', POLL_TIMEOUT_MS);
    return { ms: answer.ms, status: answer.status };
  } catch {
    return { ms: Math.min(performance.now() - t0, POLL_TIMEOUT_MS), status: 0 };
  }
}

interface Polls {
  /** The stats port's answer times, and when each poll began. */
  ms: number[];
  at: number[];
  readyz: number[];
  readyzStatus: number[];
}

/** Polls the stats port, then /readyz, until `until()` says stop. */
async function pollWhile(statsPort: number, metricsPort: number, until: () => boolean | Promise<boolean>): Promise<Polls> {
  const polls: Polls = { ms: [], at: [], readyz: [], readyzStatus: [] };
  while (!(await until())) {
    polls.at.push(performance.now());
    polls.ms.push(await pollMs(statsPort));
    const ready = await readyzMs(metricsPort);
    polls.readyz.push(ready.ms);
    polls.readyzStatus.push(ready.status);
    await sleep(POLL_GAP_MS);
  }
  return polls;
}

/** How many /readyz answers had each status ("none": no answer in time). */
function statuses(list: number[]): string {
  const counts = new Map<string, number>();
  for (const status of list) {
    const key = status === 0 ? 'none' : String(status);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort().map(([status, n]) => `${status} x${n}`).join(', ');
}

/** A GET /hang over SCGI that nobody waits for: the worker is stuck in it until killed. */
function sendHang(port: number): () => void {
  const headers = ['CONTENT_LENGTH', '0', 'SCGI', '1', 'REQUEST_METHOD', 'GET', 'REQUEST_URI', '/hang'].join('\0') + '\0';
  const socket = connect(port, '127.0.0.1', () => socket.write(`${Buffer.byteLength(headers)}:${headers},`));
  socket.on('error', () => {});
  return () => socket.destroy();
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? NaN;
}

function describe(label: string, ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const over = (ms: number): string => {
    const n = sorted.filter((v) => v > ms).length;
    return `over ${ms} ms: ${n} (${((n / Math.max(1, sorted.length)) * 100).toFixed(1)} %)`;
  };
  const f = (v: number): string => v.toFixed(1).padStart(7);
  return `${label.padEnd(22)} n=${String(sorted.length).padStart(5)}  p50 ${f(quantile(sorted, 0.5))}  p90 ${f(quantile(sorted, 0.9))}  p99 ${f(quantile(sorted, 0.99))}  max ${f(sorted[sorted.length - 1] ?? NaN)} ms  ${over(COLLECT_TIMEOUT_MS)}  ${over(TARGET_MS)}`;
}

function loop(l: LoopFigures | null): string {
  return l === null ? 'supervisor loop: no figures' : `supervisor loop delay p99 ${l.p99Ms.toFixed(1)} ms, max ${l.maxMs.toFixed(1)} ms`;
}

// Workers inherit it too (the supervisor passes its execArgv on); a killed one writes nothing.
const PROFILE = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
const dir = mkdtempSync(join(tmpdir(), 'dow-bench-hang-'));
try {
  const serve = await startServe({ id: 'hang', dir, apps: [{ name: 'stuck', module: WORKER_APP, workers: 1, hangTimeout: HANG_TIMEOUT_MS }], store: true, metrics: true, logLevel: 'info', nodeArgs: PROFILE });
  const { statsPort } = serve;
  const metricsPort = serve.metricsPort as number;
  const appPort = serve.ports.get('stuck') as number;
  const supervisor = serve.process.pid;
  console.log(`${serve.command}; ${ROUNDS} rounds; a poll every ${POLL_GAP_MS} ms after the last answer`);
  const idle: number[] = [];
  const during: number[] = [];
  const idleReadyz: number[] = [];
  const duringReadyz: number[] = [];
  const duringStatus: number[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const before = await statsWorkerPids(statsPort, 'stuck');
      await takeLoopFigures(supervisor, serve.loopFile);
      const idleEnd = performance.now() + BASELINE_MS;
      const base = await pollWhile(statsPort, metricsPort, () => performance.now() >= idleEnd);
      const idleLoop = await takeLoopFigures(supervisor, serve.loopFile);
      const started = performance.now();
      const startedEpoch = Date.now();
      const release = sendHang(appPort);
      let replacedAt = Infinity;
      const hang = await pollWhile(statsPort, metricsPort, async () => {
        const now = performance.now();
        if (now - started > ROUND_LIMIT_MS) throw new Error(`round ${round}: no replacement within ${ROUND_LIMIT_MS} ms:\n${serve.process.output().slice(-2000)}`);
        if (replacedAt === Infinity) {
          const pids = await statsWorkerPids(statsPort, 'stuck').catch(() => before);
          if (pids.length === 1 && !before.includes(pids[0] as number)) replacedAt = now;
        }
        return now - replacedAt > SETTLE_MS;
      });
      const hangLoop = await takeLoopFigures(supervisor, serve.loopFile);
      release();
      idle.push(...base.ms);
      during.push(...hang.ms);
      idleReadyz.push(...base.readyz);
      duringReadyz.push(...hang.readyz);
      duringStatus.push(...hang.readyzStatus);
      const kill = logLines(serve.process.output()).filter((l) => typeof l.stuckMs === 'number').at(-1);
      console.log(`round ${round}: hang kill decided ${kill ? kill.time - startedEpoch : '?'} ms, replacement listed ${(replacedAt - started).toFixed(0)} ms after /hang`);
      console.log(`  ${describe('idle', base.ms)}; ${loop(idleLoop)}`);
      console.log(`  ${describe('during the hang kill', hang.ms)}; ${loop(hangLoop)}`);
      console.log(`  ${describe('/readyz idle', base.readyz)}`);
      console.log(`  ${describe('/readyz during', hang.readyz)}; ${statuses(hang.readyzStatus)}`);
      const slowest = hang.ms.map((ms, i) => [ms, (hang.at[i] as number) - started] as const).sort((a, b) => b[0] - a[0]).slice(0, 3);
      console.log(`  slowest: ${slowest.map(([ms, at]) => `${ms.toFixed(0)} ms at +${at.toFixed(0)}`).join(', ')}`);
    }
  } finally {
    await serve.process.stop();
  }
  const killed = logLines(serve.process.output()).filter((l) => typeof l.stuckMs === 'number').length;
  console.log(`all rounds (${killed} hang kills logged):`);
  console.log(`  ${describe('idle', idle)}`);
  console.log(`  ${describe('during the hang kill', during)}`);
  console.log(`  ${describe('/readyz idle', idleReadyz)}`);
  console.log(`  ${describe('/readyz during', duringReadyz)}; ${statuses(duringStatus)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
