/**
 * @module measure-limit-split
 * What sharing one thread limit across worker processes costs (docs/architecture.md): the same
 * I/O-bound load against `threads: 4` in-process and with 2 and 4 workers, directly over SCGI on
 * loopback. Prints throughput against the ideal (threads / hold time) and the in-process run,
 * latency, the largest number of requests inside the app at once, and each worker's share.
 *
 *   npx tsx scripts/measure-limit-split.ts [--requests 2000] [--clients 16] [--hold 20]
 */
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { DEFAULT_LIMITS } from '../server/protocol/limits.js';
import { Supervisor } from '../server/supervisor/supervisor.js';
import { loadApp } from '../server/host/app-loader.js';
import type { AppSettings } from '../server/config/config.js';

const APP = fileURLToPath(new URL('./bench/apps/worker-app.mjs', import.meta.url));
const { values } = parseArgs({ options: { requests: { type: 'string', default: '2000' }, clients: { type: 'string', default: '16' }, hold: { type: 'string', default: '20' } } });
const REQUESTS = Math.min(Number(values.requests), 20_000);
const CLIENTS = Math.min(Number(values.clients), 256);
const HOLD_MS = Number(values.hold);
const THREADS = 4;
const DEADLINE_MS = 120_000;

function scgi(port: number, uri: string): Promise<string> {
  const pairs = `CONTENT_LENGTH\u00000\u0000SCGI\u00001\u0000REQUEST_METHOD\u0000GET\u0000REQUEST_URI\u0000${uri}\u0000`;
  const request = `${Buffer.byteLength(pairs)}:${pairs},`;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    // write, not end: a half-close after the request means the client left (docs/frontends.md).
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

async function run(workers: number, mix: boolean) {
  const app: AppSettings = {
    listen: '127.0.0.1:0',
    ...(workers > 0
      ? { source: { kind: 'module' as const, path: APP, export: 'default', type: 'auto' as const }, workers: { count: workers, hangTimeoutMs: 30_000, maxRequests: 0, maxMemoryMiB: 0 } }
      : {}),
    options: {
      name: 'split', threads: THREADS, queue: 10_000, queueTimeoutMs: 60_000, requestTimeoutMs: 0, mount: '',
      ...(workers === 0 ? { handler: await loadApp(APP, 'default', 'auto', 'split', '/') } : {}),
    },
  };
  const supervisor = new Supervisor({
    apps: [app], stats: null, limits: { ...DEFAULT_LIMITS }, drainTimeoutMs: 1000, log: { level: 'warn', format: 'json' },
    store: null, dashboard: null, persistLimits: false,
  }, pino({ level: 'warn' }), null);
  await supervisor.start();
  const port = Number((supervisor.addresses[0] as string).split(':').pop());
  const latencies: number[] = [];
  const perWorker = new Map<string, number>();
  let sent = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (sent < REQUESTS && performance.now() - started < DEADLINE_MS) {
      const hold = mix ? (sent++ % 2 === 0 ? 5 : 4 * HOLD_MS) : (sent++, HOLD_MS);
      const t0 = performance.now();
      const body = await scgi(port, `/hold?ms=${hold}`);
      latencies.push(performance.now() - t0);
      const pid = /in (\d+)/.exec(body)?.[1] ?? 'in-process';
      perWorker.set(pid, (perWorker.get(pid) ?? 0) + 1);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  await supervisor.stop(1000);
  latencies.sort((a, b) => a - b);
  const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  const meanHold = mix ? (5 + 4 * HOLD_MS) / 2 : HOLD_MS;
  return {
    rps: latencies.length / seconds,
    ideal: (THREADS * 1000) / meanHold,
    p50: q(0.5),
    p99: q(0.99),
    shares: [...perWorker.values()].sort((a, b) => b - a).map((n) => `${((100 * n) / latencies.length).toFixed(0)} %`).join(' / '),
  };
}

for (const mix of [false, true]) {
  console.log(mix ? `\nmixed holds (5 ms and ${4 * HOLD_MS} ms alternating)` : `\nuniform hold ${HOLD_MS} ms`);
  console.log(`threads ${THREADS}, ${CLIENTS} clients, ${REQUESTS} requests; ideal = threads / mean hold`);
  let base = 0;
  for (const workers of [0, 2, 4]) {
    const r = await run(workers, mix);
    if (workers === 0) base = r.rps;
    console.log(
      `${workers === 0 ? 'in-process' : `${workers} workers`.padEnd(10)}  ${r.rps.toFixed(0).padStart(5)} req/s  ` +
        `${(r.rps / r.ideal).toFixed(2)}x ideal  ${(r.rps / base).toFixed(2)}x in-process  ` +
        `p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  shares ${r.shares}`,
    );
  }
}
