/**
 * @module restart-policy
 * When to start a worker again and when to recycle one. Pure, so the numbers are tested directly.
 */

/** A worker that ran this long before dying was not in a crash loop: the next restart is at once. */
export const STABLE_AFTER_MS = 10_000;
export const BACKOFF_FIRST_MS = 1000;
export const BACKOFF_MAX_MS = 30_000;
/** maxRequests is lowered by up to this share per worker, so workers do not all recycle at once. */
export const MAX_REQUESTS_JITTER = 0.1;

/**
 * The wait before the next restart. The first quick exit restarts at once (a one-off crash costs
 * nothing); each further quick exit in a row doubles the wait from 1 s up to 30 s.
 *
 *   streak:  1    2    3    4    5    6     7 …
 *   wait:    0    1s   2s   4s   8s   16s   30s
 */
export function crashBackoffMs(streak: number, livedMs: number): { ms: number; streak: number } {
  const next = livedMs >= STABLE_AFTER_MS ? 1 : streak + 1;
  const ms = next <= 1 ? 0 : Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (next - 2));
  return { ms, streak: next };
}

/** `random` in [0, 1). 0 stays 0 (off). */
export function maxRequestsWithJitter(maxRequests: number, random: number): number {
  if (maxRequests <= 0) return 0;
  return Math.max(1, maxRequests - Math.floor(maxRequests * MAX_REQUESTS_JITTER * random));
}
