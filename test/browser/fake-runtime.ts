/**
 * @module fake-runtime
 * An in-memory RuntimeControl for dashboard tests: the figures the runtime would report, a
 * settable "down" switch, and a log of every setThreads, reload and setWorkers call (so tests can assert that
 * a bad request changed nothing). The end-to-end tests use the real Server instead.
 */
import { errors } from '../../shared/errors.js';
import type { AppSnapshot, ReloadResult, RuntimeControl, RuntimeSnapshot } from '../../shared/runtime-control.js';

/** What the fake takes for a reload, however many workers: the figure a page shows as "took". */
export const FAKE_RELOAD_MS = 850;

export interface FakeRuntime extends RuntimeControl {
  apps: AppSnapshot[];
  calls: Array<{ app: string; threads: number; source: string }>;
  reloads: Array<{ app: string; source: string }>;
  scales: Array<{ app: string; workers: number; source: string }>;
  down: boolean;
  /** Set to make reloads fail as a runtime does when the new code does not load. */
  reloadError: Error | null;
  /** Called after each applied change, e.g. to write the audit row as the runtime would. */
  onChange?: (change: { app: string; oldThreads: number; newThreads: number; source: string }) => void;
  /** Called after each reload, e.g. to write the `reload` event as the runtime would. */
  onReload?: (result: ReloadResult & { source: string }) => void;
}

export function fakeApp(name: string, overrides: Partial<AppSnapshot> = {}): AppSnapshot {
  return {
    name,
    listen: '127.0.0.1:9000',
    mount: '/',
    threads: 4,
    online: 1,
    queued: 0,
    requests: 1234,
    rejected: 2,
    errors: 3,
    timeouts: 1,
    aborted: 0,
    workers: 2,
    restarts: 0,
    hangs: 0,
    workerPids: [5001, 5002],
    backoffMs: 0,
    websockets: 0,
    upgrades: 0,
    ...overrides,
  };
}

/** An app that runs inside the runtime's own process (`workers: 0`): no pids, no reload. */
export const IN_PROCESS: Partial<AppSnapshot> = { workers: 0, workerPids: [], restarts: 0, hangs: 0, backoffMs: 0 };

export function createFakeRuntime(
  apps: AppSnapshot[] = [fakeApp('shop'), fakeApp('blog_v2', { listen: '127.0.0.1:9001', threads: 2, ...IN_PROCESS })],
): FakeRuntime {
  const startTimeMs = Date.now() - 93_784_000; // 1d 02h 03m 04s ago
  let nextPid = 6001;
  const runtime: FakeRuntime = {
    apps,
    calls: [],
    reloads: [],
    scales: [],
    down: false,
    reloadError: null,
    async snapshot(): Promise<RuntimeSnapshot> {
      if (runtime.down) throw new errors.DOW_ERR_RUNTIME_UNREACHABLE('stats port 127.0.0.1:1: connect ECONNREFUSED');
      const current = runtime.apps.map((a) => ({ ...a }));
      return {
        version: '2.0.0',
        pid: 4242,
        startTimeMs,
        uptimeS: (Date.now() - startTimeMs) / 1000,
        requests: current.reduce((n, a) => n + a.requests, 0),
        online: current.reduce((n, a) => n + a.online, 0),
        apps: current,
      };
    },
    async setThreads(app, threads, source) {
      if (runtime.down) throw new errors.DOW_ERR_RUNTIME_UNREACHABLE('down');
      const target = runtime.apps.find((a) => a.name === app);
      if (!target) throw new errors.DOW_ERR_UNKNOWN_APP(app);
      runtime.calls.push({ app, threads, source });
      const oldThreads = target.threads;
      target.threads = threads;
      runtime.onChange?.({ app, oldThreads, newThreads: threads, source });
      return { app, oldThreads, newThreads: threads };
    },
    async reload(app, source) {
      if (runtime.down) throw new errors.DOW_ERR_RUNTIME_UNREACHABLE('down');
      const target = runtime.apps.find((a) => a.name === app);
      if (!target) throw new errors.DOW_ERR_UNKNOWN_APP(app);
      runtime.reloads.push({ app, source });
      if (target.workers === 0 && target.backoffMs === 0) {
        throw new errors.DOW_ERR_RELOAD(app, 'it runs in-process (workers: 0); restart the server to load new code');
      }
      if (runtime.reloadError) throw runtime.reloadError;
      const oldPids = target.workerPids;
      const newPids = Array.from({ length: Math.max(target.workers, 1) }, () => nextPid++);
      Object.assign(target, { workerPids: newPids, workers: newPids.length, backoffMs: 0 });
      const result = { app, oldPids, newPids, tookMs: FAKE_RELOAD_MS };
      runtime.onReload?.({ ...result, source });
      return result;
    },
    async setWorkers(app, workers, source) {
      if (runtime.down) throw new errors.DOW_ERR_RUNTIME_UNREACHABLE('down');
      const target = runtime.apps.find((a) => a.name === app);
      if (!target) throw new errors.DOW_ERR_UNKNOWN_APP(app);
      runtime.scales.push({ app, workers, source });
      if (target.workers === 0) throw new errors.DOW_ERR_SCALE(app, 'it runs in-process (workers: 0)');
      const oldWorkers = target.workers;
      const startedPids = Array.from({ length: Math.max(0, workers - oldWorkers) }, () => nextPid++);
      const stoppedPids = target.workerPids.slice(workers);
      Object.assign(target, { workers, workerPids: [...target.workerPids.slice(0, workers), ...startedPids] });
      return { app, oldWorkers, newWorkers: workers, startedPids, stoppedPids, tookMs: FAKE_RELOAD_MS };
    },
  };
  return runtime;
}
