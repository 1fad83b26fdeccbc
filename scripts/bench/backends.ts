/**
 * @module backends
 * Starts the backend processes the targets reach: the floor server (compiled to plain JS), a
 * node:http server, uWSGI, and our runtime from dist/ (not tsx) with generated configs. Every
 * Node backend gets the same event-loop-delay preload, so they pay the same sampling cost.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { freePort, startProcess, waitReady, type Address, type Started } from './processes.js';
import { OURS, type BackendId } from './targets.js';

export const REPO = resolve(import.meta.dirname, '..', '..');
const BENCH_DIR = join(REPO, 'scripts', 'bench');
export const PRELOAD = join(BENCH_DIR, 'loop-delay-preload.mjs');
export const CLI = join(REPO, 'dist', 'bin', 'dragon-on-wheels.js');
export const UWSGI_APP = join(BENCH_DIR, 'apps', 'uwsgi-hello.py');

export interface Backend {
  id: BackendId;
  process: Started;
  /** What nginx connects to: '127.0.0.1:port' or 'unix:/path'. */
  address: string;
  /** Where the preload appends event-loop figures on SIGUSR2 (Node backends only). */
  loopFile: string | null;
  /** Our runtime's stats port. */
  statsPort: number | null;
  /** The command line, for the report. */
  command: string;
}

/**
 * The floor server as plain JavaScript: types stripped by TypeScript's own transpiler, so it
 * runs in plain `node` with no loader in the process (tsx would add start-up cost and hooks).
 */
export function compileFloorServer(dir: string): string {
  const source = readFileSync(join(REPO, 'scripts', 'minimal-scgi-server.ts'), 'utf8');
  const out = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const file = join(dir, 'minimal-scgi-server.mjs');
  writeFileSync(file, out.outputText);
  return file;
}

export const UWSGI_ARGS = (address: string): string[] => [
  '--plugin', 'python3',
  '--scgi-socket', address,
  '--wsgi-file', UWSGI_APP,
  '--master', '--processes', '1', '--threads', '1',
  '--disable-logging', // no per-request log line: our runtime and node:http log nothing either
  '--die-on-term', // uWSGI 2.0 reloads on SIGTERM without it
  '--listen', '1024',
  ...(address.startsWith('/') ? ['--chmod-socket=666'] : []), // a Unix socket: as our apps' socketMode 0o666
];

export interface OursConfigOptions {
  listen: string;
  statsPort: number;
  storePath: string | false;
  module: string;
  type: 'node' | 'fetch' | 'auto';
  /** Absent: SCGI. */
  protocol?: 'http';
  /** Absent: the default (1). */
  workers?: number;
  /** Absent: the default ('auto'). */
  io?: 'native' | 'node';
  /** Absent: the default (10). */
  threads?: number;
}

/** A config as a user writes it (docs/configuration.md), with the defaults for threads (10) and queue (100). */
export function oursConfig(o: OursConfigOptions): object {
  return {
    stats: `127.0.0.1:${o.statsPort}`,
    dashboard: false,
    log: { level: 'warn', format: 'json' },
    store: o.storePath === false ? false : { path: o.storePath },
    apps: [{
      name: 'hello', listen: o.listen, module: o.module, type: o.type, socketMode: 0o666,
      ...(o.protocol === undefined ? {} : { protocol: o.protocol }),
      ...(o.workers === undefined ? {} : { workers: o.workers }),
      ...(o.io === undefined ? {} : { io: o.io }),
      ...(o.threads === undefined ? {} : { threads: o.threads }),
    }],
  };
}

export interface StartBackendOptions {
  /** Extra node flags, e.g. --cpu-prof for the profile run. */
  nodeArgs?: string[];
  /** A command the backend runs under, e.g. `strace -f -c -o FILE` for the system-call count. */
  wrap?: string[];
  /** Our CLI from another build (`--http-scratch`); dist/'s by default. */
  cli?: string;
}

/** The command and arguments to spawn, under `wrap` when one is given. */
function wrapped(command: string, args: string[], wrap: string[] | undefined): { command: string; args: string[] } {
  if (!wrap || wrap.length === 0) return { command, args };
  return { command: wrap[0] as string, args: [...wrap.slice(1), command, ...args] };
}

function nodeBackend(id: BackendId, dir: string, args: string[], address: string, statsPort: number | null, waitFor: Address[], o: StartBackendOptions): Promise<Backend> {
  const loopFile = join(dir, `${id}.loop.jsonl`);
  writeFileSync(loopFile, '');
  const started = startProcess({
    name: id,
    ...wrapped(process.execPath, [...(o.nodeArgs ?? []), '--import', PRELOAD, ...args], o.wrap),
    env: { ...process.env, DOW_BENCH_LOOP_FILE: loopFile, NODE_ENV: 'production' },
  });
  const backend: Backend = { id, process: started, address, loopFile, statsPort, command: `node ${(o.nodeArgs ?? []).map((a) => `${a} `).join('')}--import ${rel(PRELOAD)} ${args.map(rel).join(' ')}` };
  return waitReady(started, waitFor).then(() => backend);
}

function rel(arg: string): string {
  return arg.startsWith(REPO) ? arg.slice(REPO.length + 1) : arg;
}

export async function startBackend(id: BackendId, dir: string, o: StartBackendOptions = {}): Promise<Backend> {
  if (id === 'floor') {
    const port = await freePort();
    const file = compileFloorServer(dir);
    return nodeBackend(id, dir, [file, '--listen', `127.0.0.1:${port}`], `127.0.0.1:${port}`, null, [{ host: '127.0.0.1', port }], o);
  }
  if (id === 'node-http' || id === 'node-http-ours-options') {
    const port = await freePort();
    const file = join(BENCH_DIR, 'apps', 'node-http-server.mjs');
    const args = [file, '--listen', `127.0.0.1:${port}`, ...(id === 'node-http-ours-options' ? ['--ours-options'] : [])];
    return nodeBackend(id, dir, args, `127.0.0.1:${port}`, null, [{ host: '127.0.0.1', port }], o);
  }
  if (id === 'uwsgi' || id === 'uwsgi-unix') {
    const port = id === 'uwsgi' ? await freePort() : 0;
    const socketPath = join(dir, `${id}.sock`);
    const address = id === 'uwsgi' ? `127.0.0.1:${port}` : socketPath;
    const args = UWSGI_ARGS(address);
    const started = startProcess({ name: id, ...wrapped('uwsgi', args, o.wrap) });
    await waitReady(started, [id === 'uwsgi' ? { host: '127.0.0.1', port } : { path: socketPath }]);
    return { id, process: started, address: id === 'uwsgi' ? address : `unix:${socketPath}`, loopFile: null, statsPort: null, command: `uwsgi ${args.map(rel).join(' ')}` };
  }
  const spec = OURS[id];
  const statsPort = await freePort();
  const socketPath = join(dir, `${id}.sock`);
  const port = spec.unix ? 0 : await freePort();
  const listen = spec.unix ? `unix:${socketPath}` : `127.0.0.1:${port}`;
  const configFile = join(dir, `${id}.config.json`);
  const config = oursConfig({
    listen,
    statsPort,
    storePath: spec.store ? join(dir, `${id}.db`) : false,
    module: join(BENCH_DIR, 'apps', `${spec.app}.mjs`),
    type: spec.type,
    ...(spec.protocol === undefined ? {} : { protocol: spec.protocol }),
    ...(spec.workers === undefined ? {} : { workers: spec.workers }),
    ...(spec.io === undefined ? {} : { io: spec.io }),
  });
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const waitFor: Address[] = [spec.unix ? { path: socketPath } : { host: '127.0.0.1', port }, { host: '127.0.0.1', port: statsPort }];
  return nodeBackend(id, dir, [o.cli ?? CLI, 'serve', configFile], listen, statsPort, waitFor, o);
}

export function builtRuntimeExists(): boolean {
  return existsSync(CLI);
}
