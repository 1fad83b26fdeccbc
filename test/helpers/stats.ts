/**
 * @module stats
 * A running server's figures read through its stats port, as the dashboard and operators read
 * them, and a wait for one figure to reach a value.
 */
import { readStatsPort } from '../../dashboard/stats-client.js';
import { parseStats } from '../../shared/stats-format.js';
import { waitUntil } from './wait.js';

/** Every figure the stats port prints now. */
export async function readFigures(port: number, host = '127.0.0.1'): Promise<Map<string, string>> {
  // The client's default 1 s is for the dashboard; a test on a busy machine waits longer.
  return parseStats(await readStatsPort(host, port, 10_000));
}

/**
 * Waits until `read()` (a stats port's figures, or a runtime's `figures`) shows `key` equal to
 * `expected` or passing it, and returns all the figures of that moment.
 */
export function waitForFigure(
  read: number | (() => Map<string, string> | Promise<Map<string, string>>),
  key: string,
  expected: string | ((value: string | undefined) => boolean),
  options: { timeoutMs?: number } = {},
): Promise<Map<string, string>> {
  const figuresNow = typeof read === 'number' ? () => readFigures(read) : read;
  const passes = typeof expected === 'string' ? (value: string | undefined) => value === expected : expected;
  let seen: string | undefined;
  return waitUntil(`${key} ${typeof expected === 'string' ? `= ${expected}` : 'as expected'}`, async () => {
    const figures = await figuresNow();
    seen = figures.get(key);
    return passes(seen) ? figures : undefined;
  }, options).catch((err: Error) => {
    throw new Error(`${err.message}; ${key} was ${JSON.stringify(seen)}`);
  });
}
