/**
 * @module auth-failure-log
 * Log lines about wrong admin tokens, at most one per interval: the first failure at once, then
 * a summary of what happened since (counts, addresses, how many were throttled), so a guessing
 * run is visible in the log without one line per guess.
 */
import type { FastifyBaseLogger } from 'fastify';

export const AUTH_LOG_INTERVAL_MS = 10_000;

export interface AuthFailureLog {
  /** A wrong token (`throttled` false) or an attempt refused with 429 (`throttled` true). */
  record(client: string, where: 'login' | 'bearer', throttled: boolean): void;
  /** Writes what is pending and stops the timer (dashboard close). */
  close(): void;
}

export function createAuthFailureLog(log: FastifyBaseLogger, intervalMs = AUTH_LOG_INTERVAL_MS): AuthFailureLog {
  let lastLineAt = -Infinity;
  let failed = 0;
  let throttled = 0;
  const clients = new Set<string>();
  let last = '';
  let timer: NodeJS.Timeout | null = null;

  function flush(): void {
    timer = null;
    if (failed === 0 && throttled === 0) return;
    lastLineAt = performance.now();
    const from = clients.size === 1 ? `from ${last}` : `from ${clients.size} addresses (last ${last})`;
    const refused = throttled === 0 ? '' : `; ${throttled} more attempt${throttled === 1 ? '' : 's'} refused unchecked (429, throttled)`;
    log.warn({ code: 'DOW_ERR_UNAUTHORIZED', failed, throttled, clients: clients.size }, `admin token refused ${times(failed)} ${from}${refused}`);
    failed = 0;
    throttled = 0;
    clients.clear();
  }

  return {
    record(client, where, wasThrottled) {
      if (wasThrottled) throttled += 1;
      else failed += 1;
      clients.add(client);
      last = `${client}, ${where}`;
      const since = performance.now() - lastLineAt;
      if (since >= intervalMs) flush();
      else timer ??= setTimeout(flush, intervalMs - since).unref();
    },
    close() {
      if (timer) clearTimeout(timer);
      flush();
    },
  };
}

/** "once", "2 times": a count in words that read as English. */
function times(n: number): string {
  return n === 1 ? 'once' : `${n} times`;
}
