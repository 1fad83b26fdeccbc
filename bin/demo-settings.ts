/**
 * @module demo-settings
 * `dragon-on-wheels demo`: the original's demo on the same ports and names - two apps on 9002
 * (thread limit 10) and 9003 (thread limit 2), stats on 9004 - plus what this project adds: the
 * timing store in ./dragon-on-wheels.db, the dashboard on 127.0.0.1:9100, Prometheus metrics and
 * health checks on 127.0.0.1:9101, a worker process per app under the supervisor, and a third app
 * on 9005 that speaks HTTP/1.1 (`protocol: 'http'`), for `curl` without a front end.
 */
import { resolve } from 'node:path';
import { DEFAULTS, type RuntimeSettings } from '../server/config/config.js';
import { DEFAULT_LIMITS } from '../server/protocol/limits.js';

export function demoSettings(cwd: string): RuntimeSettings {
  const app = (port: number, threads: number, protocol: 'scgi' | 'http' = 'scgi') => {
    const name = `${protocol === 'http' ? 'Http' : 'Server'}_on_port_${port}`;
    return {
      listen: `127.0.0.1:${port}`,
      // Each demo app in its own worker process, as a served config runs by default.
      source: { kind: 'demo' as const },
      workers: { count: DEFAULTS.workers, hangTimeoutMs: DEFAULTS.hangTimeoutMs, maxRequests: 0, maxMemoryMiB: 0 },
      options: {
        name,
        threads,
        queue: DEFAULTS.queue,
        queueTimeoutMs: DEFAULTS.queueTimeoutMs,
        requestTimeoutMs: DEFAULTS.requestTimeoutMs,
        mount: '',
        ...(protocol === 'http' ? { protocol } : {}),
      },
    };
  };
  return {
    apps: [app(9002, 10), app(9003, 2), app(9005, 10, 'http')],
    stats: DEFAULTS.stats,
    metrics: DEFAULTS.metrics,
    limits: { ...DEFAULT_LIMITS },
    drainTimeoutMs: DEFAULTS.drainTimeoutMs,
    // Readable on a terminal, JSON lines when piped (as `serve`).
    log: { level: 'info', format: 'auto' },
    store: { path: resolve(cwd, DEFAULTS.storePath), recordPaths: true, retention: {} },
    dashboard: { listen: DEFAULTS.dashboardListen },
    persistLimits: false,
  };
}
