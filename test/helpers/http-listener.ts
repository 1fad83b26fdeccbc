/**
 * @module http-listener
 * For the http-listener-*.test.ts files: a raw connection to an `protocol: 'http'` app of a
 * running runtime, and a timing recorder that keeps its rows in memory.
 */
import type { TimingRecorder, TimingRow } from '../../shared/timing-row.js';
import { RawHttpConnection } from './http-client.js';
import type { RunningRuntime } from './runtime.js';

/** The TCP port the runtime gave `app`. */
export function portOf(rt: RunningRuntime, app: string): number {
  return (rt.targets.get(app) as { port: number }).port;
}

/** A raw HTTP/1.1 connection to `app`, open. */
export async function open(rt: RunningRuntime, app: string): Promise<RawHttpConnection> {
  const conn = new RawHttpConnection(portOf(rt, app));
  await conn.opened;
  return conn;
}

/** A timing recorder that keeps every row in `rows`. */
export function rowRecorder(): TimingRecorder & { rows: TimingRow[] } {
  const rows: TimingRow[] = [];
  return {
    rows,
    record: (row) => rows.push(row),
    figures: () => ({ rows: rows.length, dropped: 0, errors: 0 }),
    recordLimitChange: () => {},
    recordEvent: () => {},
    recordWorkersChange: () => {},
    close: async () => {},
  };
}
