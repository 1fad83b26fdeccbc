/**
 * @module metrics-server
 * The metrics listener (config `metrics`): GET /metrics for Prometheus, /healthz and /readyz for
 * load balancers and orchestrators. Plain node:http in the supervisor, so it answers while an
 * app's worker hangs; three read-only routes need no framework.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { formatListenAddress, parseListenAddress } from '../../shared/listen-address.js';
import { DEFAULT_SOCKET_MODE, listenOn } from '../listen/listen-address.js';
import { LogThrottle } from '../logs/log-throttle.js';
import { CONTENT_TYPES, formatFamilies, negotiateFormat } from './exposition.js';
import { buildFamilies, type MetricsSnapshot } from './families.js';
import type { Readiness } from './health.js';
import { processFamilies } from './process-metrics.js';

export interface MetricsSource {
  /** Fresh merged figures: the same path as the stats port's, so their counters agree. */
  metricsSnapshot(): Promise<MetricsSnapshot>;
  /** From facts already at hand: no worker round trip, so it can be polled every second. */
  readiness(): Readiness;
  readonly startMs: number;
}

export interface RunningMetricsServer {
  address: string;
  close(): Promise<void>;
}

/*
 * What one scraper may hold. The listener runs in the supervisor, sharing its descriptor table
 * with every app's listening socket and the fork of every worker: 300 idle connections under
 * `nofile` 256 made a worker's replacement fail to start. As on the dashboard:
 *
 *   accept ─► over maxConnections? closed at once (Node's server.maxConnections)
 *          ─► headers within headersTimeoutMs, whole request within requestTimeoutMs
 *          ─► silent socket: ended after idleTimeoutMs; between requests after keepAliveTimeoutMs
 */
export interface MetricsConnectionLimits {
  maxConnections: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export const METRICS_CONNECTION_LIMITS: Readonly<MetricsConnectionLimits> = {
  /** A few scrapers and probes (Prometheus, a load balancer, kubelet); far below any fd limit. */
  maxConnections: 64,
  headersTimeoutMs: 5_000,
  /** A scraper that stalls mid-request must not hold a socket for long. */
  requestTimeoutMs: 10_000,
  idleTimeoutMs: 15_000,
  /**
   * Prometheus keeps its connection between scrapes (15 s or more apart); it reconnects when this
   * ends one, which costs it a handshake, not a failed scrape.
   */
  keepAliveTimeoutMs: 5_000,
};

/** Node checks the header and request timeouts on this interval (30 s by default). */
const CONNECTIONS_CHECK_INTERVAL_MS = 1_000;
const ACCEPT_ERROR_LOG_INTERVAL_MS = 1_000;

export async function startMetricsServer(
  listen: string,
  source: MetricsSource,
  log: Logger,
  limits: MetricsConnectionLimits = METRICS_CONNECTION_LIMITS,
): Promise<RunningMetricsServer> {
  const server = createServer({
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(CONNECTIONS_CHECK_INTERVAL_MS, limits.headersTimeoutMs),
  }, (req, res) => {
    route(req, res, source).catch((err: unknown) => {
      log.error({ err }, `metrics listener: ${req.url}: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'cannot build the metrics\n');
      else res.destroy();
    });
  });
  server.maxConnections = limits.maxConnections;
  // A socket with nothing read or written (node:http destroys it: no 'timeout' listener).
  server.timeout = limits.idleTimeoutMs;
  const address = formatListenAddress(await listenOn(server, parseListenAddress(listen), DEFAULT_SOCKET_MODE));
  // After listen, errors are failed accepts (EMFILE under a connection flood): one line a second.
  const throttle = new LogThrottle(ACCEPT_ERROR_LOG_INTERVAL_MS);
  server.on('error', (err) => {
    const left = throttle.take(performance.now());
    if (left !== null) log.error({ err }, `metrics listener ${address}: ${err.message}${left > 0 ? ` (${left} more not logged)` : ''}`);
  });
  return {
    address,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Prometheus keeps its connection open between scrapes.
      server.closeAllConnections();
    }),
  };
}

async function route(req: IncomingMessage, res: ServerResponse, source: MetricsSource): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics' && path !== '/healthz' && path !== '/readyz') {
    return send(res, 404, 'text/plain; charset=utf-8', 'not found: try /metrics, /healthz or /readyz\n');
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  }
  if (path === '/healthz') {
    // The supervisor's event loop answered: that is what alive means here.
    return sendJson(res, 200, { status: 'alive', pid: process.pid, uptimeS: Math.floor((Date.now() - source.startMs) / 1000) });
  }
  if (path === '/readyz') {
    const r = source.readiness();
    return sendJson(res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', ...r });
  }
  const format = negotiateFormat(req.headers.accept);
  const snapshot = await source.metricsSnapshot();
  // The supervisor's own process metrics close the text; OpenMetrics ends with the `# EOF` line.
  const body = formatFamilies([...buildFamilies(snapshot), ...processFamilies()], format) + (format === 'openmetrics' ? '# EOF\n' : '');
  send(res, 200, CONTENT_TYPES[format], body, req.method === 'HEAD');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`, res.req.method === 'HEAD');
}

function send(res: ServerResponse, status: number, type: string, body: string, headOnly = false): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(headOnly ? undefined : body);
}
