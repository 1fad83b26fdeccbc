/**
 * @module load-command
 * `dragon-on-wheels load`: a bounded SCGI load and smoke test straight to an app's port (no front
 * end), reporting throughput, status counts and latency percentiles. Loopback and Unix sockets
 * only: an app port must not be reachable from elsewhere anyway (SCGI trusts its peer).
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { formatListenAddress, isLoopback, parseListenAddress, type ListenAddress } from '../shared/listen-address.js';
import { encodeScgiRequest } from '../server/protocol/request-encoder.js';
import { UsageError } from './usage-error.js';

export interface LoadOptions {
  target: string;
  requests: number;
  concurrency: number;
  uri: string;
  method: string;
  maxSeconds: number;
}

export interface LoadResult {
  target: string;
  uri: string;
  concurrency: number;
  seconds: number;
  /** Per request, ms, sorted. */
  latencies: number[];
  /** Status code, or `error <code>` / `no status`, with its count. */
  statuses: Map<string, number>;
}

export const LOAD_DEFAULTS = { target: '127.0.0.1:9002', requests: 2000, concurrency: 16, uri: '/', method: 'GET', maxSeconds: 30 } as const;

/** Reads one option as a positive integer, naming it in the error. */
export function positiveInteger(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`--${name} must be a positive integer, not ${JSON.stringify(text)}`);
  return value;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const address = loadTarget(options.target);
  const payload = encodeScgiRequest({ method: options.method, uri: options.uri, env: address.kind === 'tcp' ? { SERVER_PORT: String(address.port) } : {} });
  const statuses = new Map<string, number>();
  const latencies: number[] = [];
  const concurrency = Math.min(options.concurrency, options.requests);
  const deadline = performance.now() + options.maxSeconds * 1000;
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < options.requests && performance.now() < deadline) {
      sent++;
      const started = performance.now();
      const status = await sendOne(address, payload);
      latencies.push(performance.now() - started);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  latencies.sort((a, b) => a - b);
  return { target: formatListenAddress(address), uri: options.uri, concurrency, seconds: (performance.now() - started) / 1000, latencies, statuses };
}

function loadTarget(text: string): Exclude<ListenAddress, { kind: 'systemd' }> {
  const address = parseListenAddress(text);
  if (address.kind === 'systemd') throw new UsageError('load takes host:port or unix:/path');
  if (address.kind === 'tcp' && !isLoopback(address.host)) {
    throw new UsageError(`refusing ${text}: load sends traffic to loopback addresses and Unix sockets only`);
  }
  return address;
}

/** One request on its own connection (SCGI's model); resolves with what the status line said. */
function sendOne(address: Exclude<ListenAddress, { kind: 'systemd' }>, payload: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket: Socket = address.kind === 'unix' ? connect(address.path) : connect(address.port, address.host);
    let head = '';
    let result: string | null = null;
    socket.on('data', (chunk: Buffer) => {
      if (head.length < 64) head += chunk.toString('latin1', 0, Math.min(chunk.length, 64));
    });
    socket.on('error', (err: NodeJS.ErrnoException) => (result ??= `error ${err.code ?? err.message}`));
    socket.on('close', () => resolve(result ?? /^Status: (\d{3})/.exec(head)?.[1] ?? 'no status'));
    // Written, not ended: a half-close after the request tells the server the client left.
    socket.write(payload);
  });
}

export function formatLoadResult(result: LoadResult): string {
  const { latencies } = result;
  const at = (q: number): string => (latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(2);
  const rate = result.seconds > 0 ? latencies.length / result.seconds : 0;
  return [
    `target ${result.target} ${result.uri}: ${latencies.length} requests in ${result.seconds.toFixed(2)} s at concurrency ${result.concurrency}`,
    `throughput ${rate.toFixed(0)} req/s; latency ms p50 ${at(0.5)} p95 ${at(0.95)} p99 ${at(0.99)} max ${at(1)}`,
    `statuses ${[...result.statuses].map(([status, count]) => `${status}=${count}`).join(' ')}`,
    '',
  ].join('\n');
}

/** Success means every request got a 2xx or 3xx. */
export function allSucceeded(result: LoadResult): boolean {
  return result.latencies.length > 0 && [...result.statuses.keys()].every((status) => /^[23]\d\d$/.test(status));
}
