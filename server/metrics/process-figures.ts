/**
 * @module process-figures
 * A process's own figures (CPU time, memory, open descriptors, event-loop delay, GC): a worker's,
 * sent to the supervisor with its heartbeat, and the supervisor's own, for the metrics listener.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';

/** What a worker reports with each heartbeat (the supervisor's dragon_worker_* families). */
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

/** Event-loop delay over the last completed window, seconds. */
export interface EventLoopDelay {
  min: number;
  max: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p99: number;
}

/** Everything the supervisor exports of its own process, read by the same code as a worker's figures. */
export interface ProcessDetail {
  figures: ProcessFigures;
  delay: EventLoopDelay;
  /** From /proc/self/status (VmRSS, VmSize, VmData); only the RSS where it cannot be read. */
  memory: { rssBytes: number; virtualBytes: number | null; dataBytes: number | null };
  heap: NodeJS.MemoryUsage;
  /** Soft limit of open descriptors (/proc/self/limits); null where it cannot be read. */
  maxFds: number | null;
  /** How long the last setImmediate() took to run, seconds (0 before the first sample). */
  lagSeconds: number;
  /** Async resources, libuv handles and requests keeping the loop alive, counted by type. */
  active: { resources: Map<string, number>; handles: Map<string, number>; requests: Map<string, number> };
  heapSpaces: ReturnType<typeof getHeapSpaceStatistics>;
}

/**
 * The delay figures describe a window at least this long. The supervisor asks once a heartbeat
 * and again for each stats or metrics request; resetting at every question would make a scrape
 * right after a heartbeat report a few milliseconds of loop instead of the last second.
 */
const EVENT_LOOP_WINDOW_MS = 1000;
/** Sampling resolution of the delay monitor, in ms (the default of perf_hooks and of prom-client). */
const DELAY_RESOLUTION_MS = 10;

const NO_DELAY: EventLoopDelay = { min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 };

export interface ProcessSampler {
  /** A worker's figures, for its heartbeat. */
  figures(): ProcessFigures;
  /** The supervisor's: the same figures and the rest of what it exports. */
  detail(): ProcessDetail;
}

export function createProcessSampler(): ProcessSampler {
  const monitor = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
  monitor.enable();
  const startTimeSeconds = performance.timeOrigin / 1000;
  let windowStart = performance.now();
  let delay = NO_DELAY;
  let lagSeconds = 0;
  const eventLoopDelay = (): EventLoopDelay => {
    const now = performance.now();
    if (now - windowStart >= EVENT_LOOP_WINDOW_MS) {
      // Nanoseconds; an empty window (no sample yet) reports NaN/huge values: keep zeros then.
      const s = (ns: number): number => ns / 1e9;
      delay = monitor.count === 0 ? NO_DELAY : {
        min: s(monitor.min), max: s(monitor.max), mean: s(monitor.mean), stddev: s(monitor.stddev),
        p50: s(monitor.percentile(50)), p90: s(monitor.percentile(90)), p99: s(monitor.percentile(99)),
      };
      monitor.reset();
      windowStart = now;
    }
    return delay;
  };
  const figures = (): ProcessFigures => {
    const cpu = process.cpuUsage();
    const d = eventLoopDelay();
    return {
      cpuUserSeconds: cpu.user / 1e6,
      cpuSystemSeconds: cpu.system / 1e6,
      heapUsedBytes: process.memoryUsage().heapUsed,
      openFds: countOpenFds(),
      eventLoopDelayP99Seconds: d.p99,
      eventLoopDelayMaxSeconds: d.max,
      startTimeSeconds,
    };
  };
  return {
    figures,
    detail() {
      // Reported at the next sample: how long the loop took to come round to this callback.
      const asked = process.hrtime.bigint();
      setImmediate(() => (lagSeconds = Number(process.hrtime.bigint() - asked) / 1e9));
      return {
        figures: figures(),
        delay: eventLoopDelay(),
        memory: readMemory(),
        heap: process.memoryUsage(),
        maxFds: readMaxFds(),
        lagSeconds,
        active: {
          resources: countBy(process.getActiveResourcesInfo(), (type) => type),
          handles: countBy(activeList('_getActiveHandles'), constructorName),
          requests: countBy(activeList('_getActiveRequests'), constructorName),
        },
        heapSpaces: getHeapSpaceStatistics(),
      };
    },
  };
}

/** Garbage collections by kind, as a histogram's cumulative counts over `bucketsSeconds`. */
export interface GcDurations {
  bucketsSeconds: readonly number[];
  byKind: Map<string, { counts: number[]; count: number; sum: number }>;
}

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** Observes every garbage collection from now on (the observer lives as long as the process). */
export function observeGc(bucketsSeconds: readonly number[]): GcDurations {
  const gc: GcDurations = { bucketsSeconds, byKind: new Map() };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = GC_KINDS[(entry as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'unknown';
      let k = gc.byKind.get(kind);
      if (k === undefined) gc.byKind.set(kind, (k = { counts: bucketsSeconds.map(() => 0), count: 0, sum: 0 }));
      const seconds = entry.duration / 1000;
      bucketsSeconds.forEach((le, i) => {
        if (seconds <= le) (k.counts[i] as number)++;
      });
      k.count++;
      k.sum += seconds;
    }
  }).observe({ entryTypes: ['gc'] });
  return gc;
}

function countOpenFds(): number | null {
  try {
    // The listing itself holds one descriptor open while it reads.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return null;
  }
}

function readMemory(): ProcessDetail['memory'] {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kib = (key: string): number | null => {
      const m = new RegExp(`^${key}:\\s*(\\d+) kB$`, 'm').exec(status);
      return m ? Number(m[1]) * 1024 : null;
    };
    return { rssBytes: kib('VmRSS') ?? process.memoryUsage.rss(), virtualBytes: kib('VmSize'), dataBytes: kib('VmData') };
  } catch {
    return { rssBytes: process.memoryUsage.rss(), virtualBytes: null, dataBytes: null };
  }
}

let maxFds: number | null | undefined;

/** Read once: a process's own limit does not change under it here. */
function readMaxFds(): number | null {
  if (maxFds !== undefined) return maxFds;
  maxFds = null;
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.split(/ {2,}/)[1]);
    if (Number.isFinite(soft)) maxFds = soft;
  } catch {
    // Not Linux: no limit reported.
  }
  return maxFds;
}

/** Node's undocumented lists of live handles and requests, as prom-client reads them. */
function activeList(name: '_getActiveHandles' | '_getActiveRequests'): unknown[] {
  const list = (process as unknown as Record<string, (() => unknown[]) | undefined>)[name];
  return typeof list === 'function' ? list.call(process) : [];
}

function constructorName(value: unknown): string | null {
  return (value as { constructor?: { name?: string } } | null)?.constructor?.name ?? null;
}

function countBy<T>(list: readonly T[], key: (item: T) => string | null): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of list) {
    const k = key(item);
    if (k !== null) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}
