/**
 * @module long-poll
 * Memory with many requests held open: our runtime (store on) runs an app that answers nothing
 * until released; a bounded client opens N SCGI connections straight to it over loopback, the
 * server's RSS is read once the stats port shows all N in flight, then all are released and
 * every answer is checked. A fresh server per N, so each figure starts from the same heap.
 *
 * An app's thread limit is at most 1024 (shared/runtime-control.ts MAX_THREADS), so N requests
 * are spread over ceil(N / 1000) apps of 1000 threads each: every request sits in app code, none
 * in a queue.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, REPO } from './backends.js';
import { freePort, startProcess, waitReady } from './processes.js';
import { readRss } from './proc-stats.js';
import { readStatsPort } from './probes.js';

const THREADS_PER_APP = 1000;
const CONNECT_CONCURRENCY = 256;
const PHASE_TIMEOUT_MS = 60_000;

export interface LongPollResult {
  held: number;
  /** The apps' `io` when one was set (the native I/O comparison); absent: the default. */
  io?: 'native' | 'node';
  apps: number;
  /** RSS of the idle server before any connection. */
  idleRssMiB: number;
  /** RSS with every request in flight. */
  heldRssMiB: number;
  /** (held - idle) / N. */
  perRequestKiB: number;
  /** The stats port's `online` once all were opened. */
  onlineSeen: number;
  answered200: number;
  errors: number;
  errorSamples: string[];
  seconds: number;
}

function encode(uri: string): Buffer {
  const env: [string, string][] = [['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['REQUEST_METHOD', 'GET'], ['REQUEST_URI', uri],
    ['QUERY_STRING', ''], ['SERVER_PROTOCOL', 'HTTP/1.1'], ['REMOTE_ADDR', '127.0.0.1'], ['REMOTE_PORT', '50000'],
    ['SERVER_NAME', 'localhost'], ['SERVER_PORT', '80'], ['HTTP_HOST', 'localhost']];
  const block = Buffer.from(env.map(([k, v]) => `${k}\0${v}\0`).join(''), 'latin1');
  return Buffer.concat([Buffer.from(`${block.length}:`), block, Buffer.from(',')]);
}

/** The soft limit on open files of this process, from /proc/self/limits. */
export function openFilesLimit(): number {
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return !match || match[1] === 'unlimited' ? Infinity : Number(match[1]);
}

export async function runLongPoll(held: number, dir: string, io?: 'native' | 'node'): Promise<LongPollResult> {
  const needFiles = held + 512;
  if (openFilesLimit() < needFiles) {
    throw new Error(`long-poll ${held}: this process may open ${openFilesLimit()} files, needs ${needFiles}; run \`ulimit -n ${needFiles * 2}\` first`);
  }
  const appCount = Math.ceil(held / THREADS_PER_APP);
  const ports = await Promise.all(Array.from({ length: appCount + 2 }, () => freePort()));
  const statsPort = ports[appCount + 1] as number;
  const controlPort = ports[appCount] as number;
  const module = join(REPO, 'scripts', 'bench', 'apps', 'long-poll-app.mjs');
  // workers: 0 (in-process): /release must reach every app's held requests through the module
  // state they share, and the figure is one process's RSS, as the target means it. With a
  // worker per app (the default) each app would have its own copy of that state, so nothing
  // would be released, and the supervisor's RSS would hold none of the requests.
  const app = (name: string, port: number) => ({ name, listen: `127.0.0.1:${port}`, module, type: 'node', workers: 0, threads: THREADS_PER_APP, queue: 0, requestTimeout: 0, ...(io === undefined ? {} : { io }) });
  const config = {
    stats: `127.0.0.1:${statsPort}`, dashboard: false, log: { level: 'warn', format: 'json' },
    store: { path: join(dir, `long-poll-${held}.db`) },
    apps: [...ports.slice(0, appCount).map((p, i) => app(`lp${i}`, p)), app('control', controlPort)],
  };
  const configFile = join(dir, `long-poll-${held}.config.json`);
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  // The server needs a descriptor per held request; raise its soft limit as far as the hard one.
  const server = startProcess({
    name: `long-poll-${held}`,
    command: '/bin/sh',
    args: ['-c', `ulimit -n $(ulimit -Hn) 2>/dev/null || ulimit -n ${needFiles * 2}; exec "$0" "$@"`, process.execPath, CLI, 'serve', configFile],
  });
  const started = performance.now();
  const sockets: Socket[] = [];
  try {
    await waitReady(server, [...ports.map((port) => ({ host: '127.0.0.1', port }))]);
    await sleep(500); // let start-up garbage settle before the idle figure
    const idleRss = readRss(server.pid);

    const request = encode('/poll');
    let answered200 = 0;
    let errors = 0;
    const errorSamples: string[] = [];
    const fail = (why: string): void => {
      errors++;
      if (errorSamples.length < 5) errorSamples.push(why);
    };
    let closed = 0;
    const open = (i: number): Promise<void> =>
      new Promise((resolve) => {
        const socket = connect(ports[i % appCount] as number, '127.0.0.1');
        sockets.push(socket);
        let head = '';
        socket.once('connect', () => {
          socket.write(request);
          resolve();
        });
        socket.on('data', (chunk: Buffer) => {
          if (head.length < 32) head += chunk.toString('latin1', 0, 32);
        });
        socket.on('error', (err: NodeJS.ErrnoException) => {
          fail(err.code ?? err.message);
          resolve();
        });
        socket.on('close', () => {
          closed++;
          if (head.startsWith('Status: 200')) answered200++;
          else if (head.length > 0) fail(`answer ${JSON.stringify(head.slice(0, 20))}`);
          else fail('closed without an answer');
        });
      });
    // Bounded: at most CONNECT_CONCURRENCY connects in flight, so the backlogs never overflow.
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, held) }, async () => {
      while (next < held) await open(next++);
    }));

    let onlineSeen = 0;
    const deadline = Date.now() + PHASE_TIMEOUT_MS;
    while (Date.now() < deadline) {
      onlineSeen = Number((await readStatsPort(statsPort)).get('online') ?? 0);
      if (onlineSeen >= held - errors) break;
      await sleep(200);
    }
    await sleep(300);
    const heldRss = readRss(server.pid);

    const release = await new Promise<string>((resolve) => {
      const socket = connect(controlPort, '127.0.0.1', () => socket.write(encode('/release')));
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('error', (err) => resolve(`error ${err.message}`));
      socket.on('close', () => resolve(text));
    });
    if (!release.startsWith('Status: 200')) fail(`release: ${release.slice(0, 60)}`);
    const closeDeadline = Date.now() + PHASE_TIMEOUT_MS;
    while (closed < sockets.length && Date.now() < closeDeadline) await sleep(50);
    if (closed < sockets.length) fail(`${sockets.length - closed} connections still open after release`);

    return {
      held,
      ...(io === undefined ? {} : { io }),
      apps: appCount,
      idleRssMiB: idleRss / 1048576,
      heldRssMiB: heldRss / 1048576,
      perRequestKiB: (heldRss - idleRss) / 1024 / held,
      onlineSeen,
      answered200,
      errors,
      errorSamples,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    for (const socket of sockets) socket.destroy();
    await server.stop();
  }
}
