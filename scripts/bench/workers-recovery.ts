/**
 * @module workers-recovery
 * Recovery times of worker processes through nginx: from a request that hangs a worker to the first 200
 * after the supervisor replaced it, and a graceful reload (SIGHUP) of an app under wrk load, with
 * the errors wrk and nginx saw. Every wait is bounded.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startNginx } from './nginx.js';
import { freePort, type Started } from './processes.js';
import { readStatsPort } from './probes.js';
import type { HangResult, ReloadResult, ReloadTiming } from './workers-report.js';
import { HELLO_APP, httpGet, logLines, startServe, statsWorkerPids, WORKER_APP, type RunningServe } from './worker-backend.js';
import { runWrk } from './wrk.js';

/** A client that gives up on a request after this long and asks again: what users and probes do. */
const POLL_TIMEOUT_MS = 500;
const POLL_INTERVAL_MS = 50;
/** How long past hangTimeout the hang run waits for a 200 before it calls the recovery failed. */
const RECOVERY_LIMIT_MS = 15_000;
const STATS_POLL_MS = 20;
const RELOAD_LIMIT_MS = 30_000;
/** Load before the first reload and between reloads, so each one lands in steady traffic. */
const RELOAD_GAP_MS = 2_000;
export const RELOAD_WORKERS = 2;
export const RELOAD_CONNECTIONS = 32;

export interface RecoveryOptions {
  dir: string;
  log(line: string): void;
}

interface Fronted {
  serve: RunningServe;
  nginx: Started;
  /** App name -> nginx's port for it. */
  ports: Map<string, number>;
  errorLog: string;
}

async function startFronted(id: string, dir: string, apps: Parameters<typeof startServe>[0]['apps']): Promise<Fronted> {
  const serve = await startServe({ id, dir, apps, store: true, logLevel: 'info' });
  try {
    const ports = new Map<string, number>();
    for (const app of apps) ports.set(app.name, await freePort());
    const nginxDir = join(dir, `nginx-${id}`);
    const started = await startNginx(nginxDir, apps.map((a) => ({ name: a.name, port: ports.get(a.name) as number, front: { kind: 'scgi', upstream: `127.0.0.1:${serve.ports.get(a.name)}` } })));
    return { serve, nginx: started.process, ports, errorLog: join(nginxDir, 'error.log') };
  } catch (err) {
    await serve.process.stop();
    throw err;
  }
}

async function stopFronted(f: Fronted | null): Promise<void> {
  await f?.nginx.stop();
  await f?.serve.process.stop();
}

/** nginx's error log from a byte offset: "upstream prematurely closed", "connect() failed" … */
function errorLinesSince(file: string, offset: number): string[] {
  try {
    return readFileSync(file).subarray(offset).toString('utf8').split('\n').filter((line) => line.includes('[error]'));
  } catch {
    return [];
  }
}

function fileSize(file: string): number {
  try {
    return readFileSync(file).length;
  } catch {
    return 0;
  }
}

/** Sends /hang, then asks for / until a 200 comes back; the stats port is read once while the worker hangs. */
async function hangOnce(f: Fronted, app: string, hangTimeoutMs: number): Promise<HangResult> {
  const port = f.ports.get(app) as number;
  const ok = await httpGet(port, '/', 5000);
  if (ok.status !== 200) throw new Error(`${app}: expected 200 before the hang, got ${ok.status}`);
  const pidsBefore = await statsWorkerPids(f.serve.statsPort, app);
  const t0 = performance.now();
  const t0Epoch = Date.now();
  const hang = httpGet(port, '/hang', hangTimeoutMs + RECOVERY_LIMIT_MS).then((a) => a.status, () => null);
  // Half-way through the hang: the supervisor runs no app code, so its stats port must answer.
  const statsDuringHang = sleep(hangTimeoutMs / 2).then(async () => {
    const at = performance.now();
    await readStatsPort(f.serve.statsPort);
    return performance.now() - at;
  }).catch(() => null);
  await sleep(POLL_INTERVAL_MS); // /hang reaches the worker before the first poll
  let servingAgainMs: number | null = null;
  let polls = 0;
  while (performance.now() - t0 < hangTimeoutMs + RECOVERY_LIMIT_MS) {
    polls++;
    const answer = await httpGet(port, '/', POLL_TIMEOUT_MS).catch(() => null);
    if (answer?.status === 200) {
      servingAgainMs = performance.now() - t0;
      break;
    }
    await sleep(POLL_INTERVAL_MS);
  }
  const hangStatus = await hang;
  const figures = await readStatsPort(f.serve.statsPort);
  const pidsAfter = (figures.get(`${app}_worker_pids`) ?? '').split(' ').filter(Boolean).map(Number);
  // "<app>: worker <pid> has not answered for N ms (hangTimeout …): killed" (worker-pool.ts)
  const killed = logLines(f.serve.process.output()).find((l) => l.app === app && typeof l.stuckMs === 'number');
  return {
    app,
    hangTimeoutMs,
    servingAgainMs,
    hangStatus,
    stuckMs: killed ? (killed.stuckMs as number) : null,
    killedAfterMs: killed ? killed.time - t0Epoch : null,
    statsAnswerMs: await statsDuringHang,
    hangs: Number(figures.get(`${app}_hangs`) ?? 0),
    restarts: Number(figures.get(`${app}_restarts`) ?? 0),
    pidsBefore,
    pidsAfter,
    polls,
  };
}

export async function runHangs(o: RecoveryOptions, timeoutsMs: number[]): Promise<{ hangs: HangResult[]; command: string }> {
  let f: Fronted | null = null;
  try {
    f = await startFronted('hang', o.dir, timeoutsMs.map((t) => ({ name: `hang${t}`, module: WORKER_APP, workers: 1, hangTimeout: t })));
    const hangs: HangResult[] = [];
    for (const t of timeoutsMs) {
      const r = await hangOnce(f, `hang${t}`, t);
      hangs.push(r);
      o.log(`hang, hangTimeout ${t} ms: serving again after ${r.servingAgainMs?.toFixed(0) ?? 'never'} ms (killed ${r.killedAfterMs ?? '?'} ms after /hang, silent for ${r.stuckMs ?? '?'} ms; /hang got ${r.hangStatus ?? 'no answer'}; stats port answered in ${r.statsAnswerMs?.toFixed(1) ?? '-'} ms)`);
    }
    return { hangs, command: f.serve.command };
  } finally {
    await stopFronted(f);
  }
}

/** SIGHUP, then the stats port until the new workers serve and the old ones are gone. */
async function reloadOnce(f: Fronted, app: string): Promise<ReloadTiming> {
  const old = await statsWorkerPids(f.serve.statsPort, app);
  const t0 = performance.now();
  process.kill(f.serve.process.pid, 'SIGHUP');
  let newServingMs: number | null = null;
  let oldGoneMs: number | null = null;
  let pids = old;
  while (performance.now() - t0 < RELOAD_LIMIT_MS) {
    await sleep(STATS_POLL_MS);
    pids = await statsWorkerPids(f.serve.statsPort, app).catch(() => pids);
    const fresh = pids.filter((p) => !old.includes(p));
    if (newServingMs === null && fresh.length > 0) newServingMs = performance.now() - t0;
    if (fresh.length === pids.length && pids.length > 0) {
      oldGoneMs = performance.now() - t0;
      break;
    }
  }
  return { oldPids: old, newPids: pids.filter((p) => !old.includes(p)), newServingMs, oldGoneMs, logTookMs: null };
}

export async function runReload(o: RecoveryOptions & { seconds: number; reloads: number }): Promise<ReloadResult> {
  let f: Fronted | null = null;
  try {
    f = await startFronted('reload', o.dir, [{ name: 'hello', module: HELLO_APP, workers: RELOAD_WORKERS }]);
    const url = `http://127.0.0.1:${f.ports.get('hello')}/`;
    // Long enough for every reload with a gap of load before, between and after them.
    const seconds = Math.max(o.seconds, Math.ceil((RELOAD_GAP_MS * (o.reloads + 1)) / 1000) + 2 * o.reloads);
    await runWrk({ url, seconds: 1, connections: RELOAD_CONNECTIONS, threads: 1 }); // warm-up
    const baseline = await runWrk({ url, seconds, connections: RELOAD_CONNECTIONS, threads: 1 });
    o.log(`reload baseline (no reload): ${Math.round(baseline.requestsPerSecond)} req/s, errors ${baseline.socketErrors} non-2xx ${baseline.non2xx}`);
    const logOffset = fileSize(f.errorLog);
    const load = runWrk({ url, seconds, connections: RELOAD_CONNECTIONS, threads: 1 });
    const timings: ReloadTiming[] = [];
    try {
      for (let i = 0; i < o.reloads; i++) {
        await sleep(RELOAD_GAP_MS);
        timings.push(await reloadOnce(f, 'hello'));
      }
    } finally {
      await load.catch(() => null); // wrk's own error, if any, is thrown below
    }
    const loaded = await load;
    // "hello: reloaded (SIGHUP): workers A B -> C D in N ms" (worker-pool.ts), one per reload.
    const reloaded = logLines(f.serve.process.output()).filter((l) => /reloaded \(SIGHUP\)/.test(l.msg));
    for (const [i, t] of timings.entries()) {
      const took = reloaded[i]?.tookMs;
      t.logTookMs = typeof took === 'number' ? took : null;
    }
    if (timings.some((t) => t.oldGoneMs === null)) {
      // Say why in the run's log: the supervisor's warnings and errors (the report keeps the figures).
      const output = f.serve.process.output();
      const notable = logLines(output).filter((l) => l.level >= 40).slice(-5).map((l) => `${l.msg}`);
      o.log(`a reload did not complete within ${RELOAD_LIMIT_MS} ms; supervisor output ${output.length} bytes; last warnings: ${notable.join(' | ') || 'none'}`);
    }
    const nginxErrors = errorLinesSince(f.errorLog, logOffset);
    for (const t of timings) o.log(`reload: workers ${t.oldPids.join(' ')} -> ${t.newPids.join(' ')}: log says ${t.logTookMs ?? '?'} ms; new workers listed after ${t.newServingMs?.toFixed(0) ?? '-'} ms, old ones gone after ${t.oldGoneMs?.toFixed(0) ?? '-'} ms`);
    o.log(`reload under load: ${Math.round(loaded.requestsPerSecond)} req/s, errors ${loaded.socketErrors} non-2xx ${loaded.non2xx}, nginx error lines ${nginxErrors.length}`);
    return { workers: RELOAD_WORKERS, seconds, connections: RELOAD_CONNECTIONS, baseline, loaded, reloads: timings, nginxErrors: nginxErrors.length, nginxErrorSamples: nginxErrors.slice(0, 3), command: f.serve.command };
  } finally {
    await stopFronted(f);
  }
}
