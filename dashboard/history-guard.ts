/**
 * @module history-guard
 * Reads of the timing store that cannot take the live view down with them: a damaged, unreadable
 * or too-new store file yields the empty fallback and the reason, which the API hands on as
 * `historyUnavailable` and the page shows where the history would be.
 */
import type { FastifyBaseLogger } from 'fastify';
import { isDragonError } from '../shared/errors.js';

/** A read's value, or the fallback with why the store could not give it (null when it did). */
export interface Guarded<T> {
  value: T;
  unavailable: string | null;
}

/**
 * The store reader wraps every SQLite failure in DOW_ERR_STORE (a file that is not a database, a
 * directory, an I/O error, a bad histogram blob) and refuses a newer schema with DOW_ERR_MIGRATION.
 * Anything else is a bug here and still reaches the error handler.
 */
const STORE_FAILURES = ['DOW_ERR_STORE', 'DOW_ERR_MIGRATION'] as const;

export function guardHistory<T>(read: () => T, fallback: () => T): Guarded<T> {
  try {
    return { value: read(), unavailable: null };
  } catch (err) {
    if (!STORE_FAILURES.some((code) => isDragonError(err, code))) throw err;
    return { value: fallback(), unavailable: (err as Error).message };
  }
}

/** The first reason among several reads of one answer, null when every read succeeded. */
export function firstReason(...reads: Array<Guarded<unknown>>): string | null {
  return reads.find((r) => r.unavailable !== null)?.unavailable ?? null;
}

export interface HistoryHealth {
  /** Records the outcome of an answer's reads; null (all read) logs nothing. */
  note(unavailable: string | null): void;
}

/**
 * The page polls every few seconds and the event stream ticks every 1.5 s, and one damaged part
 * (a bad histogram blob) can fail some routes while others read fine: each reason is logged once
 * a minute at most, however the routes interleave.
 */
export const HISTORY_LOG_INTERVAL_MS = 60_000;
/** Reasons remembered at once; they name the file and SQLite's message, so there are few. */
const MAX_REMEMBERED_REASONS = 32;

export function createHistoryHealth(log: FastifyBaseLogger, now: () => number = Date.now): HistoryHealth {
  const loggedAtMs = new Map<string, number>();
  return {
    note(unavailable) {
      if (unavailable === null) return;
      const last = loggedAtMs.get(unavailable);
      if (last !== undefined && now() - last < HISTORY_LOG_INTERVAL_MS) return;
      if (loggedAtMs.size >= MAX_REMEMBERED_REASONS) loggedAtMs.clear();
      loggedAtMs.set(unavailable, now());
      log.warn(`dashboard history unavailable, live figures still served: ${unavailable}`);
    },
  };
}
