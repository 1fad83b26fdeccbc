/**
 * @module fake-runtime
 * An in-memory RuntimeControl for dashboard tests: the figures the runtime would report, a
 * settable "down" switch, and a log of every setThreads call (so tests can assert that a bad
 * request changed nothing). The end-to-end tests use the real Server instead.
 */
import { errors } from '../../shared/errors.js';
import type { AppSnapshot, RuntimeControl, RuntimeSnapshot } from '../../shared/runtime-control.js';

export interface FakeRuntime extends RuntimeControl {
  apps: AppSnapshot[];
  calls: Array<{ app: string; threads: number; source: string }>;
  down: boolean;
  /** Called after each applied change, e.g. to write the audit row as the runtime would. */
  onChange?: (change: { app: string; oldThreads: number; newThreads: number; source: string }) => void;
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
    ...overrides,
  };
}

export function createFakeRuntime(apps: AppSnapshot[] = [fakeApp('shop'), fakeApp('blog_v2', { listen: '127.0.0.1:9001', threads: 2 })]): FakeRuntime {
  const startTimeMs = Date.now() - 93_784_000; // 1d 02h 03m 04s ago
  const runtime: FakeRuntime = {
    apps,
    calls: [],
    down: false,
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
  };
  return runtime;
}
