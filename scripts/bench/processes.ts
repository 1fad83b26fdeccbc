/**
 * @module processes
 * The benchmark's process shell: start a server in its own process group, wait until it accepts
 * connections, stop it (the group, by id), and free loopback ports. Every process started here is
 * killed when the benchmark exits, even on an error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const READY_POLL_MS = 25;
const STOP_GRACE_MS = 5_000;
const OUTPUT_LIMIT_BYTES = 64 * 1024;

export interface Started {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** stdout and stderr so far (capped), for error messages. */
  output(): string;
  /** SIGTERM to the group, SIGKILL after a grace period; resolves once the leader exited. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) killGroup(child, 'SIGKILL');
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal); // the group we created with detached: true
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function startProcess(options: StartOptions): Started {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true, // own process group: stop() reaches nginx's and uwsgi's workers too
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${options.name}: could not start ${options.command}`);
  running.add(child);
  let output = '';
  const keep = (chunk: Buffer): void => {
    if (output.length < OUTPUT_LIMIT_BYTES) output += chunk.toString('utf8');
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => running.delete(child));
  return {
    name: options.name,
    pid: child.pid,
    child,
    output: () => output,
    async stop() {
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
      killGroup(child, 'SIGKILL'); // workers a master left behind
    },
  };
}

export type Address = { host: string; port: number } | { path: string };

export function canConnect(address: Address): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = 'path' in address ? connect(address.path) : connect(address.port, address.host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Waits until every address accepts a connection; throws with the process output on timeout. */
export async function waitReady(started: Started, addresses: Address[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const address of addresses) {
    for (;;) {
      if (started.child.exitCode !== null || started.child.signalCode !== null) {
        throw new Error(`${started.name} exited (${started.child.exitCode ?? started.child.signalCode}) before it listened:\n${started.output()}`);
      }
      if (await canConnect(address)) break;
      if (Date.now() > deadline) throw new Error(`${started.name} did not listen on ${JSON.stringify(address)} within ${timeoutMs} ms:\n${started.output()}`);
      await sleep(READY_POLL_MS);
    }
  }
}

/** A loopback port free right now (the window before the server binds it is small). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
