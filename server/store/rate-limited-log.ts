/**
 * @module rate-limited-log
 * At most one log line per reason per interval; the next line says how many were left out.
 * Pure apart from the logger it is given; the clock is injectable for tests.
 */

export interface StoreLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
}

export const LOG_INTERVAL_MS = 10_000;

export function createRateLimitedLog(logger: StoreLogger, intervalMs = LOG_INTERVAL_MS, now: () => number = Date.now) {
  const last = new Map<string, { atMs: number; suppressed: number }>();
  return function log(level: keyof StoreLogger, reason: string, msg: string, fields: object = {}): boolean {
    const t = now();
    const seen = last.get(reason);
    if (seen && t - seen.atMs < intervalMs) {
      seen.suppressed++;
      return false;
    }
    const suppressed = seen?.suppressed ?? 0;
    last.set(reason, { atMs: t, suppressed: 0 });
    logger[level]({ reason, ...(suppressed > 0 ? { suppressed } : {}), ...fields }, msg);
    return true;
  };
}
