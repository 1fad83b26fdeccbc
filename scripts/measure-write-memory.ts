/**
 * @module measure-write-memory
 * What a response waiting for slow readers costs in memory on each I/O path: the server's peak
 * RSS (VmHWM) with 2 clients that do not read while it answers, on the native core against
 * node:net. Two apps: a 200 MiB Buffer sent with one res.end() (a cached file), and a loop of
 * 1 MiB res.write()s that ignores backpressure (200 MiB). Each run is a fresh server process.
 *
 *   npx tsx scripts/measure-write-memory.ts [--mib 200] [--readers 2]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { NodeListener } from '../server/adapters/node/node-adapter.js';
import { Server } from '../server/listen/server.js';

const { values } = parseArgs({
  options: { mib: { type: 'string', default: '200' }, readers: { type: 'string', default: '2' }, serve: { type: 'string' }, app: { type: 'string' } },
});
const MIB = Math.min(Number(values.mib), 1024);
const READERS = Math.min(Number(values.readers), 16);
const DEADLINE_MS = 120_000;
type AppName = 'end' | 'loop';

/** The server side, in its own process: prints its port, then serves until killed. */
async function serve(io: 'native' | 'node', app: AppName): Promise<void> {
  const big = app === 'end' ? Buffer.alloc(MIB * 1024 * 1024, 7) : null;
  const listener: NodeListener = (_req, res) => {
    if (big !== null) {
      res.end(big);
      return;
    }
    for (let i = 0; i < MIB; i++) res.write(Buffer.alloc(1024 * 1024, i));
    res.end();
  };
  const server = new Server({
    listeners: [{
      listen: '127.0.0.1:0',
      processor: { app: { name: 'mem', handler: { type: 'node', listener }, threads: 16, queue: 16, queueTimeoutMs: 60_000, requestTimeoutMs: 0, mount: '', io } },
    }],
    logger: pino({ level: 'warn' }),
  });
  await server.listen();
  process.stdout.write(`${server.addresses[0]}\n`);
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One run: a fresh server, READERS clients that stall until the server stops growing, then read all. */
async function run(io: 'native' | 'node', app: AppName): Promise<{ before: number; peak: number; received: number[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', io, '--app', app, '--mib', String(MIB)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const address = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').once('data', (text: string) => resolve(text.trim()));
      child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const port = Number(address.slice(address.lastIndexOf(':') + 1));
    const pid = child.pid as number;
    const before = rssMiB(pid);
    const pairs = `CONTENT_LENGTH\u00000\u0000SCGI\u00001\u0000REQUEST_METHOD\u0000GET\u0000REQUEST_URI\u0000/\u0000`;
    const request = `${Buffer.byteLength(pairs)}:${pairs},`;
    const sockets: Socket[] = [];
    for (let i = 0; i < READERS; i++) {
      const socket = connect(port, '127.0.0.1', () => socket.write(request));
      socket.pause();
      sockets.push(socket);
    }
    // The readers stall until the server's memory stops growing (bounded).
    let last = -1;
    for (const start = Date.now(); Date.now() - start < DEADLINE_MS; ) {
      await sleep(500);
      const now = rssMiB(pid);
      if (Math.abs(now - last) < 2) break;
      last = now;
    }
    const received = await Promise.all(sockets.map((socket) => new Promise<number>((resolve, reject) => {
      let bytes = 0;
      socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
      socket.on('end', () => resolve(bytes));
      socket.on('error', reject);
      socket.resume();
    })));
    return { before, peak: peakRssMiB(pid), received };
  } finally {
    child.kill('SIGKILL');
  }
}

if (values.serve === 'native' || values.serve === 'node') {
  await serve(values.serve, values.app === 'loop' ? 'loop' : 'end');
} else {
  console.log(`${READERS} readers that stall, ${MIB} MiB each; the server's peak RSS (VmHWM), MiB`);
  for (const app of ['end', 'loop'] as const) {
    const node = await run('node', app);
    const native = await run('native', app);
    const what = app === 'end' ? `one res.end() of a ${MIB} MiB Buffer` : `${MIB} x res.write(1 MiB), backpressure ignored`;
    const complete = [...node.received, ...native.received].every((bytes) => bytes > MIB * 1024 * 1024);
    console.log(`${what}: node:net ${node.peak.toFixed(0)} (idle ${node.before.toFixed(0)}), native ${native.peak.toFixed(0)} (idle ${native.before.toFixed(0)}), ratio ${(native.peak / node.peak).toFixed(2)}${complete ? '' : ' (a reader got less than the body!)'}`);
  }
}
