/**
 * @module window-sample
 * An app's running totals (from the figures the supervisor already holds: each worker's last
 * heartbeat, merged) turned into one window's sample for the controller. Pure.
 */
import type { WindowSample } from './adaptive-controller.js';

/** Totals since start that never go backwards (a dead worker's figures stay in the sum). */
export interface AppTotals {
  /** Finished requests, 503s and queue timeouts included. */
  requests: number;
  /** Refused with 503 at once: never admitted, so no service time. */
  rejected: number;
  /** Timed out: in the queue (never admitted) or running past requestTimeout. */
  timeouts: number;
  /** Accept to response, summed (s). */
  onlineTime: number;
  /** Queue waits summed (s). */
  queueTime: number;
  /** Requests waiting for a slot now. */
  queued: number;
}

/**
 * Service time is the total less the queue wait: what the app itself took, the figure the limit
 * acts on (a queue wait grows with the queue, not with the app's load). Requests never admitted
 * count as none finished: their service time is 0, and would pass for a fast app. A request that
 * timed out while running is left out too: it is rare, and its time is the timeout, not the app's.
 */
export function windowSample(before: AppTotals, after: AppTotals, elapsedMs: number): WindowSample {
  const finished = after.requests - before.requests - (after.rejected - before.rejected) - (after.timeouts - before.timeouts);
  const serviceMs = ((after.onlineTime - after.queueTime) - (before.onlineTime - before.queueTime)) * 1000;
  // A worker replaced between two reads can make a difference negative for a moment: its last
  // figures joined the retired sum late. That window says nothing.
  if (finished <= 0 || serviceMs < 0) return { completed: 0, serviceMs: 0, elapsedMs, queued: after.queued };
  return { completed: finished, serviceMs, elapsedMs, queued: after.queued };
}
