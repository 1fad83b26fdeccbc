/**
 * @module reload-command
 * `dragon-on-wheels reload`: sends the supervisor SIGHUP and waits, like `systemctl reload`, for
 * each app's outcome, read from the stats port: a reload covers the command once one that started
 * after its first read of the port has ended (an app's reloads end in the order they start).
 */
import { errors } from '../shared/errors.js';
import { RELOAD_KEYS } from '../server/metrics/stats-report.js';
import { UsageError } from './usage-error.js';

/** Long enough for a slow app load (a worker may take 60 s to start) and a drain after it. */
export const RELOAD_DEFAULTS = { maxSeconds: 180 } as const;
const POLL_MS = 200;

export interface ReloadCommandOptions {
  /** The stats port's figures, parsed (parseStats). */
  readFigures(): Promise<Map<string, string>>;
  /** Sends SIGHUP; called once, after the first read. */
  signal(pid: number): void;
  /** Called once the signal is sent, before the wait. */
  onSignalled?(pid: number): void;
  timeoutMs: number;
  pollMs?: number;
}

export type AppReloadOutcome =
  | { app: string; outcome: 'reloaded'; workerPids: string }
  | { app: string; outcome: 'failed'; error: string }
  /** An in-process app (workers: 0), which SIGHUP does not reload. */
  | { app: string; outcome: 'not reloadable' }
  | { app: string; outcome: 'no answer' };

export interface ReloadReport {
  pid: number;
  apps: AppReloadOutcome[];
  timeoutMs: number;
}

export async function runReload(o: ReloadCommandOptions): Promise<ReloadReport> {
  const before = await o.readFigures();
  const pid = Number(before.get('supervisor_pid'));
  if (!Number.isInteger(pid) || pid <= 0) throw new UsageError('the stats port names no supervisor_pid');
  const apps = (before.get('apps') ?? '').split(' ').filter(Boolean);
  // What had started before the signal; the first reload after it covers this command.
  const baseline = new Map<string, number>();
  const outcomes = new Map<string, AppReloadOutcome>();
  for (const app of apps) {
    const started = before.get(`${app}_${RELOAD_KEYS.started}`);
    if (started === undefined) outcomes.set(app, { app, outcome: 'not reloadable' });
    else baseline.set(app, Number(started));
  }
  o.signal(pid);
  o.onSignalled?.(pid);
  const deadline = performance.now() + o.timeoutMs;
  while (baseline.size > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, o.pollMs ?? POLL_MS));
    let figures: Map<string, string>;
    try {
      figures = await o.readFigures();
    } catch (err) {
      // A busy server may miss one read; one that is gone never answers again.
      if (!isAlive(pid)) throw new errors.DOW_ERR_RUNTIME_UNREACHABLE(`the server (pid ${pid}) exited before its apps had reloaded`);
      continue;
    }
    const now = Number(figures.get('supervisor_pid'));
    if (now !== pid) throw new errors.DOW_ERR_RUNTIME_UNREACHABLE(`another server (pid ${now}) answers on the stats port now, not pid ${pid}`);
    for (const [app, started] of baseline) {
      if (Number(figures.get(`${app}_${RELOAD_KEYS.finished}`)) <= started) continue;
      const error = figures.get(`${app}_${RELOAD_KEYS.error}`) ?? '';
      outcomes.set(app, error === ''
        ? { app, outcome: 'reloaded', workerPids: figures.get(`${app}_worker_pids`) ?? '' }
        : { app, outcome: 'failed', error });
      baseline.delete(app);
    }
  }
  for (const app of baseline.keys()) outcomes.set(app, { app, outcome: 'no answer' });
  return { pid, apps: apps.map((app) => outcomes.get(app) as AppReloadOutcome), timeoutMs: o.timeoutMs };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** stdout for the apps that reloaded, stderr (one line each) for the others; exit 1 unless all did. */
export function formatReloadReport(report: ReloadReport): { stdout: string; stderr: string; code: number } {
  let stdout = '';
  let stderr = '';
  for (const a of report.apps) {
    if (a.outcome === 'reloaded') stdout += `${a.app}: reloaded, workers ${a.workerPids}\n`;
    else if (a.outcome === 'failed') stderr += `dragon-on-wheels: ${a.app}: DOW_ERR_RELOAD: ${a.error} (the old workers go on serving)\n`;
    else if (a.outcome === 'not reloadable') stderr += `dragon-on-wheels: ${a.app}: not reloaded: it runs in-process (workers: 0); restart the server for new code\n`;
    else stderr += `dragon-on-wheels: ${a.app}: no outcome within ${Math.round(report.timeoutMs / 1000)} s; the reload may still be running (the server's log says when it ends)\n`;
  }
  return { stdout, stderr, code: report.apps.every((a) => a.outcome === 'reloaded') ? 0 : 1 };
}
