/**
 * @module wait
 * The one way a test waits: for the event it checks, polled with a generous deadline, never for a
 * fixed time (the suite must pass on a busy 2-core machine).
 */

/** Test deadlines stretch on slow builds (AddressSanitizer) and busy machines: set DOW_TEST_SLOWDOWN=3. */
const SLOWDOWN = Math.max(1, Number(process.env.DOW_TEST_SLOWDOWN) || 1);

/** A time bound a test asserts, stretched like every deadline here. */
export const scaledMs = (ms: number): number => ms * SLOWDOWN;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` until it returns a truthy value (which it returns) or `timeoutMs` passes, then
 * throws naming `what` and the last value or error seen. `check` may be async and may throw
 * while the condition is not yet met (a port not yet open): that counts as "not yet".
 */
export async function waitUntil<T>(
  what: string,
  check: () => T | Promise<T>,
  { timeoutMs = 30_000, intervalMs = 25 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs * SLOWDOWN;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`${what}: not within ${timeoutMs * SLOWDOWN} ms (last: ${detail})`);
    }
    await sleep(intervalMs);
  }
}
