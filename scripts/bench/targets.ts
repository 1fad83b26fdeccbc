/**
 * @module targets
 * What the benchmark compares, in the order it runs them each round (A B C … A B C …): the
 * backend processes and, per target, which backend nginx reaches and how. Pure data.
 */
import type { Front } from './nginx.js';

export type BackendId =
  | 'floor' | 'node-http' | 'node-http-ours-options' | 'uwsgi'
  | 'ours-nostore' | 'ours-full' | 'ours-unix' | 'ours-express' | 'ours-fetch'
  // The HTTP-listener part (`--http`): protocol: 'http' apps, and the SCGI full path in-process.
  | 'ours-http' | 'ours-http-unix' | 'ours-http-w1' | 'ours-full-w0' | 'ours-http-nostore' | 'ours-http-scratch' | 'ours-scgi-scratch'
  // The native I/O part (`--native`): each SCGI app with its I/O named (io 'auto' is native where the addon loads), and uWSGI on a Unix socket.
  | 'uwsgi-unix' | 'ours-full-native' | 'ours-full-node' | 'ours-unix-native' | 'ours-unix-node'
  | 'ours-express-native' | 'ours-express-node' | 'ours-fetch-native' | 'ours-fetch-node';

export type TargetId = 'nginx-return' | 'floor' | 'proxy-http10' | 'proxy-keepalive' | 'proxy-keepalive-ours-options' | 'uwsgi' | Exclude<BackendId, 'floor' | 'node-http' | 'node-http-ours-options' | 'uwsgi'>;

export interface TargetSpec {
  id: TargetId;
  label: string;
  backend: BackendId | null;
  /** How nginx reaches the backend, given its address ('127.0.0.1:port' or 'unix:/path'). */
  front(address: string): Front;
}

const scgi = (address: string): Front => ({ kind: 'scgi', upstream: address });

export const TARGETS: readonly TargetSpec[] = [
  { id: 'nginx-return', label: 'nginx `return 200` (ceiling)', backend: null, front: () => ({ kind: 'return' }) },
  { id: 'floor', label: 'SCGI → 60-line Node server (floor)', backend: 'floor', front: scgi },
  { id: 'proxy-http10', label: 'proxy_pass HTTP/1.0 → node:http', backend: 'node-http', front: (a) => ({ kind: 'proxy-http10', upstream: a }) },
  { id: 'proxy-keepalive', label: 'keep-alive upstream → node:http', backend: 'node-http', front: (a) => ({ kind: 'proxy-keepalive', upstream: a }) },
  { id: 'uwsgi', label: 'SCGI → uWSGI (C core, Python hello)', backend: 'uwsgi', front: scgi },
  { id: 'ours-nostore', label: 'SCGI → ours, hello, store off, TCP', backend: 'ours-nostore', front: scgi },
  { id: 'ours-full', label: 'SCGI → ours, hello, store on, TCP (full path)', backend: 'ours-full', front: scgi },
  { id: 'ours-unix', label: 'SCGI → ours, hello, store on, Unix socket', backend: 'ours-unix', front: scgi },
  { id: 'ours-express', label: 'SCGI → ours, Express 5 hello, store on, TCP', backend: 'ours-express', front: scgi },
  { id: 'ours-fetch', label: 'SCGI → ours, fetch-handler hello, store on, TCP', backend: 'ours-fetch', front: scgi },
];

const keepAlive = (address: string): Front => ({ kind: 'proxy-keepalive', upstream: address });

/**
 * The HTTP-listener comparison (`npm run bench -- --http`): the same nginx `upstream { keepalive 64; }`
 * recipe in front of plain node:http and of our `protocol: 'http'` app, and our SCGI full path
 * beside them; each in-process (one process, as node:http is) and with one worker process (the
 * supervisor, `workers: 1`, the default).
 */
export const HTTP_TARGETS: readonly TargetSpec[] = [
  { id: 'proxy-keepalive', label: 'keep-alive upstream → plain node:http (baseline)', backend: 'node-http', front: keepAlive },
  { id: 'ours-http', label: 'keep-alive upstream → ours, protocol http, store on, TCP, in-process', backend: 'ours-http', front: keepAlive },
  { id: 'ours-http-unix', label: 'keep-alive upstream → ours, protocol http, store on, Unix socket, in-process', backend: 'ours-http-unix', front: keepAlive },
  { id: 'ours-full-w0', label: 'SCGI → ours, store on, TCP, in-process (full path)', backend: 'ours-full-w0', front: scgi },
  { id: 'ours-http-w1', label: 'keep-alive upstream → ours, protocol http, store on, TCP, workers: 1', backend: 'ours-http-w1', front: keepAlive },
  { id: 'ours-full', label: 'SCGI → ours, store on, TCP, workers: 1 (full path)', backend: 'ours-full', front: scgi },
];

/**
 * `--http --http-diagnose` adds these after the baseline, to tell apart where our extra cost
 * comes from: node:http with the server options our HTTP listener sets (keepAliveTimeout,
 * headersTimeout, requestTimeout, the check interval, maxHeaderSize), and our HTTP app with the
 * store off.
 */
export const HTTP_DIAGNOSIS_TARGETS: readonly TargetSpec[] = [
  { id: 'proxy-keepalive-ours-options', label: 'keep-alive upstream → node:http with our listener\'s server options', backend: 'node-http-ours-options', front: keepAlive },
  { id: 'ours-http-nostore', label: 'keep-alive upstream → ours, protocol http, store off, TCP, in-process', backend: 'ours-http-nostore', front: keepAlive },
];

/** `--http-scratch <cli>`: our HTTP app (in-process, store on) from another build, e.g. a scratch copy of dist/ with a change to try. */
export const HTTP_SCRATCH_TARGET: TargetSpec = {
  id: 'ours-http-scratch', label: 'keep-alive upstream → ours from --http-scratch, protocol http, store on, TCP, in-process', backend: 'ours-http-scratch', front: keepAlive,
};

/** `--scgi-scratch <cli>`: the SCGI full path in-process from another build (an older commit's, to find a regression). */
export const SCGI_SCRATCH_TARGET: TargetSpec = {
  id: 'ours-scgi-scratch', label: 'SCGI → ours from --scgi-scratch, store on, TCP, in-process', backend: 'ours-scgi-scratch', front: scgi,
};

/**
 * The native I/O comparison (`npm run bench -- --native`), in groups that each run interleaved behind
 * an nginx of their own (scripts/bench/native-load.ts): our native I/O core against node:net
 * (`io: 'node'`) for the same app, and against uWSGI where a target compares with it. Our targets
 * keep every default but `io` (so `workers: 1`, a supervisor and a worker process, as uWSGI runs a
 * master and a worker).
 */
export const NATIVE_GROUPS: ReadonlyArray<{ id: 'tcp' | 'unix' | 'express' | 'fetch'; label: string; targets: readonly TargetSpec[] }> = [
  { id: 'tcp', label: 'Hello listener, full path (store on), TCP', targets: [
    { id: 'uwsgi', label: 'SCGI → uWSGI (C core, Python hello), TCP', backend: 'uwsgi', front: scgi },
    { id: 'ours-full-native', label: 'SCGI → ours, hello, store on, TCP, native I/O', backend: 'ours-full-native', front: scgi },
    { id: 'ours-full-node', label: 'SCGI → ours, hello, store on, TCP, node:net', backend: 'ours-full-node', front: scgi },
  ] },
  { id: 'unix', label: 'Hello listener, full path (store on), Unix socket', targets: [
    { id: 'uwsgi-unix', label: 'SCGI → uWSGI (C core, Python hello), Unix socket', backend: 'uwsgi-unix', front: scgi },
    { id: 'ours-unix-native', label: 'SCGI → ours, hello, store on, Unix socket, native I/O', backend: 'ours-unix-native', front: scgi },
    { id: 'ours-unix-node', label: 'SCGI → ours, hello, store on, Unix socket, node:net', backend: 'ours-unix-node', front: scgi },
  ] },
  { id: 'express', label: 'Express 5 hello (store on), TCP', targets: [
    { id: 'ours-express-native', label: 'SCGI → ours, Express 5 hello, store on, TCP, native I/O', backend: 'ours-express-native', front: scgi },
    { id: 'ours-express-node', label: 'SCGI → ours, Express 5 hello, store on, TCP, node:net', backend: 'ours-express-node', front: scgi },
  ] },
  { id: 'fetch', label: 'Fetch-handler hello (store on), TCP', targets: [
    { id: 'ours-fetch-native', label: 'SCGI → ours, fetch-handler hello, store on, TCP, native I/O', backend: 'ours-fetch-native', front: scgi },
    { id: 'ours-fetch-node', label: 'SCGI → ours, fetch-handler hello, store on, TCP, node:net', backend: 'ours-fetch-node', front: scgi },
  ] },
];

export interface OursSpec {
  app: 'hello-listener' | 'express-hello' | 'fetch-hello';
  type: 'node' | 'fetch' | 'auto';
  store: boolean;
  unix: boolean;
  /** Absent: SCGI, the default. */
  protocol?: 'http';
  /** Absent: the default (1); 0 runs the app in the supervisor's process. */
  workers?: number;
  /** Absent: the default ('auto': the native I/O core where it loads, else node:net). */
  io?: 'native' | 'node';
}

/** Our runtime's backends: which app, whether the timing store records, and how it listens. */
export const OURS: Record<Extract<BackendId, `ours-${string}`>, OursSpec> = {
  'ours-nostore': { app: 'hello-listener', type: 'node', store: false, unix: false },
  'ours-full': { app: 'hello-listener', type: 'node', store: true, unix: false },
  'ours-unix': { app: 'hello-listener', type: 'node', store: true, unix: true },
  'ours-express': { app: 'express-hello', type: 'auto', store: true, unix: false },
  'ours-fetch': { app: 'fetch-hello', type: 'fetch', store: true, unix: false },
  'ours-http': { app: 'hello-listener', type: 'node', store: true, unix: false, protocol: 'http', workers: 0 },
  'ours-http-unix': { app: 'hello-listener', type: 'node', store: true, unix: true, protocol: 'http', workers: 0 },
  'ours-http-w1': { app: 'hello-listener', type: 'node', store: true, unix: false, protocol: 'http', workers: 1 },
  'ours-full-w0': { app: 'hello-listener', type: 'node', store: true, unix: false, workers: 0 },
  'ours-http-nostore': { app: 'hello-listener', type: 'node', store: false, unix: false, protocol: 'http', workers: 0 },
  'ours-http-scratch': { app: 'hello-listener', type: 'node', store: true, unix: false, protocol: 'http', workers: 0 },
  'ours-scgi-scratch': { app: 'hello-listener', type: 'node', store: true, unix: false, workers: 0 },
  'ours-full-native': { app: 'hello-listener', type: 'node', store: true, unix: false, io: 'native' },
  'ours-full-node': { app: 'hello-listener', type: 'node', store: true, unix: false, io: 'node' },
  'ours-unix-native': { app: 'hello-listener', type: 'node', store: true, unix: true, io: 'native' },
  'ours-unix-node': { app: 'hello-listener', type: 'node', store: true, unix: true, io: 'node' },
  'ours-express-native': { app: 'express-hello', type: 'auto', store: true, unix: false, io: 'native' },
  'ours-express-node': { app: 'express-hello', type: 'auto', store: true, unix: false, io: 'node' },
  'ours-fetch-native': { app: 'fetch-hello', type: 'fetch', store: true, unix: false, io: 'native' },
  'ours-fetch-node': { app: 'fetch-hello', type: 'fetch', store: true, unix: false, io: 'node' },
};
