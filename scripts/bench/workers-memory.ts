/**
 * @module workers-memory
 * The worker-process memory figure: RSS of the supervisor and of each worker for a config equivalent to
 * `dragon-on-wheels demo` (two apps, threads 10 and 2, store and dashboard on) on free ports,
 * after warm-up traffic, against the same config in-process (`workers: 0`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startNginx } from './nginx.js';
import { readPss, readRss } from './proc-stats.js';
import { freePort, type Started } from './processes.js';
import { readStatsPort } from './probes.js';
import type { MemoryResult } from './workers-report.js';
import { DASHBOARD_TOKEN, DEMO_APPS, httpGet, startServe, type RunningServe } from './worker-backend.js';
import { runWrk } from './wrk.js';

/** The demo's apps (bin/demo-settings.ts): names, thread limits and the export naming each. */
const DEMO = [
  { name: 'Server_on_port_9002', export: 'port9002', threads: 10 },
  { name: 'Server_on_port_9003', export: 'port9003', threads: 2 },
] as const;
const DASHBOARD_GETS = 10;
/** After the traffic, before the figures: start-up and warm-up garbage collected, timers settled. */
const SETTLE_MS = 1_000;

export interface MemoryOptions {
  dir: string;
  warmupSeconds: number;
  log(line: string): void;
}

async function measure(workers: number, o: MemoryOptions): Promise<MemoryResult> {
  let serve: RunningServe | null = null;
  let nginx: Started | null = null;
  try {
    serve = await startServe({
      id: `demo-w${workers}`, dir: o.dir, store: true, dashboard: true, logLevel: 'warn',
      apps: DEMO.map((d) => ({ name: d.name, module: DEMO_APPS, export: d.export, threads: d.threads, workers })),
    });
    const ports = await Promise.all(DEMO.map(() => freePort()));
    const running = serve;
    nginx = (await startNginx(`${o.dir}/nginx-demo-w${workers}`, DEMO.map((d, i) => ({ name: d.name, port: ports[i] as number, front: { kind: 'scgi', upstream: `127.0.0.1:${running.ports.get(d.name)}` } })))).process;
    for (const port of ports) await runWrk({ url: `http://127.0.0.1:${port}/`, seconds: o.warmupSeconds, connections: 8, threads: 1 });
    // The dashboard's pages and API as an operator's browser asks for them.
    const auth = { authorization: `Bearer ${DASHBOARD_TOKEN}` };
    for (let i = 0; i < DASHBOARD_GETS; i++) {
      for (const path of ['/', '/api/overview', '/api/apps', `/api/apps/${DEMO[0].name}/series`]) {
        await httpGet(running.dashboardPort as number, path, 5000, auth).catch(() => null);
      }
    }
    await sleep(SETTLE_MS);
    const figures = await readStatsPort(running.statsPort);
    const mib = (bytes: number): number => bytes / 1024 / 1024;
    const figure = (role: string, pid: number): MemoryResult['processes'][number] => ({ role, pid, rssMiB: mib(readRss(pid)), pssMiB: mib(readPss(pid)) });
    const processes = [figure(workers === 0 ? 'supervisor (both apps in-process)' : 'supervisor', running.process.pid)];
    for (const d of DEMO) {
      for (const pid of (figures.get(`${d.name}_worker_pids`) ?? '').split(' ').filter(Boolean).map(Number)) {
        processes.push(figure(`worker of ${d.name} (threads ${d.threads})`, pid));
      }
    }
    const result: MemoryResult = {
      workers, processes, requests: Number(figures.get('requests') ?? 0), command: running.command,
      totalMiB: processes.reduce((sum, p) => sum + p.rssMiB, 0),
      totalPssMiB: processes.reduce((sum, p) => sum + p.pssMiB, 0),
    };
    o.log(`memory, workers ${workers}: ${processes.map((p) => `${p.role} ${p.rssMiB.toFixed(1)} MiB`).join(', ')}; total RSS ${result.totalMiB.toFixed(1)} MiB, PSS ${result.totalPssMiB.toFixed(1)} MiB after ${result.requests} requests`);
    return result;
  } finally {
    await nginx?.stop();
    await serve?.process.stop();
  }
}

/** The demo with a worker per app (what `demo` runs), then in-process, the baseline. */
export async function runMemory(o: MemoryOptions): Promise<MemoryResult[]> {
  return [await measure(1, o), await measure(0, o)];
}
