/**
 * @module metrics
 * For the metrics-listener tests: a real Supervisor with the listener on a free port (worker
 * pools and in-process apps side by side), an HTTP GET against it, and a parser for the text format.
 */
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AppSettings } from '../../server/config/config.js';
import type { TimingRecorder } from '../../shared/timing-row.js';
import { startSupervisor, type RunningSupervisor, type TestPoolApp } from './supervisor.js';

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

export interface MetricsRuntime extends RunningSupervisor {
  /** http://127.0.0.1:port of the metrics listener. */
  base: string;
}

export async function startMetricsSupervisor(
  t: TestContext,
  apps: Array<TestPoolApp | AppSettings>,
  options: { recorder?: (TimingRecorder & { health?(): { writable: boolean; reason: string } }) | null; routeLabel?: boolean } = {},
): Promise<MetricsRuntime> {
  const withStatusApp = apps.map((app) => ('options' in app ? app : { module: STATUS_APP, ...app }));
  const rt = await startSupervisor(t, withStatusApp, { ...options, metrics: true, drainTimeoutMs: 2000 });
  return { ...rt, base: `http://${rt.supervisor.metricsAddress}` };
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
