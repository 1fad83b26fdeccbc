/**
 * @module runtime-summary
 * What the in-process Server and the supervisor do alike for RuntimeControl: the whole-runtime
 * snapshot from per-app snapshots, and an audited thread-limit change.
 */
import type { Logger } from 'pino';
import type { AppSnapshot, RuntimeSnapshot } from '../../shared/runtime-control.js';
import type { TimingRecorder } from '../../shared/timing-row.js';
import { VERSION } from '../core/version.js';

export function runtimeSnapshot(apps: AppSnapshot[], startMs: number): RuntimeSnapshot {
  let requests = 0;
  let online = 0;
  for (const app of apps) {
    requests += app.requests;
    online += app.online;
  }
  return { version: VERSION, pid: process.pid, startTimeMs: startMs, uptimeS: Math.floor((Date.now() - startMs) / 1000), requests, online, apps };
}

/** Applies a limit (already checked), then logs and audits it with who asked. */
export function changeThreads(
  target: { readonly threads: number; setThreads(threads: number): void },
  change: { app: string; threads: number; source: string },
  log: Logger,
  recorder: TimingRecorder | null,
): { app: string; oldThreads: number; newThreads: number } {
  const { app, threads, source } = change;
  const oldThreads = target.threads;
  target.setThreads(threads);
  log.info({ app, oldThreads, newThreads: threads, source }, `${app}: threads ${oldThreads} -> ${threads} (${source})`);
  recorder?.recordLimitChange({ app, atMs: Date.now(), oldThreads, newThreads: threads, source });
  return { app, oldThreads, newThreads: threads };
}
