/**
 * @module stats-report
 * Builds the stats port's figures from the live state. Pure: values in, a Map of key -> value out;
 * shared/stats-format.ts turns it into sh. Keys and meanings follow the original's shell_stat, plus
 * the ones this project adds (threads, queued, rejected, errors, timeouts, aborted, percentiles).
 */
import { formatDuration } from '../../shared/duration.js';
import type { AppSnapshot } from '../../shared/runtime-control.js';
import type { AppStats } from '../host/app-stats.js';
import type { ReloadFigures } from '../supervisor/reload-queue.js';

/** An app's live snapshot plus the figures only the stats port derives (durations, percentiles). */
export interface AppState extends AppSnapshot {
  stats: AppStats;
  /** Apps with workers only: what `dragon-on-wheels reload` waits on. */
  reloads?: ReloadFigures;
  /** Apps with workers only: workers that could not be forked (EMFILE, EAGAIN, ENOMEM). */
  startFailures?: number;
  /** The working directory its code runs in (in-process: the supervisor's). */
  cwd?: string;
}

/** Stats-port keys (after `<app>_`) of an app's reload figures, read back by the reload command. */
export const RELOAD_KEYS = { started: 'reloads_started', finished: 'reloads', error: 'reload_error' } as const;

export interface ServerState {
  pid: number;
  version: string;
  startMs: number;
  nowMs: number;
  apps: readonly AppState[];
  store: { rows: number; dropped: number; errors: number } | null;
  /** Rows recorded by workers that died before delivering them (worker processes only). */
  storeLost?: number;
}

/** The original hid an app's derived figures until it had finished this many requests. */
const MIN_REQUESTS_FOR_FIGURES = 2;

export function buildStatsFigures(state: ServerState): Map<string, string | number> {
  const figures = new Map<string, string | number>();
  let requests = 0;
  let online = 0;
  for (const app of state.apps) {
    requests += app.requests;
    online += app.online;
    addAppFigures(figures, app);
  }
  const uptime = Math.floor((state.nowMs - state.startMs) / 1000);
  figures.set('pid', state.pid);
  // The process to signal (SIGHUP reloads, SIGTERM stops); the same as pid, named for scripts.
  figures.set('supervisor_pid', state.pid);
  figures.set('version', state.version);
  figures.set('start_time', (state.startMs / 1000).toFixed(2));
  figures.set('start_at_asctime', asctime(new Date(state.startMs)));
  figures.set('uptime', uptime);
  figures.set('uptime_str', formatDuration(uptime));
  figures.set('requests', requests);
  figures.set('online', online);
  figures.set('apps', state.apps.map((app) => app.name).join(' '));
  if (state.store) {
    figures.set('store_rows', state.store.rows);
    figures.set('store_dropped', state.store.dropped);
    figures.set('store_errors', state.store.errors);
    figures.set('store_lost', state.storeLost ?? 0);
  }
  return figures;
}

function addAppFigures(figures: Map<string, string | number>, app: AppState): void {
  const p = `${app.name}_`;
  const s = app.stats;
  figures.set(`${p}requests`, app.requests);
  figures.set(`${p}online`, app.online);
  figures.set(`${p}threads`, app.threads);
  figures.set(`${p}threads_mode`, app.threadsMode ?? 'fixed');
  if (app.threadsReason !== undefined) figures.set(`${p}threads_reason`, app.threadsReason);
  figures.set(`${p}queued`, app.queued);
  figures.set(`${p}rejected`, app.rejected);
  figures.set(`${p}errors`, app.errors);
  figures.set(`${p}timeouts`, app.timeouts);
  figures.set(`${p}aborted`, app.aborted);
  figures.set(`${p}bad_requests`, s.badRequests);
  figures.set(`${p}websockets`, s.websockets);
  figures.set(`${p}upgrades`, s.upgrades);
  figures.set(`${p}upgrades_refused`, s.upgradesRefused);
  figures.set(`${p}websockets_closed`, s.websocketsClosed);
  figures.set(`${p}listen`, app.listen);
  figures.set(`${p}mount`, app.mount);
  if (app.cwd !== undefined) figures.set(`${p}cwd`, app.cwd);
  figures.set(`${p}workers`, app.workers);
  figures.set(`${p}restarts`, app.restarts);
  figures.set(`${p}hangs`, app.hangs);
  figures.set(`${p}worker_pids`, app.workerPids.join(' '));
  figures.set(`${p}backoff_ms`, app.backoffMs);
  if (app.startFailures !== undefined) figures.set(`${p}start_failures`, app.startFailures);
  if (app.reloads) {
    figures.set(`${p}${RELOAD_KEYS.started}`, app.reloads.started);
    figures.set(`${p}${RELOAD_KEYS.finished}`, app.reloads.finished);
    figures.set(`${p}${RELOAD_KEYS.error}`, app.reloads.error);
  }
  if (s.requests < MIN_REQUESTS_FOR_FIGURES) {
    figures.set(`${p}error`, 'Not enough data');
    return;
  }
  figures.set(`${p}online_time`, s.onlineTime);
  figures.set(`${p}online_time_str`, formatDuration(s.onlineTime));
  figures.set(`${p}online_time_longest`, s.longest);
  figures.set(`${p}online_time_shortest`, s.shortest);
  figures.set(`${p}online_time_average`, s.average);
  figures.set(`${p}online_time_stddev`, s.stddev);
  figures.set(`${p}queue_time_average`, s.queueTime / s.requests);
  for (const [key, q] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]] as const) {
    figures.set(`${p}online_time_${key}`, s.percentile(q) ?? 0);
  }
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** C asctime() in local time without the newline: `Sat Jan  9 01:52:49 2016`. */
export function asctime(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    `${DAYS[date.getDay()]} ${MONTHS[date.getMonth()]} ${String(date.getDate()).padStart(2, ' ')} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())} ${date.getFullYear()}`
  );
}
