/**
 * @module metrics-server
 * The metrics listener (config `metrics`): GET /metrics for Prometheus, /healthz and /readyz for
 * load balancers and orchestrators. Plain node:http in the supervisor, so it answers while an
 * app's worker hangs; three read-only routes need no framework.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { formatListenAddress, parseListenAddress } from '../../shared/listen-address.js';
import { listenOn } from '../listen-address.js';
import { CONTENT_TYPES, formatFamilies, negotiateFormat } from './exposition.js';
import { buildFamilies, type MetricsSnapshot } from './families.js';
import type { Readiness } from './health.js';
import { processMetricsText } from './process-metrics.js';

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

const SOCKET_MODE = 0o660;

export async function startMetricsServer(listen: string, source: MetricsSource, log: Logger): Promise<RunningMetricsServer> {
  const server = createServer((req, res) => {
    route(req, res, source).catch((err: unknown) => {
      log.error({ err }, `metrics listener: ${req.url}: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'cannot build the metrics\n');
      else res.destroy();
    });
  });
  // A scraper that stalls mid-request must not hold a socket for long.
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  const address = formatListenAddress(await listenOn(server, parseListenAddress(listen), SOCKET_MODE));
  server.on('error', (err) => log.error({ err }, `metrics listener ${address}: ${err.message}`));
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
  // The process metrics close the text: in OpenMetrics they end with the `# EOF` line.
  const body = formatFamilies(buildFamilies(snapshot), format) + (await processMetricsText(format));
  send(res, 200, CONTENT_TYPES[format], body, req.method === 'HEAD');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`, res.req.method === 'HEAD');
}

function send(res: ServerResponse, status: number, type: string, body: string, headOnly = false): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(headOnly ? undefined : body);
}
