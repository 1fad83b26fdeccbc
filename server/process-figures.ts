/**
 * @module process-figures
 * A worker process's own figures for the metrics listener (CPU time, memory, open descriptors,
 * event-loop delay), sampled when the supervisor asks for them, about once a second.
 */
import { readdirSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface ProcessFigures {
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  heapUsedBytes: number;
  /** Null where /proc/self/fd cannot be read (not Linux). */
  openFds: number | null;
  /** Event-loop delay over the last completed window (EVENT_LOOP_WINDOW_MS or longer), seconds. */
  eventLoopDelayP99Seconds: number;
  eventLoopDelayMaxSeconds: number;
  /** Epoch seconds. */
  startTimeSeconds: number;
}

/**
 * The delay figures describe a window at least this long. The supervisor asks once a heartbeat
 * and again for each stats or metrics request; resetting at every question would make a scrape
 * right after a heartbeat report a few milliseconds of loop instead of the last second.
 */
export const EVENT_LOOP_WINDOW_MS = 1000;
/** Sampling resolution of the delay monitor: prom-client's default (what the supervisor's own figures use). */
const DELAY_RESOLUTION_MS = 10;

export function createProcessSampler(): () => ProcessFigures {
  const delay = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
  delay.enable();
  const startTimeSeconds = performance.timeOrigin / 1000;
  let windowStart = performance.now();
  let p99 = 0;
  let max = 0;
  return () => {
    const now = performance.now();
    if (now - windowStart >= EVENT_LOOP_WINDOW_MS) {
      // Nanoseconds; an empty window (no sample yet) reports NaN/huge values: keep zeros then.
      p99 = delay.count > 0 ? delay.percentile(99) / 1e9 : 0;
      max = delay.count > 0 ? delay.max / 1e9 : 0;
      delay.reset();
      windowStart = now;
    }
    const cpu = process.cpuUsage();
    return {
      cpuUserSeconds: cpu.user / 1e6,
      cpuSystemSeconds: cpu.system / 1e6,
      heapUsedBytes: process.memoryUsage().heapUsed,
      openFds: countOpenFds(),
      eventLoopDelayP99Seconds: p99,
      eventLoopDelayMaxSeconds: max,
      startTimeSeconds,
    };
  };
}

function countOpenFds(): number | null {
  try {
    // The listing itself holds one descriptor open while it reads.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return null;
  }
}
