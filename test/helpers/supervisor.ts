/**
 * @module supervisor
 * Starts a real Supervisor (real worker processes, real sockets) on free loopback ports for the
 * worker-process tests, with apps from test/fixtures, and stops it in t.after.
 */
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AppSettings, RuntimeSettings, WorkerSettings } from '../../server/config/config.js';
import { DEFAULT_LIMITS } from '../../server/protocol/limits.js';
import { Supervisor } from '../../server/supervisor/supervisor.js';
import type { TimingRecorder } from '../../shared/timing-row.js';
import { parseStats } from '../../shared/stats-format.js';
import { captureLogs, toTarget } from './runtime.js';
import type { Target } from './scgi-client.js';

export const WORKER_APP = fileURLToPath(new URL('../fixtures/worker-app.mjs', import.meta.url));

export interface TestPoolApp extends Partial<WorkerSettings> {
  name: string;
  module?: string;
  threads?: number;
  queue?: number;
  queueTimeoutMs?: number;
  requestTimeoutMs?: number;
  listen?: string;
  mount?: string;
}

export interface RunningSupervisor {
  supervisor: Supervisor;
  targets: Map<string, Target>;
  stats: Target;
  logs: Array<Record<string, unknown>>;
  figures(): Promise<Map<string, string>>;
}

export function poolApp(app: TestPoolApp): AppSettings {
  return {
    listen: app.listen ?? '127.0.0.1:0',
    source: { kind: 'module', path: app.module ?? WORKER_APP, export: 'default', type: 'auto' },
    workers: { count: app.count ?? 1, hangTimeoutMs: app.hangTimeoutMs ?? 30_000, maxRequests: app.maxRequests ?? 0, maxMemoryMiB: app.maxMemoryMiB ?? 0 },
    options: {
      name: app.name,
      threads: app.threads ?? 10,
      queue: app.queue ?? 100,
      queueTimeoutMs: app.queueTimeoutMs ?? 10_000,
      requestTimeoutMs: app.requestTimeoutMs ?? 0,
      mount: app.mount ?? '',
    },
  };
}

export async function startSupervisor(
  t: TestContext,
  apps: Array<TestPoolApp | AppSettings>,
  options: { recorder?: TimingRecorder | null; drainTimeoutMs?: number; flushIntervalMs?: number; metrics?: boolean; routeLabel?: boolean; workerLogFile?: string } = {},
): Promise<RunningSupervisor> {
  const { logs, logger } = captureLogs();
  const settings: RuntimeSettings = {
    apps: apps.map((app) => ('options' in app ? app : poolApp(app))),
    stats: '127.0.0.1:0',
    ...(options.metrics ? { metrics: '127.0.0.1:0', ...(options.routeLabel ? { metricsRouteLabel: true } : {}) } : {}),
    limits: { ...DEFAULT_LIMITS },
    drainTimeoutMs: options.drainTimeoutMs ?? 5000,
    // Workers log to the test's stdout (or workerLogFile); the supervisor's own lines are captured here.
    log: { level: 'warn', format: 'json', ...(options.workerLogFile === undefined ? {} : { file: options.workerLogFile }) },
    store: options.recorder ? { path: 'unused: the recorder is given', recordPaths: true, retention: {}, flushIntervalMs: options.flushIntervalMs ?? 50 } : null,
    dashboard: null,
    persistLimits: false,
  };
  const supervisor = new Supervisor(settings, logger, options.recorder ?? null);
  await supervisor.start();
  t.after(() => supervisor.stop(0));
  const targets = new Map<string, Target>();
  settings.apps.forEach((app, i) => targets.set(app.options.name, toTarget(supervisor.addresses[i] as string)));
  return {
    supervisor,
    targets,
    stats: toTarget(supervisor.addresses[apps.length] as string),
    logs,
    figures: async () => parseStats(await supervisor.statsText()),
  };
}
