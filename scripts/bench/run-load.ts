/**
 * @module run-load
 * The load part of the benchmark: starts every backend and one nginx in front of them, checks
 * each target answers the hello world, warms up, runs the interleaved rounds and the store on/off
 * pairs, reads the store's counters, and stops everything it started.
 */
import { get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackend, type Backend } from './backends.js';
import { measureOnce, summarize, type Measurement, type RunContext, type TargetSummary } from './measure.js';
import { startNginx, type NginxSite } from './nginx.js';
import { freePort, type Started } from './processes.js';
import { readStatsPort } from './probes.js';
import type { StoreCheck, StorePair } from './report.js';
import { TARGETS as ALL_TARGETS, type BackendId, type TargetSpec } from './targets.js';
import { wrkArgs } from './wrk.js';

export interface LoadOptions {
  dir: string;
  rounds: number;
  secondsPerRun: number;
  warmupSeconds: number;
  storePairs: number;
  pairSeconds: number;
  connections: number;
  /** Target ids to run (development); all when empty. */
  only: string[];
  log(line: string): void;
}

export interface LoadResults {
  summaries: TargetSummary[];
  measurements: Measurement[];
  storePairs: StorePair[];
  storeChecks: StoreCheck[];
  commands: string[];
  wrkCommand: string;
  nginxConfig: string;
}

const PAUSE_BETWEEN_RUNS_MS = 300;

function fetchOnce(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/', timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 5 s')));
    req.on('error', reject);
  });
}

export async function runLoad(o: LoadOptions): Promise<LoadResults> {
  const TARGETS = o.only.length === 0 ? ALL_TARGETS : ALL_TARGETS.filter((t) => o.only.includes(t.id));
  if (TARGETS.length === 0) throw new Error(`--only: no such target; the targets are ${ALL_TARGETS.map((t) => t.id).join(', ')}`);
  const backends = new Map<BackendId, Backend>();
  let nginx: Started | null = null;
  try {
    const ids = [...new Set(TARGETS.map((t) => t.backend).filter((b): b is BackendId => b !== null))];
    for (const id of ids) {
      backends.set(id, await startBackend(id, o.dir));
      o.log(`started ${id} (pid ${backends.get(id)?.process.pid})`);
    }
    const sites: NginxSite[] = [];
    const ports = new Map<TargetSpec['id'], number>();
    for (const t of TARGETS) {
      const port = await freePort();
      ports.set(t.id, port);
      sites.push({ name: t.id, port, front: t.front(t.backend ? (backends.get(t.backend) as Backend).address : '') });
    }
    const started = await startNginx(`${o.dir}/nginx`, sites);
    nginx = started.process;
    o.log(`started nginx (pid ${nginx.pid})`);

    for (const t of TARGETS) {
      const answer = await fetchOnce(ports.get(t.id) as number);
      if (answer.status !== 200 || answer.body !== 'Hello, world!\n') {
        throw new Error(`${t.id}: expected 200 "Hello, world!", got ${answer.status} ${JSON.stringify(answer.body.slice(0, 200))}`);
      }
    }
    const wrkBase = { seconds: o.secondsPerRun, connections: o.connections, threads: 1 };
    const ctx = (t: TargetSpec, seconds = o.secondsPerRun): RunContext => ({ nginxPid: (nginx as Started).pid, port: ports.get(t.id) as number, wrk: { ...wrkBase, seconds } });
    const backendOf = (t: TargetSpec): Backend | null => (t.backend ? (backends.get(t.backend) as Backend) : null);

    o.log(`warm-up: ${o.warmupSeconds} s per target`);
    for (const t of TARGETS) await measureOnce(t, backendOf(t), 0, ctx(t, o.warmupSeconds));

    const measurements: Measurement[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      for (const t of TARGETS) {
        await sleep(PAUSE_BETWEEN_RUNS_MS);
        const m = await measureOnce(t, backendOf(t), round, ctx(t));
        measurements.push(m);
        o.log(`round ${round}/${o.rounds} ${t.id.padEnd(16)} ${Math.round(m.wrk.requestsPerSecond).toString().padStart(6)} req/s  backend ${m.backendCpuUs?.toFixed(1) ?? '-'} µs  nginx ${m.nginxCpuUs.toFixed(1)} µs  p99 ${m.wrk.p99Ms.toFixed(2)} ms  errors ${m.wrk.socketErrors} non-2xx ${m.wrk.non2xx}${m.loop ? `  loop p99 ${m.loop.p99Ms} ms` : ''}`);
      }
    }

    // The store's cost: off and on back to back, the order alternating per pair so
    // that neither side always runs second (after the other's TIME_WAIT and page-cache churn).
    const off = TARGETS.find((t) => t.id === 'ours-nostore');
    const on = TARGETS.find((t) => t.id === 'ours-full');
    const storePairs: StorePair[] = [];
    for (let i = 0; off && on && i < o.storePairs; i++) {
      const order = i % 2 === 0 ? [off, on] : [on, off];
      const got = new Map<string, Measurement>();
      for (const t of order) {
        await sleep(PAUSE_BETWEEN_RUNS_MS);
        got.set(t.id, await measureOnce(t, backendOf(t), i + 1, ctx(t, o.pairSeconds)));
      }
      const a = got.get(off.id) as Measurement;
      const b = got.get(on.id) as Measurement;
      const cpu = (m: Measurement): number => (m.backendCpuUs ?? NaN) + m.nginxCpuUs;
      storePairs.push({ offRps: a.wrk.requestsPerSecond, onRps: b.wrk.requestsPerSecond, offCpuUs: cpu(a), onCpuUs: cpu(b), offLoopP99Ms: a.loop?.p99Ms ?? null, onLoopP99Ms: b.loop?.p99Ms ?? null });
      o.log(`store pair ${i + 1}/${o.storePairs}: off ${Math.round(a.wrk.requestsPerSecond)} on ${Math.round(b.wrk.requestsPerSecond)} req/s (${(b.wrk.requestsPerSecond / a.wrk.requestsPerSecond).toFixed(3)}), loop p99 on ${b.loop?.p99Ms ?? '-'} ms`);
    }

    await sleep(1000); // one flush interval (200 ms) and then some: rows reach the database
    const storeChecks: StoreCheck[] = [];
    for (const b of backends.values()) {
      if (b.statsPort === null) continue;
      const figures = await readStatsPort(b.statsPort);
      if (!figures.has('store_rows')) continue;
      storeChecks.push({
        backend: b.id,
        requests: Number(figures.get('requests') ?? 0),
        rows: Number(figures.get('store_rows') ?? 0),
        dropped: Number(figures.get('store_dropped') ?? 0),
        errors: Number(figures.get('store_errors') ?? 0),
      });
    }
    return {
      summaries: TARGETS.map((t) => summarize(t, measurements)),
      measurements,
      storePairs,
      storeChecks,
      commands: [...backends.values()].map((b) => b.command),
      wrkCommand: `wrk ${wrkArgs({ ...wrkBase, url: 'http://127.0.0.1:PORT/' }).join(' ')}`,
      nginxConfig: started.config,
    };
  } finally {
    await nginx?.stop();
    await Promise.all([...backends.values()].map((b) => b.process.stop()));
  }
}
