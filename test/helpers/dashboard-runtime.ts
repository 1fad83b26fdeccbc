/**
 * @module dashboard-runtime
 * The real runtime as `serve` wires it, for a test of the dashboard or its API: the given apps, a
 * timing store in the test's folder, the dashboard on a free loopback port (with a token where
 * given), the stats port where asked; closed when the test ends.
 */
import type { TestContext } from 'node:test';
import { join } from 'node:path';
import { pino } from 'pino';
import { startRuntime, type RuntimeHandle } from '../../bin/start-runtime.js';
import type { AppSettings } from '../../server/config/config.js';
import { DEFAULT_LIMITS } from '../../server/protocol/limits.js';
import { testDir } from './temp-dir.js';

export interface DashboardRuntimeOptions {
  /** The stats port's loopback port; none by default. */
  statsPort?: number;
  drainTimeoutMs?: number;
  flushIntervalMs?: number;
  /** The dashboard's admin token; otherwise it makes one. */
  token?: string;
}

export async function startDashboardRuntime(t: TestContext, name: string, apps: AppSettings[], options: DashboardRuntimeOptions = {}): Promise<RuntimeHandle> {
  const dir = await testDir(t, name);
  const runtime = await startRuntime({
    apps,
    stats: options.statsPort === undefined ? null : `127.0.0.1:${options.statsPort}`,
    limits: { ...DEFAULT_LIMITS },
    drainTimeoutMs: options.drainTimeoutMs ?? 1000,
    log: { level: 'silent', format: 'json' },
    store: { path: join(dir, 'timings.db'), recordPaths: true, retention: {}, flushIntervalMs: options.flushIntervalMs ?? 50 },
    dashboard: { listen: '127.0.0.1:0', ...(options.token === undefined ? {} : { token: options.token }) },
    persistLimits: false,
  }, pino({ level: 'silent' }));
  t.after(() => runtime.close());
  return runtime;
}
