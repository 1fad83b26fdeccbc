/**
 * @module peers-load
 * The load part of `npm run bench -- --peers`: gets the peers (installing PM2 and Passenger when
 * it can, skipping each with its reason when not), starts every backend, one nginx and an Apache
 * per instance count, checks each answers every workload, warms up, files memory at rest, runs
 * the interleaved rounds, and stops everything it started (PM2 by `pm2 kill`).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO } from './backends.js';
import { roundOrder } from './http-load.js';
import { startNginx, type NginxSite } from './nginx.js';
import {
  APACHE_BINARY, ensurePassenger, installPm2, passengerApps, passengerSite, passengerVersion, readAppCpu, startApache, startCluster,
  startNodeHttp, startOurs, startPm2, type ApacheSite, type PeerBackend, type RunningApache, type Skip,
} from './peers-backends.js';
import { appWorkDelta, peerTargets, WORKLOADS, type PeerRest, type PeerRun, type PeersResults, type PeerTarget, type Workload } from './peers-report.js';
import { processTree, readPss, readRss, sampleTree } from './proc-stats.js';
import { freePort, type Started } from './processes.js';
import { httpGet } from './worker-backend.js';
import { runWrk } from './wrk.js';

export interface PeersOptions {
  dir: string;
  rounds: number;
  secondsPerRun: number;
  warmupSeconds: number;
  log(line: string): void;
}

const PAUSE_BETWEEN_RUNS_MS = 300;
/** Warm-up of the CPU-bound route, in multiples of the others': V8 settles a hot loop after 1-3 thousand calls. */
const CPU_WARMUP_FACTOR = 3;
/** After the warm-up, before memory at rest: garbage collected, timers settled. */
const SETTLE_MS = 1_000;
const HELLO = 'Hello, world!\n';

interface Front {
  /** The port wrk reaches. */
  port: number;
  /** CPU seconds of the front end alone (Apache without Passenger's agents, which are the backend). */
  cpuSeconds(): number;
}

function treeCpuSeconds(roots: readonly number[]): number {
  return roots.reduce((sum, root) => sum + sampleTree(root).cpuSeconds, 0);
}

function treeMemory(roots: readonly number[]): { rssBytes: number; pssBytes: number; processes: number } {
  const pids = roots.flatMap((root) => processTree(root));
  return {
    rssBytes: pids.reduce((sum, pid) => sum + readRss(pid), 0),
    pssBytes: pids.reduce((sum, pid) => sum + (readPss(pid) || 0), 0),
    processes: pids.length,
  };
}

function firstLine(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  const text = `${e.stderr ?? ''}\n${e.message ?? String(err)}`;
  return text.split('\n').map((l) => l.trim()).find((l) => /^(npm )?(ERR|E:|error)/i.test(l)) ?? text.split('\n').map((l) => l.trim()).find(Boolean) ?? 'unknown error';
}

function versionOf(command: string, args: string[], pattern: RegExp): string {
  try {
    return pattern.exec(execFileSync(command, args, { encoding: 'utf8', timeout: 10_000 }))?.[1] ?? '?';
  } catch {
    return '?';
  }
}

/** What each workload's answer must be, so that a broken backend is not measured as a fast one. */
function answerProblem(w: Workload, status: number, body: string): string | null {
  if (status !== 200) return `status ${status}`;
  if (w.id === 'hello' || w.id === 'wait') return body === HELLO ? null : `body ${JSON.stringify(body.slice(0, 100))}`;
  if (w.id === 'cpu') return body.startsWith('fnv ') ? null : `body ${JSON.stringify(body.slice(0, 100))}`;
  try {
    return (JSON.parse(body) as { ok?: boolean }).ok === true ? null : `body ${body.slice(0, 100)}`;
  } catch {
    return `not JSON: ${JSON.stringify(body.slice(0, 100))}`;
  }
}

export async function runPeers(o: PeersOptions): Promise<PeersResults> {
  const loadAtStart = loadavg().map((l) => l.toFixed(2)).join(' ');
  // Passenger runs a root-owned app as nobody, which must reach the app's folder under ours.
  chmodSync(o.dir, 0o711);
  const peersDir = join(o.dir, 'peers');
  mkdirSync(peersDir, { recursive: true });
  chmodSync(peersDir, 0o755);
  const skipped: Skip[] = [];
  const skip = (what: string, reason: string): void => {
    skipped.push({ what, reason });
    o.log(`SKIPPED ${what}: ${reason}`);
  };
  const versions: Record<string, string> = {
    Express: (JSON.parse(readFileSync(join(REPO, 'node_modules', 'express', 'package.json'), 'utf8')) as { version: string }).version,
  };
  const backends = new Map<string, PeerBackend>();
  const apaches: RunningApache[] = [];
  let nginx: Started | null = null;
  try {
    let pm2: string | null = null;
    try {
      const installed = await installPm2(join(peersDir, 'pm2-install'), o.log);
      pm2 = installed.bin;
      versions.PM2 = installed.version;
    } catch (err) {
      skip('PM2', `npm install pm2@latest failed: ${firstLine(err)}`);
    }
    const passengerSkip = await ensurePassenger(o.log);
    if (passengerSkip) skip(passengerSkip.what, passengerSkip.reason);
    const apache = existsSync(APACHE_BINARY) && existsSync('/usr/lib/apache2/modules/mod_proxy_scgi.so');
    if (!apache && !passengerSkip) skip('ours behind Apache', 'Apache or its mod_proxy_scgi is missing (apt-get install apache2)');
    if (apache) versions.Apache = versionOf(APACHE_BINARY, ['-v'], /Apache\/(\S+)/);
    if (!passengerSkip) versions.Passenger = await passengerVersion();

    const have = { pm2: pm2 !== null, passenger: passengerSkip === null && apache, apache };
    for (const n of [1, 2]) {
      for (const kind of ['ours-scgi', 'ours-http'] as const) {
        const b = await startOurs(peersDir, kind, n);
        backends.set(b.id, b);
      }
      backends.set(`cluster-${n}`, await startCluster(peersDir, n));
      if (pm2 !== null) {
        try {
          backends.set(`pm2-${n}`, await startPm2(peersDir, pm2, n));
        } catch (err) {
          skip(`PM2 with ${n}`, `did not start: ${firstLine(err)}`);
          have.pm2 = false;
        }
      }
    }
    backends.set('node-http', await startNodeHttp(peersDir));
    for (const b of backends.values()) o.log(`started ${b.id} (${b.roots().join(' ')}: ${b.roots().flatMap((r) => processTree(r)).length} processes)`);

    const fronts = new Map<string, Front>();
    const nginxSites: NginxSite[] = [];
    const planned = peerTargets(have);
    for (const t of planned.filter((p) => p.front === 'nginx')) {
      const b = backends.get(t.backend);
      if (!b?.address) continue;
      const port = await freePort();
      nginxSites.push({ name: t.id, port, front: t.kind === 'ours-scgi' ? { kind: 'scgi', upstream: b.address } : { kind: 'proxy-keepalive', upstream: b.address } });
    }
    const startedNginx = await startNginx(join(o.dir, 'nginx-peers'), nginxSites);
    nginx = startedNginx.process;
    const nginxPid = nginx.pid;
    for (const s of nginxSites) fronts.set(s.name, { port: s.port, cpuSeconds: () => sampleTree(nginxPid).cpuSeconds });
    o.log(`started nginx (pid ${nginxPid})`);

    const configs: string[] = [];
    if (apache) {
      for (const n of [1, 2]) {
        const sites: ApacheSite[] = [];
        const passenger = have.passenger ? await passengerSite(peersDir, n) : null;
        const passengerPort = await freePort();
        if (passenger) sites.push(passenger.site(passengerPort));
        const oursPort = await freePort();
        sites.push({ name: `apache-ours-scgi-${n}`, port: oursPort, kind: { proxyScgi: backends.get(`ours-scgi-${n}`)?.address as string } });
        try {
          const a = await startApache(join(peersDir, `apache-${n}`), sites, n);
          apaches.push(a);
          configs.push(a.config);
          const frontCpu = (): number => {
            const w = a.passengerWatchdog();
            return sampleTree(a.process.pid).cpuSeconds - (w === null ? 0 : sampleTree(w).cpuSeconds);
          };
          fronts.set(`apache-ours-scgi-${n}`, { port: oursPort, cpuSeconds: frontCpu });
          if (passenger) {
            const b = passenger.backend(a);
            backends.set(b.id, b);
            fronts.set(b.id, { port: passengerPort, cpuSeconds: frontCpu });
          }
          o.log(`started Apache for ${n} instance${n > 1 ? 's' : ''} (pid ${a.process.pid})`);
        } catch (err) {
          skip(`Apache with ${n}${passenger ? ' (Passenger and ours)' : ''}`, `did not start: ${firstLine(err)}`);
        }
      }
    }
    const targets: PeerTarget[] = planned.filter((t) => fronts.has(t.id) && backends.has(t.backend));

    // Every target answers every workload (Passenger spawns its apps on the first request: a generous bound).
    for (const t of targets) {
      for (const w of WORKLOADS) {
        const port = (fronts.get(t.id) as Front).port;
        const answer = await httpGet(port, w.path, 60_000);
        const problem = answerProblem(w, answer.status, answer.body);
        if (problem) throw new Error(`${t.id} ${w.path}: ${problem}`);
      }
    }
    for (const b of backends.values()) {
      if (b.kind !== 'passenger') continue;
      const deadline = Date.now() + 60_000;
      const appRoot = join(peersDir, b.id);
      const watchdog = (): number => b.roots()[0] ?? 0;
      while (passengerApps(watchdog(), appRoot).length < b.instances && Date.now() < deadline) await sleep(100);
      const count = passengerApps(watchdog(), appRoot).length;
      if (count !== b.instances) o.log(`warning: ${b.id} runs ${count} app processes, not ${b.instances}`);
    }

    const url = (t: PeerTarget, w: Workload): string => `http://127.0.0.1:${(fronts.get(t.id) as Front).port}${w.path}`;
    o.log(`warm-up: ${o.warmupSeconds} s per target and workload (/cpu ${o.warmupSeconds * CPU_WARMUP_FACTOR} s)`);
    for (const t of targets) {
      for (const w of WORKLOADS) {
        await runWrk({ url: url(t, w), seconds: w.id === 'cpu' ? o.warmupSeconds * CPU_WARMUP_FACTOR : o.warmupSeconds, connections: w.connections, threads: 1 }).catch((err: Error) => o.log(`warm-up ${t.id} ${w.id}: ${err.message.split('\n')[0]}`));
      }
    }

    await sleep(SETTLE_MS);
    const rest: PeerRest[] = [...backends.values()].map((b) => ({ backend: b.id, kind: b.kind, instances: b.instances, ...treeMemory(b.roots()) }));
    for (const m of rest) o.log(`at rest ${m.backend.padEnd(14)} ${m.processes} processes, RSS ${(m.rssBytes / 1048576).toFixed(1)} MiB, PSS ${(m.pssBytes / 1048576).toFixed(1)} MiB`);

    const runs: PeerRun[] = [];
    const failures: string[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      for (const w of WORKLOADS) {
        for (const t of roundOrder(targets, round)) {
          await sleep(PAUSE_BETWEEN_RUNS_MS);
          try {
            const r = await measureCell(t, w, round, backends.get(t.backend) as PeerBackend, fronts.get(t.id) as Front, o.secondsPerRun);
            runs.push(r);
            o.log(`round ${round}/${o.rounds} ${w.id.padEnd(5)} ${t.id.padEnd(18)} ${Math.round(r.wrk.requestsPerSecond).toString().padStart(6)} req/s  backend ${r.backendCpuUs?.toFixed(1) ?? '-'} µs  front ${r.frontCpuUs?.toFixed(1) ?? '-'} µs  p99 ${r.wrk.p99Ms.toFixed(2)} ms  errors ${r.wrk.socketErrors} non-2xx ${r.wrk.non2xx}${r.appWorkUs === null ? '' : `  app work ${r.appWorkUs.toFixed(0)} µs`}`);
          } catch (err) {
            failures.push(`round ${round} ${w.id} ${t.id}: ${firstLine(err)}`);
            o.log(`round ${round} ${w.id} ${t.id} failed: ${(err as Error).message.split('\n')[0]}`);
          }
        }
      }
    }
    return {
      rounds: o.rounds, secondsPerRun: o.secondsPerRun, warmupSeconds: o.warmupSeconds,
      targets, runs, rest, skipped, versions, failures,
      commands: [...[...backends.values()].map((b) => `${b.id}: ${b.command}`), `nginx: ${startedNginx.config.split('\n').length} lines (scripts/bench/nginx.ts)`, ...(configs.length ? ['Apache: scripts/bench/peers-backends.ts buildApacheConfig'] : [])],
      loadAtStart, loadAtEnd: loadavg().map((l) => l.toFixed(2)).join(' '),
    };
  } finally {
    await nginx?.stop();
    await Promise.all(apaches.map((a) => a.process.stop()));
    await Promise.all([...backends.values()].map((b) => b.stop()));
  }
}

async function measureCell(t: PeerTarget, w: Workload, round: number, backend: PeerBackend, front: Front, seconds: number): Promise<PeerRun> {
  const roots = backend.roots();
  const appBefore = w.id === 'cpu' ? readAppCpu(backend.statsDir) : null;
  const frontBefore = front.cpuSeconds();
  const before = treeCpuSeconds(roots);
  // Memory under load: half-way through the run, while wrk holds every connection busy.
  let loaded: ReturnType<typeof treeMemory> | null = null;
  const timer = setTimeout(() => (loaded = treeMemory(roots)), (seconds * 1000) / 2);
  let wrk;
  try {
    wrk = await runWrk({ url: `http://127.0.0.1:${front.port}${w.path}`, seconds, connections: w.connections, threads: 1 });
  } finally {
    clearTimeout(timer);
  }
  const after = treeCpuSeconds(roots);
  const frontAfter = front.cpuSeconds();
  const perRequestUs = (s: number): number | null => (wrk.requests > 0 && roots.length > 0 ? (s * 1e6) / wrk.requests : null);
  const mem = loaded as ReturnType<typeof treeMemory> | null;
  return {
    target: t.id, workload: w.id, round, wrk,
    backendCpuUs: perRequestUs(after - before),
    frontCpuUs: wrk.requests > 0 ? ((frontAfter - frontBefore) * 1e6) / wrk.requests : null,
    rssLoadBytes: mem?.rssBytes ?? null,
    pssLoadBytes: mem?.pssBytes ?? null,
    appWorkUs: appBefore ? finite(appWorkDelta(appBefore, readAppCpu(backend.statsDir)).meanUs) : null,
  };
}

function finite(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}
