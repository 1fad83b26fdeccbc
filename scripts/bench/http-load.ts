/**
 * @module http-load
 * The HTTP-listener part of the benchmark (`npm run bench -- --http`): plain node:http, our
 * `protocol: 'http'` app and our SCGI full path behind one nginx, interleaved in rounds with the
 * order alternating; CPU per request from /proc as the main run measures it. The native I/O
 * groups (`--native`) run through here too, with their own targets.
 */
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackend, type Backend } from './backends.js';
import { measureOnce, summarize, type RunContext } from './measure.js';
import { startNginx, type NginxSite } from './nginx.js';
import { readMachineTicks } from './proc-stats.js';
import { freePort, type Started } from './processes.js';
import { readStatsPort } from './probes.js';
import type { HttpResults, HttpRound } from './http-report.js';
import { HTTP_DIAGNOSIS_TARGETS, HTTP_SCRATCH_TARGET, HTTP_TARGETS, SCGI_SCRATCH_TARGET, type BackendId, type TargetSpec } from './targets.js';
import { httpGet } from './worker-backend.js';
import { wrkArgs } from './wrk.js';

export interface HttpLoadOptions {
  dir: string;
  rounds: number;
  secondsPerRun: number;
  warmupSeconds: number;
  connections: number;
  /** Adds HTTP_DIAGNOSIS_TARGETS (a diagnosis, not a target). */
  diagnose: boolean;
  /** Adds our HTTP app run by this CLI (a scratch build) beside dist/'s. */
  scratchCli?: string;
  /** Adds our SCGI full path (in-process) run by this CLI beside dist/'s. */
  scgiScratchCli?: string;
  /** Target ids to run (development); all when empty. */
  only: string[];
  /** Other targets to run instead of the HTTP listeners', the same way (the native I/O groups, scripts/bench/native-load.ts). */
  targets?: readonly TargetSpec[];
  /**
   * One backend at a time: each round starts every target's backend and its own nginx, warms it
   * up, measures it and stops both before the next. Nothing else of ours is alive during a run
   * (no idle backends with their timers and threads), and no backend sits idle for minutes
   * between its runs (V8 shrinks an idle heap and may flush unused code). Slower to run.
   */
  alone?: boolean;
  log(line: string): void;
}

const PAUSE_BETWEEN_RUNS_MS = 300;
const HELLO = 'Hello, world!\n';

/** Round r's order: forward on odd rounds, backward on even ones, so no target always follows the same one. */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  return round % 2 === 1 ? [...items] : [...items].reverse();
}

export async function runHttp(o: HttpLoadOptions): Promise<HttpResults> {
  const all = o.targets ? [...o.targets] : [
    HTTP_TARGETS[0] as TargetSpec,
    ...(o.diagnose ? HTTP_DIAGNOSIS_TARGETS : []),
    HTTP_TARGETS[1] as TargetSpec,
    ...(o.scratchCli === undefined ? [] : [HTTP_SCRATCH_TARGET]),
    ...HTTP_TARGETS.slice(2, 4),
    ...(o.scgiScratchCli === undefined ? [] : [SCGI_SCRATCH_TARGET]),
    ...HTTP_TARGETS.slice(4),
  ];
  const targets = o.only.length === 0 ? all : all.filter((t) => o.only.includes(t.id));
  if (targets.length === 0) throw new Error(`--only: no such target; the targets are ${all.map((t) => t.id).join(', ')}`);
  if (o.alone) return runAlone(o, targets);
  const backends = new Map<BackendId, Backend>();
  let nginx: Started | null = null;
  const loadAtStart = loadavg();
  try {
    for (const t of targets) {
      const id = t.backend as BackendId;
      if (backends.has(id)) continue;
      backends.set(id, await startBackend(id, o.dir, startOptions(o, id)));
      o.log(`started ${id} (pid ${backends.get(id)?.process.pid})`);
    }
    const sites: NginxSite[] = [];
    const ports = new Map<string, number>();
    for (const t of targets) {
      const port = await freePort();
      ports.set(t.id, port);
      sites.push({ name: t.id, port, front: t.front((backends.get(t.backend as BackendId) as Backend).address) });
    }
    const started = await startNginx(`${o.dir}/nginx-http`, sites);
    nginx = started.process;
    o.log(`started nginx (pid ${nginx.pid})`);
    for (const t of targets) {
      const answer = await httpGet(ports.get(t.id) as number, '/', 5000);
      if (answer.status !== 200 || answer.body !== HELLO) throw new Error(`${t.id}: expected 200 ${JSON.stringify(HELLO)}, got ${answer.status} ${JSON.stringify(answer.body.slice(0, 200))}`);
    }
    const wrkBase = { seconds: o.secondsPerRun, connections: o.connections, threads: 1 };
    const ctx = (t: TargetSpec, seconds: number): RunContext => ({ nginxPid: (nginx as Started).pid, port: ports.get(t.id) as number, wrk: { ...wrkBase, seconds } });
    const backendOf = (t: TargetSpec): Backend => backends.get(t.backend as BackendId) as Backend;

    o.log(`warm-up: ${o.warmupSeconds} s per target`);
    for (const t of targets) await measureOnce(t, backendOf(t), 0, ctx(t, o.warmupSeconds));

    const rounds: HttpRound[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      for (const t of roundOrder(targets, round)) {
        await sleep(PAUSE_BETWEEN_RUNS_MS);
        rounds.push(await measureRound(o, t, backendOf(t), round, ctx(t, o.secondsPerRun)));
      }
    }

    await sleep(1000); // one flush interval (200 ms) and then some: rows reach the database
    const storeChecks: HttpResults['storeChecks'] = [];
    for (const t of targets) {
      const b = backendOf(t);
      if (b.statsPort === null) continue;
      const figures = await readStatsPort(b.statsPort);
      storeChecks.push({
        target: t.id,
        requests: Number(figures.get('requests') ?? 0),
        rows: Number(figures.get('store_rows') ?? 0),
        dropped: Number(figures.get('store_dropped') ?? 0),
        errors: Number(figures.get('store_errors') ?? 0),
      });
    }
    const measurements = rounds.map((r) => r.measurement);
    return {
      rounds: o.rounds,
      secondsPerRun: o.secondsPerRun,
      connections: o.connections,
      alone: false,
      targets: targets.map((t) => ({ id: t.id, label: t.label })),
      summaries: targets.map((t) => summarize(t, measurements)),
      perRound: rounds,
      storeChecks,
      loadAtStart: loadAtStart.map((l) => l.toFixed(2)).join(' '),
      loadAtEnd: loadavg().map((l) => l.toFixed(2)).join(' '),
      commands: [...backends.values()].map((b) => b.command),
      wrkCommand: `wrk ${wrkArgs({ ...wrkBase, url: 'http://127.0.0.1:PORT/' }).join(' ')}`,
      nginxConfig: started.config,
    };
  } finally {
    await nginx?.stop();
    await Promise.all([...backends.values()].map((b) => b.process.stop()));
  }
}

function startOptions(o: HttpLoadOptions, id: BackendId): { cli?: string } {
  const cli = id === 'ours-http-scratch' ? o.scratchCli : id === 'ours-scgi-scratch' ? o.scgiScratchCli : undefined;
  return cli === undefined ? {} : { cli };
}

/** One measured run, with how busy the rest of the machine was meanwhile. */
async function measureRound(o: HttpLoadOptions, t: TargetSpec, backend: Backend, round: number, ctx: RunContext): Promise<HttpRound> {
  const machineBefore = readMachineTicks();
  const startedAt = performance.now();
  const m = await measureOnce(t, backend, round, ctx);
  const wallS = (performance.now() - startedAt) / 1000;
  const machineAfter = readMachineTicks();
  // Cores busy outside the backend and nginx during the run: wrk, and other people's work.
  const busyCores = ((machineAfter.busy - machineBefore.busy) / Math.max(1, machineAfter.total - machineBefore.total)) * cpus().length;
  const ownCores = (((m.backendCpuUs ?? 0) + m.nginxCpuUs) * m.wrk.requests) / 1e6 / wallS;
  o.log(`round ${round}/${o.rounds} ${t.id.padEnd(28)} ${Math.round(m.wrk.requestsPerSecond).toString().padStart(6)} req/s  backend ${m.backendCpuUs?.toFixed(1) ?? '-'} µs (user ${m.backendUserUs?.toFixed(1) ?? '-'})  nginx ${m.nginxCpuUs.toFixed(1)} µs  p99 ${m.wrk.p99Ms.toFixed(2)} ms  errors ${m.wrk.socketErrors} non-2xx ${m.wrk.non2xx}  outside ${(busyCores - ownCores).toFixed(2)} cores`);
  return { measurement: m, busyCores, otherCores: busyCores - ownCores };
}

/** `--http-alone`: every run with a fresh backend and nginx of its own (HttpLoadOptions.alone). */
async function runAlone(o: HttpLoadOptions, targets: TargetSpec[]): Promise<HttpResults> {
  const loadAtStart = loadavg();
  const rounds: HttpRound[] = [];
  const commands = new Map<string, string>();
  let nginxConfig = '';
  const wrkBase = { seconds: o.secondsPerRun, connections: o.connections, threads: 1 };
  for (let round = 1; round <= o.rounds; round++) {
    for (const t of roundOrder(targets, round)) {
      const id = t.backend as BackendId;
      const backend = await startBackend(id, o.dir, startOptions(o, id));
      let nginx: Started | null = null;
      try {
        commands.set(t.id, backend.command);
        const port = await freePort();
        const started = await startNginx(`${o.dir}/nginx-${t.id}-${round}`, [{ name: t.id, port, front: t.front(backend.address) }]);
        nginx = started.process;
        nginxConfig = started.config;
        const answer = await httpGet(port, '/', 5000);
        if (answer.status !== 200 || answer.body !== HELLO) throw new Error(`${t.id}: expected 200 ${JSON.stringify(HELLO)}, got ${answer.status} ${JSON.stringify(answer.body.slice(0, 200))}`);
        const ctx = (seconds: number): RunContext => ({ nginxPid: (nginx as Started).pid, port, wrk: { ...wrkBase, seconds } });
        await measureOnce(t, backend, 0, ctx(o.warmupSeconds));
        await sleep(PAUSE_BETWEEN_RUNS_MS);
        rounds.push(await measureRound(o, t, backend, round, ctx(o.secondsPerRun)));
      } finally {
        await nginx?.stop();
        await backend.process.stop();
      }
    }
  }
  const measurements = rounds.map((r) => r.measurement);
  return {
    rounds: o.rounds,
    secondsPerRun: o.secondsPerRun,
    connections: o.connections,
    alone: true,
    targets: targets.map((t) => ({ id: t.id, label: t.label })),
    summaries: targets.map((t) => summarize(t, measurements)),
    perRound: rounds,
    storeChecks: [],
    loadAtStart: loadAtStart.map((l) => l.toFixed(2)).join(' '),
    loadAtEnd: loadavg().map((l) => l.toFixed(2)).join(' '),
    commands: [...commands.values()],
    wrkCommand: `wrk ${wrkArgs({ ...wrkBase, url: 'http://127.0.0.1:PORT/' }).join(' ')}`,
    nginxConfig,
  };
}
