/**
 * @module metrics
 * For the metrics-listener tests: a real Supervisor with the listener on a free port (worker
 * pools and in-process apps side by side), an HTTP GET against it, and a parser for the text format.
 */
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AppSettings, RuntimeSettings } from '../../server/config.js';
import { DEFAULT_LIMITS } from '../../server/protocol/limits.js';
import { Supervisor } from '../../server/supervisor/supervisor.js';
import type { TimingRecorder } from '../../shared/timing-row.js';
import { parseStats } from '../../shared/stats-format.js';
import { captureLogs, toTarget } from './runtime.js';
import type { Target } from './scgi-client.js';
import { poolApp, type TestPoolApp } from './supervisor.js';

export const STATUS_APP = fileURLToPath(new URL('../fixtures/status-app.mjs', import.meta.url));

/** An in-process app (workers: 0) answering 200, or the status in ?code=. */
export function inlineApp(name: string): AppSettings {
  return {
    listen: '127.0.0.1:0',
    workers: { count: 0, hangTimeoutMs: 0, maxRequests: 0, maxMemoryMiB: 0 },
    options: {
      name,
      handler: {
        type: 'node',
        listener: (req, res) => {
          res.statusCode = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('code') ?? '200');
          res.end('inline\n');
        },
      },
      threads: 4,
      queue: 10,
      queueTimeoutMs: 10_000,
      requestTimeoutMs: 0,
      mount: '',
    },
  };
}

export interface MetricsRuntime {
  supervisor: Supervisor;
  targets: Map<string, Target>;
  /** http://127.0.0.1:port of the metrics listener. */
  base: string;
  logs: Array<Record<string, unknown>>;
  figures(): Promise<Map<string, string>>;
}

export async function startMetricsSupervisor(
  t: TestContext,
  apps: Array<TestPoolApp | AppSettings>,
  options: { recorder?: (TimingRecorder & { health?(): { writable: boolean; reason: string } }) | null } = {},
): Promise<MetricsRuntime> {
  const { logs, logger } = captureLogs();
  const settings: RuntimeSettings = {
    apps: apps.map((app) => ('options' in app ? app : poolApp({ module: STATUS_APP, ...app }))),
    stats: '127.0.0.1:0',
    metrics: '127.0.0.1:0',
    limits: { ...DEFAULT_LIMITS },
    drainTimeoutMs: 2000,
    log: { level: 'warn', format: 'json' },
    store: options.recorder ? { path: 'unused: the recorder is given', recordPaths: true, retention: {}, flushIntervalMs: 50 } : null,
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
    base: `http://${supervisor.metricsAddress}`,
    logs,
    figures: async () => parseStats(await supervisor.statsText()),
  };
}

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Sample lines of the text format (0.0.4 or OpenMetrics); comments skipped. Labels without escapes. */
export function parseSamples(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) labels[pair[1] as string] = pair[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample with this name and (at least) these labels. */
export function sampleValue(samples: PromSample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name}${JSON.stringify(labels)}`);
  return (found[0] as PromSample).value;
}
