/**
 * @module local-audit
 * The audit log when no timing store is attached: the changes made through this dashboard, kept
 * in memory (newest last, bounded) so the page's table and chart markers still show them.
 * With a store the runtime writes the audit rows to SQLite and this is not used.
 */
import type { AuditEntry } from '../shared/history.js';

const MAX_ENTRIES = 1000;

export interface LocalAudit {
  add(entry: Omit<AuditEntry, 'id'>): void;
  list(options?: { app?: string; sinceMs?: number; limit?: number }): AuditEntry[];
}

export function createLocalAudit(): LocalAudit {
  const entries: AuditEntry[] = [];
  let nextId = 1;
  return {
    add(entry) {
      entries.push({ id: nextId++, ...entry });
      if (entries.length > MAX_ENTRIES) entries.shift();
    },
    list({ app, sinceMs, limit } = {}) {
      const hits = entries.filter((e) => (app === undefined || e.app === app) && (sinceMs === undefined || e.atMs >= sinceMs));
      return hits.reverse().slice(0, limit ?? MAX_ENTRIES);
    },
  };
}
