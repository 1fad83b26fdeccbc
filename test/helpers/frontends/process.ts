/**
 * The process shell shared by the nginx, lighttpd and Apache harnesses: start a front end in
 * the foreground in its own temp dir and process group, wait until its port answers, and stop
 * it (whole group, then the dir) from t.after, even when the test failed half way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { getFreePort } from '../free-port.js';
import { makeTempDir, removeTempDir } from '../temp-dir.js';
import { withoutSanitizer } from '../sanitizer-env.js';
import { sleep, waitUntil } from '../wait.js';

const READY_TIMEOUT_MS = 30_000;
const READY_POLL_MS = 25;
const STOP_GRACE_MS = 5_000;
const OUTPUT_LIMIT_BYTES = 64 * 1024;
const START_ATTEMPTS = 3;

/** What every launcher takes: a config block and the values of its placeholders. */
export interface FrontendOptions {
  /**
   * Usually `docTemplate(frontend, title)` from docs/frontends.md. For nginx it goes inside
   * `http { }` and `{{listen}}` is filled with `127.0.0.1:<port>` by the harness; every other
   * placeholder comes from `values`.
   */
  config: string;
  values?: Record<string, string | number>;
}

export interface FrontendHandle {
  /** 'nginx', 'lighttpd' or 'apache'. */
  readonly name: string;
  /** The loopback port the front end listens on. */
  readonly port: number;
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  readonly url: string;
  /** The temp dir holding the config, pid file, logs and temp files; removed by stop(). */
  readonly dir: string;
  readonly configPath: string;
  readonly errorLogPath: string;
  /** The config exactly as written, for error messages and docs. */
  readonly config: string;
  /** The error log plus whatever the process wrote to stdout and stderr. */
  readLogs(): Promise<string>;
  /** Stops the whole process group and removes the dir. Idempotent; never throws. */
  stop(): Promise<void>;
}

/** What a front-end module tells the shell about one start attempt. */
export interface LaunchPlan {
  command: string;
  args: string[];
  config: string;
  configFile: string;
  errorLogFile: string;
  /** Extra files to write next to the config (e.g. nginx's scgi_params). */
  files?: Record<string, string>;
}

/** Builds a plan for a given free port and fresh dir; called again on each retry. */
export type PlanBuilder = (port: number, dir: string) => LaunchPlan | Promise<LaunchPlan>;

/**
 * Front ends still running, killed if the test process exits without stopping them (an
 * uncaught error, process.exit). One listener for all, not one per front end.
 */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) killGroup(child, 'SIGKILL');
});

class StartError extends Error {
  constructor(
    message: string,
    readonly addressInUse: boolean,
  ) {
    super(message);
    this.name = 'FrontendStartError';
  }
}

/**
 * Starts a front end on a free port, retrying with a new port when another test grabbed the
 * one getFreePort returned (the window between probe and bind is small but real when test
 * files run in parallel). On failure the error message carries the config and the logs.
 */
export async function startFrontend(name: string, build: PlanBuilder): Promise<FrontendHandle> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const port = await getFreePort();
    const dir = await makeTempDir(name);
    try {
      return await launch(name, port, dir, await build(port, dir));
    } catch (error) {
      lastError = error;
      await removeTempDir(dir);
      if (!(error instanceof StartError && error.addressInUse)) throw error;
    }
  }
  throw lastError;
}

async function launch(name: string, port: number, dir: string, plan: LaunchPlan): Promise<FrontendHandle> {
  const configPath = join(dir, plan.configFile);
  const errorLogPath = join(dir, plan.errorLogFile);
  await writeFile(configPath, plan.config);
  for (const [file, text] of Object.entries(plan.files ?? {})) await writeFile(join(dir, file), text);

  // detached: the front end leads its own process group, so stop() reaches the workers too.
  const child = spawn(plan.command, plan.args, { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: withoutSanitizer() });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (error) => keep(Buffer.from(`spawn error: ${error.message}\n`)));
  running.add(child);

  const readLogs = async (): Promise<string> => {
    const log = await readFile(errorLogPath, 'utf8').catch(() => '(no error log)\n');
    return `--- ${name} error log (${errorLogPath}) ---\n${log}--- ${name} stdout/stderr ---\n${output}`;
  };
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await stopGroup(child, exited);
    running.delete(child);
    await removeTempDir(dir);
  };

  try {
    await waitUntilListening(port, exited);
    if ((await listenerOwnedBy(child.pid, port)) === false) {
      // A Server of another test got this port from listen(0) between getFreePort's probe and
      // the front end's bind: the port answers, but the front end is about to exit with "address
      // already in use". Seen in the matrix: Apache's requests reached another test's app.
      throw new Error('address already in use: another process listens on the port');
    }
  } catch (error) {
    const logs = await readLogs();
    await stop();
    const reason = error instanceof Error ? error.message : String(error);
    const inUse = /address already in use|EADDRINUSE|could not bind/i.test(`${logs}\n${reason}`);
    throw new StartError(`${name} did not start on 127.0.0.1:${port}: ${reason}\n--- config ---\n${plan.config}\n${logs}`, inUse);
  }
  return { name, port, url: `http://127.0.0.1:${port}`, dir, configPath, errorLogPath, config: plan.config, readLogs, stop };
}

/** Polls a TCP connect until it succeeds, the process exits, or the timeout passes. */
async function waitUntilListening(port: number, exited: Promise<void>): Promise<void> {
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  // An exit ends the wait at once: the caller retries on another port after a lost bind race.
  await waitUntil(`port ${port} answering`, async () => hasExited || (await canConnect(port)), { timeoutMs: READY_TIMEOUT_MS, intervalMs: READY_POLL_MS });
  if (hasExited) throw new Error('process exited before listening');
  // A negative check: a stranger may own the port we probed, and a front end that lost the bind
  // race exits at once.
  await sleep(READY_POLL_MS);
  if (hasExited) throw new Error('process exited right after the port answered');
}

/**
 * Whether the socket listening on 127.0.0.1:<port> is one of the process's descriptors: the
 * inode from /proc/net/tcp (state 0A, LISTEN) among its /proc/<pid>/fd links. nginx, lighttpd and
 * Apache all bind in the process the harness started (their master). Undefined where /proc cannot
 * tell (not Linux, not allowed to read the fds): the caller then trusts the connect.
 */
async function listenerOwnedBy(pid: number | undefined, port: number): Promise<boolean | undefined> {
  if (pid === undefined) return undefined;
  try {
    const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    const table = await readFile('/proc/net/tcp', 'utf8');
    const row = table.split('\n').map((line) => line.trim().split(/\s+/)).find((fields) => fields[1] === local && fields[3] === '0A');
    const inode = row?.[9];
    if (inode === undefined) return undefined;
    const fds = await readdir(`/proc/${pid}/fd`);
    const links = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
    return links.includes(`socket:[${inode}]`);
  } catch {
    return undefined;
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function stopGroup(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    killGroup(child, 'SIGKILL'); // workers may outlive a master that died
    return;
  }
  // SIGTERM is the fast shutdown for all three: nginx and Apache masters take their workers down.
  killGroup(child, 'SIGTERM');
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), STOP_GRACE_MS).unref());
  if ((await Promise.race([exited, timer])) === 'timeout') {
    killGroup(child, 'SIGKILL');
    await exited;
  }
  killGroup(child, 'SIGKILL'); // stragglers in the group (e.g. an Apache child still closing)
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group is already gone
  }
}

/**
 * Runs a test body and, if it throws, prints each front end's logs before rethrowing, so a
 * failure shows the front end's own reason (t.after cannot tell whether the test failed).
 */
export async function withFrontendLogs<T>(handles: readonly FrontendHandle[], body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    for (const handle of handles) console.error(await handle.readLogs());
    throw error;
  }
}
