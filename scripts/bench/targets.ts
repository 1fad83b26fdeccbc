/**
 * @module targets
 * What the benchmark compares, in the order it runs them each round (A B C … A B C …): the
 * backend processes and, per target, which backend nginx reaches and how. Pure data.
 */
import type { Front } from './nginx.js';

export type BackendId = 'floor' | 'node-http' | 'uwsgi' | 'ours-nostore' | 'ours-full' | 'ours-unix' | 'ours-express' | 'ours-fetch';

export type TargetId = 'nginx-return' | 'floor' | 'proxy-http10' | 'proxy-keepalive' | 'uwsgi' | Exclude<BackendId, 'floor' | 'node-http' | 'uwsgi'>;

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

/** Our runtime's backends: which app and whether the timing store records. */
export const OURS: Record<Extract<BackendId, `ours-${string}`>, { app: 'hello-listener' | 'express-hello' | 'fetch-hello'; type: 'node' | 'fetch' | 'auto'; store: boolean; unix: boolean }> = {
  'ours-nostore': { app: 'hello-listener', type: 'node', store: false, unix: false },
  'ours-full': { app: 'hello-listener', type: 'node', store: true, unix: false },
  'ours-unix': { app: 'hello-listener', type: 'node', store: true, unix: true },
  'ours-express': { app: 'express-hello', type: 'auto', store: true, unix: false },
  'ours-fetch': { app: 'fetch-hello', type: 'fetch', store: true, unix: false },
};
