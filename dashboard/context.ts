/**
 * @module context
 * What the dashboard's routes share: the runtime, the history, the snapshot cache and the
 * fallback audit log. Built once in app.ts and passed to each route module.
 */
import type { AuditEntry, HistoryReader } from '../shared/history.js';
import type { RuntimeControl } from '../shared/runtime-control.js';
import type { LocalAudit } from './local-audit.js';
import type { SnapshotSource } from './snapshot-source.js';

export interface DashboardContext {
  control: RuntimeControl;
  history: HistoryReader | null;
  snapshots: SnapshotSource;
  localAudit: LocalAudit;
  now: () => number;
}

/** The audit log from the store when there is one, else this dashboard's own memory. */
export function readAudit(ctx: DashboardContext, options: { app?: string; sinceMs?: number; limit?: number }): AuditEntry[] {
  const entries = ctx.history ? ctx.history.audit(options) : ctx.localAudit.list(options);
  // Newest first whatever order the reader uses; ids break ties within one millisecond.
  return [...entries].sort((a, b) => b.atMs - a.atMs || b.id - a.id);
}
