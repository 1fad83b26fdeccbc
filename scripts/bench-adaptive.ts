/**
 * The adaptive thread limit against fixed ones: an app (2 workers) in front of a resource that
 * serves C requests at once for 20 ms each and queues the rest (the app's internal queue), C
 * changing 4 -> 12 -> 2 during the run, under 64 closed-loop clients on loopback: HTTP through
 * nginx (scgi_pass) with --nginx, else SCGI straight to the app's port. Per phase: goodput, 503s, the app-internal queue, p99 of the
 * service time (arrival at the resource to its answer) and of the total latency (client side),
 * and for adaptive how long the limit took to come within [C, 2C] after the change.
 *
 *   node --import tsx scripts/bench-adaptive.ts [--phase-ms 15000] [--only adaptive,64] [--tolerance 0.5] [--nginx]
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import pino from 'pino';
import type { AppSettings, RuntimeSettings } from '../server/config/config.js';
import { DEFAULT_LIMITS } from '../server/protocol/limits.js';
import { Supervisor } from '../server/supervisor/supervisor.js';
import { encodeScgiRequest } from '../server/protocol/request-encoder.js';
import { startCapacityResource, type CapacityResource } from './bench/capacity-resource.js';
import { connect } from 'node:net';
import { Agent, get } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNginx } from './bench/nginx.js';
import { freePort } from './bench/processes.js';

const APP = fileURLToPath(new URL('./bench/apps/capacity-app.mjs', import.meta.url));
const PHASES = [4, 12, 2];
const CLIENTS = 64;
const HOLD_MS = 20;
const WORKERS = 2;
const SAMPLE_MS = 250;

const { values } = parseArgs({ options: { 'phase-ms': { type: 'string', default: '15000' }, only: { type: 'string' }, tolerance: { type: 'string', default: '0.5' }, nginx: { type: 'boolean', default: false } } });
const PHASE_MS = Number(values['phase-ms']);
const TOLERANCE = Number(values.tolerance);

type Variant = { label: string; threads: number; adaptive: boolean };
const VARIANTS: Variant[] = [
  { label: `adaptive [2, 64] from 10, tolerance ${TOLERANCE}`, threads: 10, adaptive: true },
  { label: 'fixed 10 (default)', threads: 10, adaptive: false },
  { label: 'fixed 64', threads: 64, adaptive: false },
  ...PHASES.map((c) => ({ label: `fixed ${c}`, threads: c, adaptive: false })),
].filter((v) => !values.only || values.only.split(',').some((o) => v.label.includes(o)));

interface PhaseFigures {
  capacity: number;
  ok: number;
  rejected: number;
  other: number;
  queueMean: number;
  queueMax: number;
  serviceP99: number;
  totalP99: number;
  limits: Array<[atMs: number, limit: number]>;
}

function p99(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] as number;
}

/** One HTTP request through nginx on a keep-alive connection; resolves with its status (0 for a failure). */
function httpRequest(port: number, path: string, agent: Agent): Promise<number> {
  return new Promise((resolve) => {
    get({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', () => resolve(0));
  });
}

/** One SCGI request on its own connection, as nginx sends it; resolves with its status (0 for a broken one). */
function request(port: number, payload: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => resolve(0));
    socket.on('close', () => {
      const head = Buffer.concat(chunks).toString('latin1', 0, 64);
      const match = /(?:^|\r\n)Status: (\d{3})/.exec(head);
      resolve(match ? Number(match[1]) : 0);
    });
    // No half-close: the server reads a FIN after the request as the client leaving (halfClose 'abort').
    socket.on('end', () => socket.end());
    socket.write(payload);
  });
}

async function runVariant(v: Variant, resource: CapacityResource): Promise<PhaseFigures[]> {
  resource.capacity = PHASES[0] as number;
  const app: AppSettings = {
    listen: '127.0.0.1:0',
    source: { kind: 'module', path: APP, export: 'default', type: 'auto' },
    workers: { count: WORKERS, hangTimeoutMs: 30_000, maxRequests: 0, maxMemoryMiB: 0 },
    ...(v.adaptive ? { adaptive: { min: WORKERS, max: 64, tolerance: TOLERANCE, windowMs: 1000 } } : {}),
    options: { name: 'bench', threads: v.threads, queue: 1000, queueTimeoutMs: 60_000, requestTimeoutMs: 0, mount: '' },
  };
  const settings: RuntimeSettings = {
    apps: [app], stats: null, limits: { ...DEFAULT_LIMITS }, drainTimeoutMs: 2000,
    log: { level: 'warn', format: 'json' }, store: null, dashboard: null, persistLimits: false,
  };
  const supervisor = new Supervisor(settings, pino({ level: 'warn' }), null);
  await supervisor.start();
  const appPort = Number((supervisor.addresses[0] as string).split(':').pop());
  const payload = encodeScgiRequest({ uri: `/?port=${resource.port}` });
  let send = (): Promise<number> => request(appPort, payload);
  let front: { stop(): Promise<void> } | null = null;
  const dir = mkdtempSync(join(tmpdir(), 'bench-adaptive-'));
  if (values.nginx) {
    const port = await freePort();
    front = (await startNginx(dir, [{ name: 'bench', port, front: { kind: 'scgi', upstream: `127.0.0.1:${appPort}` } }])).process;
    const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
    send = () => httpRequest(port, `/?port=${resource.port}`, agent);
  }
  const phases: PhaseFigures[] = [];
  let current: PhaseFigures | null = null;
  let totals: number[] = [];
  let stop = false;
  const clients = Array.from({ length: CLIENTS }, async () => {
    while (!stop) {
      const started = performance.now();
      const status = await send();
      const phase = current;
      if (!phase) continue;
      totals.push(performance.now() - started);
      if (status === 200) phase.ok++;
      else if (status === 503) phase.rejected++;
      else phase.other++;
    }
  });
  const runStart = performance.now();
  for (const capacity of PHASES) {
    resource.capacity = capacity;
    resource.takeTimes();
    totals = [];
    const phase: PhaseFigures = { capacity, ok: 0, rejected: 0, other: 0, queueMean: 0, queueMax: 0, serviceP99: 0, totalP99: 0, limits: [] };
    current = phase;
    const phaseStart = performance.now();
    let samples = 0;
    let queueSum = 0;
    while (performance.now() - phaseStart < PHASE_MS) {
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
      samples++;
      queueSum += resource.waiting;
      phase.queueMax = Math.max(phase.queueMax, resource.waiting);
      const snap = await supervisor.snapshot();
      phase.limits.push([Math.round(performance.now() - phaseStart), snap.apps[0]?.threads ?? 0]);
    }
    phase.queueMean = queueSum / samples;
    phase.serviceP99 = p99(resource.takeTimes());
    phase.totalP99 = p99(totals);
    phases.push(phase);
  }
  current = null;
  stop = true;
  await Promise.all(clients);
  await front?.stop();
  rmSync(dir, { recursive: true, force: true });
  await supervisor.stop(2000);
  process.stderr.write(`${v.label}: ${Math.round((performance.now() - runStart) / 1000)} s\n`);
  return phases;
}

/** ms after the change until the limit first read within [C, 2C] and stayed within 2x of C (C/2..2C) at least 80 % of the rest. */
function settleMs(phase: PhaseFigures): string {
  const c = phase.capacity;
  const first = phase.limits.findIndex(([, l]) => l >= c && l <= 2 * c);
  if (first < 0) return 'never';
  const rest = phase.limits.slice(first);
  const within = rest.filter(([, l]) => l >= c / 2 && l <= 2 * c).length / rest.length;
  return `${((phase.limits[first]?.[0] ?? 0) / 1000).toFixed(1)} s (then ${Math.round(within * 100)} % within 2x)`;
}

async function main(): Promise<void> {
  const resource = await startCapacityResource(PHASES[0] as number, HOLD_MS);
  const results: Array<[Variant, PhaseFigures[]]> = [];
  const loadBefore = loadavg()[0]?.toFixed(2);
  for (const v of VARIANTS) results.push([v, await runVariant(v, resource)]);
  await resource.close();
  const loadAfter = loadavg()[0]?.toFixed(2);
  const seconds = PHASE_MS / 1000;
  const lines = [
    `C ${PHASES.join(' -> ')}, ${seconds} s each, ${HOLD_MS} ms per request at the resource, ${CLIENTS} clients, ${WORKERS} workers, ${values.nginx ? 'HTTP through nginx (scgi_pass)' : 'SCGI direct (no front end)'}; load average ${loadBefore} before, ${loadAfter} after`,
    '',
    '| limit | C | goodput req/s | 503 | other | app-internal queue mean / max | p99 service ms | p99 total ms | limit: min-max (last) | settles within [C, 2C] after |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [v, phases] of results) {
    for (const p of phases) {
      const limits = p.limits.map(([, l]) => l);
      lines.push(`| ${v.label} | ${p.capacity} | ${(p.ok / seconds).toFixed(0)} | ${p.rejected} | ${p.other} | ${p.queueMean.toFixed(1)} / ${p.queueMax} | ${p99Fmt(p.serviceP99)} | ${p99Fmt(p.totalP99)} | ${Math.min(...limits)}-${Math.max(...limits)} (${limits.at(-1)}) | ${v.adaptive ? settleMs(p) : ''} |`);
    }
  }
  const best = PHASES.map((_, i) => Math.max(...results.filter(([v]) => !v.adaptive).map(([, phases]) => phases[i]?.ok ?? 0)));
  const adaptive = results.find(([v]) => v.adaptive);
  if (adaptive) {
    lines.push('', `adaptive goodput / best fixed per phase: ${adaptive[1].map((p, i) => `C=${p.capacity} ${(p.ok / (best[i] || 1)).toFixed(2)}`).join(', ')}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

const p99Fmt = (ms: number): string => ms.toFixed(0);

await main();
