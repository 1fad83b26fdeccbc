/**
 * @module instances
 * Runs of the server that wrote a timing store: each process that opens the store for writing
 * registers one (its start time and pid) and its writer refreshes `seen_ms` every few seconds,
 * so a reader knows which parts of a window were recorded at all. A rate is then the requests
 * over the recorded time, not over a window that includes a previous run's rows and a stop, or
 * over the uptime of a process that wrote none of them.
 */
import type Database from 'better-sqlite3';

/** How often a running writer refreshes its `seen_ms`. */
export const INSTANCE_HEARTBEAT_MS = 5_000;

export interface InstanceInfo {
  /** When the server process started, epoch ms. */
  startedMs: number;
  pid: number;
}

export interface InstanceSpan {
  startedMs: number;
  seenMs: number;
  stopped: boolean;
}

export function registerInstance(db: Database.Database, info: InstanceInfo, nowMs = Date.now()): number {
  const result = db.prepare('INSERT INTO instances (started_ms, seen_ms, pid, stopped) VALUES (?, ?, ?, 0)').run(info.startedMs, nowMs, info.pid);
  return Number(result.lastInsertRowid);
}

export function prepareHeartbeat(db: Database.Database): (id: number, nowMs: number, stopped: boolean) => void {
  const stmt = db.prepare('UPDATE instances SET seen_ms = ?, stopped = ? WHERE id = ?');
  return (id, nowMs, stopped) => void stmt.run(nowMs, stopped ? 1 : 0, id);
}

/**
 * How long the instances were recording within [fromMs, toMs): the union of their spans. A
 * running one (not stopped) counts up to its last heartbeat plus one interval, since it was up
 * at least until then and may be writing now; a crashed one is off by at most that interval.
 */
export function recordedMs(spans: readonly InstanceSpan[], fromMs: number, toMs: number): number {
  const clipped = spans
    .map((s) => [Math.max(s.startedMs, fromMs), Math.min(s.stopped ? s.seenMs : s.seenMs + INSTANCE_HEARTBEAT_MS, toMs)] as const)
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of clipped) {
    if (b <= end) continue;
    total += b - Math.max(a, end);
    end = b;
  }
  return total;
}
