/**
 * @module view-model
 * Pure builders of the API's payloads from a runtime snapshot and the timing store's summaries,
 * shared by the JSON routes and the event stream so that both always say the same thing.
 */
import { formatDuration } from '../shared/duration.js';
import type { HistoryReader, WindowSummary } from '../shared/history.js';
import type { AppSnapshot } from '../shared/runtime-control.js';
import { guardHistory } from './history-guard.js';
import type { SnapshotState } from './snapshot-source.js';

/** The cards' "recent" figures cover this window (p50/p95/p99 over 5 min). */
export const RECENT_WINDOW_MS = 5 * 60_000;

export interface Overview {
  reachable: boolean;
  error: string | null;
  checkedAtMs: number;
  version: string | null;
  pid: number | null;
  startTimeMs: number | null;
  uptimeS: number | null;
  uptimeStr: string | null;
  requests: number | null;
  online: number | null;
  appCount: number | null;
  history: boolean;
}

export interface RecentFigures extends Omit<WindowSummary, 'app' | 'fromMs' | 'toMs'> {
  windowMs: number;
}

export interface AppCard extends Omit<AppSnapshot, never> {
  recent: RecentFigures | null;
}

export interface AppsView {
  reachable: boolean;
  checkedAtMs: number;
  apps: AppCard[];
  /** Why the timing store could not be read (every `recent` is then null); null when it was. */
  historyUnavailable: string | null;
}

export function buildOverview(state: SnapshotState, hasHistory: boolean): Overview {
  const s = state.snapshot;
  return {
    reachable: state.reachable,
    error: state.error,
    checkedAtMs: state.checkedAtMs,
    version: s?.version ?? null,
    pid: s?.pid ?? null,
    startTimeMs: s?.startTimeMs ?? null,
    uptimeS: s?.uptimeS ?? null,
    uptimeStr: s ? formatDuration(s.uptimeS) : null,
    requests: s?.requests ?? null,
    online: s?.online ?? null,
    appCount: s ? s.apps.length : null,
    history: hasHistory,
  };
}

export function buildApps(state: SnapshotState, history: HistoryReader | null, nowMs: number): AppsView {
  // Unreachable: the apps last seen, so their cards and the charts from the timing store stay
  // (the page marks the live figures stale).
  const known = state.snapshot?.apps ?? state.lastGood?.apps ?? [];
  // The live figures come from the runtime: a store that cannot be read only empties `recent`.
  // After the first failure the other apps' reads would fail the same way, so they are skipped.
  let historyUnavailable: string | null = null;
  const apps = known.map((app) => {
    if (historyUnavailable !== null) return { ...app, recent: null };
    const read = guardHistory(() => recentFigures(history, app.name, nowMs), () => null);
    historyUnavailable = read.unavailable;
    return { ...app, recent: read.value };
  });
  return { reachable: state.reachable, checkedAtMs: state.checkedAtMs, apps, historyUnavailable };
}

function recentFigures(history: HistoryReader | null, app: string, nowMs: number): RecentFigures | null {
  if (history === null) return null;
  // The rate is over the time the store was recording (history-reader, instances.ts), which
  // tells a fresh run from a restart over an old run's rows; this process's uptime does not
  // (it could show 2,825 req/s beside `requests 0`).
  const { app: _app, fromMs: _from, toMs: _to, ...figures } = history.summary(app, nowMs - RECENT_WINDOW_MS, nowMs);
  return { windowMs: RECENT_WINDOW_MS, ...figures };
}
