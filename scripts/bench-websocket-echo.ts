/**
 * @module bench-websocket-echo
 * An echo round trip through nginx (the docs/frontends.md `websocket` block), to the same app
 * module (test/fixtures/websockets/ws-noserver.mjs: Express plus `ws` in noServer mode) served two
 * ways: by dragon-on-wheels (`serve`, built CLI, one worker, HTTP listener) and by a bare
 * node:http server with `ws` attached, as a user runs it today. Each client holds one WebSocket
 * and sends its next message when the last one's echo arrives. Rounds alternate between the two,
 * so that the machine's other work falls on both; the ratios are per round, then their median.
 *
 *   npm run build && node --import tsx scripts/bench-websocket-echo.ts [--clients 32] [--seconds 8] [--rounds 3]
 *
 * Loopback only; every loop is bounded by its seconds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { CLOCK_TICKS_PER_S, processTree, sampleTree } from './bench/proc-stats.js';
import { getFreePorts } from '../test/helpers/free-port.js';
import { docTemplate } from '../test/helpers/frontends/doc-configs.js';
import { startNginx } from '../test/helpers/frontends/nginx.js';
import type { FrontendHandle } from '../test/helpers/frontends/process.js';
import { waitUntil } from '../test/helpers/wait.js';

const { values } = parseArgs({ options: { clients: { type: 'string', default: '32' }, seconds: { type: 'string', default: '8' }, rounds: { type: 'string', default: '3' }, bytes: { type: 'string', default: '64' } } });
const CLIENTS = bounded('clients', 1, 512);
const SECONDS = bounded('seconds', 1, 60);
const ROUNDS = bounded('rounds', 1, 10);
const BYTES = bounded('bytes', 1, 65_536);
const WARMUP_SECONDS = 2;

function bounded(name: keyof typeof values, min: number, max: number): number {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be a whole number from ${min} to ${max}`);
    process.exit(2);
  }
  return n;
}

const REPO = fileURLToPath(new URL('..', import.meta.url));
const FIXTURE = join(REPO, 'test', 'fixtures', 'websockets', 'ws-noserver.mjs');
const CLI = join(REPO, 'dist', 'bin', 'dragon-on-wheels.js');

interface Backend {
  name: string;
  child: ChildProcess;
  front: FrontendHandle;
}

interface RoundResult {
  roundTrips: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU of the backend's processes (supervisor and worker, or the one node:http process) per round trip. */
  cpuUsPerTrip: number;
}

async function startBackend(name: string, command: string[], port: number, ready: RegExp, dir: string): Promise<Backend> {
  const child = spawn(process.execPath, command, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production' } });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  await waitUntil(`${name} ready`, () => ready.test(output) || child.exitCode !== null, { timeoutMs: 60_000 });
  if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}):\n${output}`);
  const front = await startNginx({ config: docTemplate('nginx', 'websocket'), values: { host: '127.0.0.1', port } });
  return { name, child, front };
}

/** One client's loop: a message, its echo, the next; until `deadline`. */
async function client(url: string, deadline: number, latencies: number[]): Promise<number> {
  const ws = new WebSocket(url);
  await once(ws, 'open');
  const payload = Buffer.alloc(BYTES, 0x61);
  let trips = 0;
  while (performance.now() < deadline) {
    const sent = performance.now();
    const echoed = once(ws, 'message');
    ws.send(payload);
    await echoed;
    latencies.push(performance.now() - sent);
    trips++;
  }
  ws.close(1000);
  await once(ws, 'close');
  return trips;
}

async function drive(backend: Backend, seconds: number): Promise<RoundResult> {
  const url = `${backend.front.url.replace(/^http/, 'ws')}/app/chat`;
  const latencies: number[] = [];
  const root = backend.child.pid as number;
  const before = sampleTree(root);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const trips = (await Promise.all(Array.from({ length: CLIENTS }, () => client(url, deadline, latencies)))).reduce((a, b) => a + b, 0);
  const elapsed = (performance.now() - started) / 1000;
  const after = sampleTree(root);
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { roundTrips: trips, perSecond: trips / elapsed, p50Ms: at(0.5), p99Ms: at(0.99), cpuUsPerTrip: ((after.cpuSeconds - before.cpuSeconds) * 1e6) / trips };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? (s[s.length >> 1] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dow-ws-echo-'));
  const backends: Backend[] = [];
  const stop = (): void => {
    for (const b of backends) {
      for (const pid of processTree(b.child.pid as number).reverse()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  };
  try {
    const [ours, plain, stats] = await getFreePorts(3);
    writeFileSync(join(dir, 'plain.mjs'), [
      "import { createServer } from 'node:http';",
      `import app, { upgrade } from ${JSON.stringify(FIXTURE)};`,
      'const server = createServer(app);',
      "server.on('upgrade', upgrade);",
      `server.listen(${plain}, '127.0.0.1', () => console.log('listening'));`,
    ].join('\n'));
    writeFileSync(join(dir, 'dragon.config.json'), JSON.stringify({
      stats: `127.0.0.1:${stats}`,
      apps: [{ name: 'echo', listen: `127.0.0.1:${ours}`, module: FIXTURE, protocol: 'http', mount: '/app', workers: 1, threads: 16 }],
      store: false,
      dashboard: false,
      log: { level: 'warn' },
    }));
    backends.push(await startBackend('node:http + ws', [join(dir, 'plain.mjs')], plain as number, /listening/, dir));
    backends.push(await startBackend('dragon-on-wheels', [CLI, 'serve', join(dir, 'dragon.config.json'), '--log-format', 'json', '--log-level', 'info'], ours as number, /UP on .*\(stats\)/, dir));
    console.log(`${CLIENTS} clients, ${BYTES}-byte messages, ${ROUNDS} rounds of ${SECONDS} s per backend after ${WARMUP_SECONDS} s of warm-up; load average ${loadavg()[0]?.toFixed(2)}`);
    for (const b of backends) await drive(b, WARMUP_SECONDS);
    const ratios: Array<{ rate: number; p50: number; p99: number; cpu: number }> = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate which goes first, so that neither always follows the other's after-effects.
      const order = round % 2 === 1 ? backends : [...backends].reverse();
      const results = new Map<string, RoundResult>();
      for (const b of order) {
        const r = await drive(b, SECONDS);
        results.set(b.name, r);
        console.log(`round ${round} ${b.name.padEnd(17)} ${r.perSecond.toFixed(0).padStart(7)} round trips/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  ${r.cpuUsPerTrip.toFixed(1)} µs CPU per round trip`);
      }
      const [base, mine] = [results.get(backends[0]!.name)!, results.get(backends[1]!.name)!];
      ratios.push({ rate: mine.perSecond / base.perSecond, p50: mine.p50Ms / base.p50Ms, p99: mine.p99Ms / base.p99Ms, cpu: mine.cpuUsPerTrip / base.cpuUsPerTrip });
    }
    const m = (k: 'rate' | 'p50' | 'p99' | 'cpu'): string => `${median(ratios.map((r) => r[k])).toFixed(2)}x`;
    console.log(`dragon-on-wheels against node:http + ws, median of ${ROUNDS} rounds: round trips/s ${m('rate')}, p50 ${m('p50')}, p99 ${m('p99')}, CPU per round trip ${m('cpu')} (clock ticks of ${1000 / CLOCK_TICKS_PER_S} ms); load average ${loadavg()[0]?.toFixed(2)}`);
  } finally {
    stop();
    for (const b of backends) await b.front.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
