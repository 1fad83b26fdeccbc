/**
 * @module demo-settings
 * `dragon-on-wheels demo`: the original's demo on the same ports and names - two apps on 9002
 * (thread limit 10) and 9003 (thread limit 2), stats on 9004 - plus what this project adds: the
 * timing store in ./dragon-on-wheels.db, the dashboard on 127.0.0.1:9100, Prometheus metrics and
 * health checks on 127.0.0.1:9101, and a worker process
 * per app under the supervisor.
 */
import { resolve } from 'node:path';
import { DEFAULTS, type RuntimeSettings } from '../server/config.js';
import { DEFAULT_LIMITS } from '../server/protocol/limits.js';

export function demoSettings(cwd: string): RuntimeSettings {
  const app = (port: number, threads: number) => {
    const name = `Server_on_port_${port}`;
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
      },
    };
  };
  return {
    apps: [app(9002, 10), app(9003, 2)],
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
