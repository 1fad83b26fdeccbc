/**
 * @module local-audit
 * The audit logs when no timing store is attached: the limit changes and reloads made through
 * this dashboard, kept in memory (newest last, bounded) so the page's tables and chart markers
 * still show them. With a store the runtime writes them to SQLite and this is not used.
 */
import type { AuditEntry, EventEntry } from '../shared/history.js';

const MAX_ENTRIES = 1000;

export interface LocalLog<T extends { id: number; atMs: number; app: string }> {
  add(entry: Omit<T, 'id'>): void;
  /** Newest first; `sinceMs` inclusive, `untilMs` exclusive, as the store's reader answers. */
  list(options?: { app?: string; sinceMs?: number; untilMs?: number; limit?: number }): T[];
}

export type LocalAudit = LocalLog<AuditEntry>;
export type LocalEvents = LocalLog<EventEntry>;

export function createLocalLog<T extends { id: number; atMs: number; app: string }>(): LocalLog<T> {
  const entries: T[] = [];
  let nextId = 1;
  return {
    add(entry) {
      entries.push({ id: nextId++, ...entry } as T);
      if (entries.length > MAX_ENTRIES) entries.shift();
    },
    list({ app, sinceMs, untilMs, limit } = {}) {
      const hits = entries.filter(
        (e) => (app === undefined || e.app === app) && (sinceMs === undefined || e.atMs >= sinceMs) && (untilMs === undefined || e.atMs < untilMs),
      );
      return hits.reverse().slice(0, limit ?? MAX_ENTRIES);
    },
  };
}

export function createLocalAudit(): LocalAudit {
  return createLocalLog<AuditEntry>();
}
