/**
 * @module worker-backend
 * The worker-process benchmark's backends: our runtime from dist/ serving a generated
 * config whose apps set `workers`, `threads` and `hangTimeout`; the supervisor's workers found by
 * parent pid; the supervisor's JSON log lines; and a bounded HTTP GET for polls wrk cannot do.
 */
import { writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { CLI, PRELOAD, REPO } from './backends.js';
import { processTree } from './proc-stats.js';
import { freePort, startProcess, waitReady, type Started } from './processes.js';
import { readStatsPort } from './probes.js';

export const WORKER_APP = join(REPO, 'scripts', 'bench', 'apps', 'worker-app.mjs');
export const HELLO_APP = join(REPO, 'scripts', 'bench', 'apps', 'hello-listener.mjs');
export const DEMO_APPS = join(REPO, 'scripts', 'bench', 'apps', 'demo-apps.mjs');
/** The dashboard's admin token in the memory run (the server refuses one under 32 characters or of low entropy). */
export const DASHBOARD_TOKEN = 'bench-token-9f3Kq7Lx2Vw8Rt5Yz1Hm4Np6';

export interface WorkerAppSpec {
  name: string;
  module: string;
  export?: string;
  /** 0 = in-process (the app runs inside the supervisor). */
  workers: number;
  threads?: number;
  hangTimeout?: number;
}

export interface ServeOptions {
  /** Names the process and its files. */
  id: string;
  dir: string;
  apps: WorkerAppSpec[];
  store: boolean;
  dashboard?: boolean;
  /** The metrics listener (/metrics, /healthz, /readyz) on a loopback port of its own. */
  metrics?: boolean;
  /** 'info' where the supervisor's log lines are read (hang, reload); 'warn' under load, as bench's. */
  logLevel: 'info' | 'warn';
  /** Node flags for the supervisor (and so its workers), e.g. --cpu-prof. */
  nodeArgs?: string[];
}

export interface RunningServe {
  id: string;
  process: Started;
  /** App name -> its loopback TCP port. */
  ports: Map<string, number>;
  statsPort: number;
  dashboardPort: number | null;
  metricsPort: number | null;
  /** Where the loop-delay preload of the supervisor and of every worker appends on SIGUSR2. */
  loopFile: string;
  command: string;
}

export async function startServe(o: ServeOptions): Promise<RunningServe> {
  const ports = new Map<string, number>();
  for (const app of o.apps) ports.set(app.name, await freePort());
  const statsPort = await freePort();
  const dashboardPort = o.dashboard ? await freePort() : null;
  const metricsPort = o.metrics ? await freePort() : null;
  const config = {
    stats: `127.0.0.1:${statsPort}`,
    dashboard: dashboardPort === null ? false : { listen: `127.0.0.1:${dashboardPort}`, token: DASHBOARD_TOKEN },
    ...(metricsPort === null ? {} : { metrics: `127.0.0.1:${metricsPort}` }),
    log: { level: o.logLevel, format: 'json' },
    store: o.store ? { path: join(o.dir, `${o.id}.db`) } : false,
    apps: o.apps.map((a) => ({
      name: a.name, listen: `127.0.0.1:${ports.get(a.name)}`, module: a.module, type: 'node', workers: a.workers,
      ...(a.export ? { export: a.export } : {}),
      ...(a.threads === undefined ? {} : { threads: a.threads }),
      ...(a.hangTimeout === undefined ? {} : { hangTimeout: a.hangTimeout }),
    })),
  };
  const configFile = join(o.dir, `${o.id}.config.json`);
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const loopFile = join(o.dir, `${o.id}.loop.jsonl`);
  writeFileSync(loopFile, '');
  // The supervisor passes its --import on to every worker it forks (worker-process.ts keeps
  // execArgv), so each worker samples its own event loop too.
  const args = [...(o.nodeArgs ?? []), '--import', PRELOAD, CLI, 'serve', configFile];
  const started = startProcess({
    name: o.id,
    command: process.execPath,
    args,
    env: { ...process.env, DOW_BENCH_LOOP_FILE: loopFile, NODE_ENV: 'production' },
  });
  // The stats port opens after every app's workers listen (Supervisor.start).
  const waitFor = [...ports.values(), statsPort, ...[dashboardPort, metricsPort].filter((port) => port !== null)].map((port) => ({ host: '127.0.0.1', port }));
  await waitReady(started, waitFor, 30_000);
  const rel = (arg: string): string => (arg.startsWith(REPO) ? arg.slice(REPO.length + 1) : arg);
  const summary = o.apps.map((a) => `${a.name}: workers ${a.workers}${a.threads ? `, threads ${a.threads}` : ''}${a.hangTimeout ? `, hangTimeout ${a.hangTimeout}` : ''}`).join('; ');
  return {
    id: o.id,
    process: started,
    ports,
    statsPort,
    dashboardPort,
    metricsPort,
    loopFile,
    command: `node ${args.map(rel).join(' ').replace(configFile, `${o.id}.config.json`)} (${summary}; store ${o.store ? 'on' : 'off'}${o.dashboard ? ', dashboard on' : ''}${o.metrics ? ', metrics on' : ''})`,
  };
}

/** The supervisor's children: its workers (none in-process). */
export function workerPidsOf(supervisorPid: number): number[] {
  return processTree(supervisorPid).filter((pid) => pid !== supervisorPid);
}

/** `<app>_worker_pids` from the stats port: the workers accepting or draining. */
export async function statsWorkerPids(statsPort: number, app: string): Promise<number[]> {
  const figures = await readStatsPort(statsPort);
  return (figures.get(`${app}_worker_pids`) ?? '').split(' ').filter(Boolean).map(Number);
}

export interface LogLine {
  level: number;
  time: number;
  msg: string;
  [key: string]: unknown;
}

/** The supervisor's pino JSON lines so far (other output, e.g. a stack trace, is skipped). */
export function logLines(output: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const text of output.split('\n')) {
    if (!text.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(text) as LogLine);
    } catch {
      /* a line cut at the output cap */
    }
  }
  return lines;
}

export interface Answer {
  status: number;
  body: string;
  ms: number;
}

/** One GET on loopback that gives up after `timeoutMs` (rejects), so every poll is bounded. */
export function httpGet(port: number, path: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started }));
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
  });
}
