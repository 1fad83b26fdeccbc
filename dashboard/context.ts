/**
 * @module context
 * What the dashboard's routes share: the runtime, the history, the snapshot cache and the
 * fallback audit logs. Built once in app.ts and passed to each route module.
 */
import { errors } from '../shared/errors.js';
import type { AuditEntry, EventEntry, EventQuery, HistoryReader } from '../shared/history.js';
import type { RuntimeControl } from '../shared/runtime-control.js';
import { guardHistory, type Guarded, type HistoryHealth } from './history-guard.js';
import type { LocalAudit, LocalEvents } from './local-audit.js';
import type { SnapshotSource } from './snapshot-source.js';

export interface DashboardContext {
  control: RuntimeControl;
  history: HistoryReader | null;
  /** Logs (rate-limited) why the store could not answer an answer's history reads. */
  historyHealth: HistoryHealth;
  snapshots: SnapshotSource;
  localAudit: LocalAudit;
  /** Reloads made through this dashboard, when there is no store for the runtime to write them to. */
  localEvents: LocalEvents;
  now: () => number;
}

/**
 * The audit log from the store when there is one, else this dashboard's own memory. A store that
 * cannot be read gives an empty log and the reason.
 */
export function readAudit(ctx: DashboardContext, options: { app?: string; sinceMs?: number; limit?: number }): Guarded<AuditEntry[]> {
  const { history } = ctx;
  const read = history ? guardHistory(() => history.audit(options), () => []) : { value: ctx.localAudit.list(options), unavailable: null };
  // Newest first whatever order the reader uses; ids break ties within one millisecond.
  return { ...read, value: [...read.value].sort((a, b) => b.atMs - a.atMs || b.id - a.id) };
}

/** Runtime events from the store when there is one, else the reloads this dashboard made. */
export function readEvents(ctx: DashboardContext, options: EventQuery): Guarded<EventEntry[]> {
  const { history } = ctx;
  const read = history ? guardHistory(() => history.events(options), () => []) : { value: ctx.localEvents.list(options), unavailable: null };
  return { ...read, value: [...read.value].sort((a, b) => b.atMs - a.atMs || b.id - a.id) };
}

/**
 * Checks, on a fresh snapshot rather than the cache, that the runtime answers and has the app:
 * the answer decides whether a state-changing route touches the runtime at all.
 */
export async function requireApp(ctx: DashboardContext, name: string): Promise<void> {
  ctx.snapshots.invalidate();
  const state = await ctx.snapshots.get();
  if (!state.snapshot) throw new errors.DOW_ERR_RUNTIME_UNREACHABLE(state.error ?? 'no snapshot');
  if (!state.snapshot.apps.some((a) => a.name === name)) throw new errors.DOW_ERR_UNKNOWN_APP(name);
}
