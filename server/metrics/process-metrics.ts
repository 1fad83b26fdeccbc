/**
 * @module process-metrics
 * The supervisor's own process metrics (CPU, memory, open descriptors, event-loop delay, GC) under
 * the names Prometheus users know from prom-client's default collectors; sampled by the same code
 * as each worker's figures (process-figures.ts).
 */
import { createProcessSampler, observeGc, type GcDurations, type ProcessSampler } from './process-figures.js';
import type { Family, Sample } from './exposition.js';

const GC_BUCKETS_SECONDS = [0.001, 0.01, 0.1, 1, 2, 5];
const [MAJOR, MINOR, PATCH] = process.version.slice(1).split('.');

/*
 * Made on the first scrape and kept for the process's life: the delay monitor and the GC observer
 * belong to the process, not to one request.
 */
let sampler: ProcessSampler | null = null;
let gc: GcDurations | null = null;

/**
 * prom-client's `nodejs_active_{handles,requests,resources}_total` are not among them: gauges
 * named like counters, which `promtool check metrics` rejects and PromQL users would rate().
 */
export function processFamilies(): Family[] {
  sampler ??= createProcessSampler();
  gc ??= observeGc(GC_BUCKETS_SECONDS);
  const d = sampler.detail();
  const f = d.figures;
  const one = (value: number | null): Sample[] => (value === null ? [] : [{ labels: {}, value }]);
  const gauge = (name: string, help: string, value: number | null): Family => ({ name, help, type: 'gauge', samples: one(value) });
  const counter = (name: string, help: string, value: number): Family => ({ name, help, type: 'counter', samples: one(value) });
  const byType = (name: string, help: string, counts: Map<string, number>): Family => ({
    name, help, type: 'gauge', samples: [...counts].map(([type, value]) => ({ labels: { type }, value })),
  });
  const spaces = (what: 'total' | 'used' | 'available', value: (s: (typeof d.heapSpaces)[number]) => number): Family => ({
    name: `nodejs_heap_space_size_${what}_bytes`,
    help: `Process heap space size ${what} from Node.js in bytes.`,
    type: 'gauge',
    samples: d.heapSpaces.map((s) => ({ labels: { space: s.space_name.replace(/_space$/, '') }, value: value(s) })),
  });
  return [
    counter('process_cpu_user_seconds', 'Total user CPU time spent in seconds.', f.cpuUserSeconds),
    counter('process_cpu_system_seconds', 'Total system CPU time spent in seconds.', f.cpuSystemSeconds),
    counter('process_cpu_seconds', 'Total user and system CPU time spent in seconds.', f.cpuUserSeconds + f.cpuSystemSeconds),
    gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', Math.round(f.startTimeSeconds)),
    gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', d.memory.rssBytes),
    gauge('process_virtual_memory_bytes', 'Virtual memory size in bytes.', d.memory.virtualBytes),
    gauge('process_heap_bytes', 'Process heap size in bytes.', d.memory.dataBytes),
    gauge('process_open_fds', 'Number of open file descriptors.', f.openFds),
    gauge('process_max_fds', 'Maximum number of open file descriptors.', d.maxFds),
    gauge('nodejs_eventloop_lag_seconds', 'Lag of event loop in seconds.', d.lagSeconds),
    gauge('nodejs_eventloop_lag_min_seconds', 'The minimum recorded event loop delay.', d.delay.min),
    gauge('nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay.', d.delay.max),
    gauge('nodejs_eventloop_lag_mean_seconds', 'The mean of the recorded event loop delays.', d.delay.mean),
    gauge('nodejs_eventloop_lag_stddev_seconds', 'The standard deviation of the recorded event loop delays.', d.delay.stddev),
    gauge('nodejs_eventloop_lag_p50_seconds', 'The 50th percentile of the recorded event loop delays.', d.delay.p50),
    gauge('nodejs_eventloop_lag_p90_seconds', 'The 90th percentile of the recorded event loop delays.', d.delay.p90),
    gauge('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays.', d.delay.p99),
    byType('nodejs_active_resources', 'Number of active resources that are currently keeping the event loop alive, grouped by async resource type.', d.active.resources),
    byType('nodejs_active_handles', 'Number of active libuv handles grouped by handle type. Every handle type is C++ class name.', d.active.handles),
    byType('nodejs_active_requests', 'Number of active libuv requests grouped by request type. Every request type is C++ class name.', d.active.requests),
    gauge('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.', d.heap.heapTotal),
    gauge('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.', d.heap.heapUsed),
    gauge('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.', d.heap.external),
    spaces('total', (s) => s.space_size),
    spaces('used', (s) => s.space_used_size),
    spaces('available', (s) => s.space_available_size),
    {
      name: 'nodejs_version_info', help: 'Node.js version info.', type: 'gauge',
      samples: [{ labels: { version: process.version, major: String(MAJOR), minor: String(MINOR), patch: String(PATCH) }, value: 1 }],
    },
    {
      name: 'nodejs_gc_duration_seconds',
      help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
      type: 'histogram',
      samples: [...gc.byKind].map(([kind, k]) => ({
        labels: { kind },
        buckets: gc!.bucketsSeconds.map((le, i) => [le, k.counts[i] ?? 0] as const),
        count: k.count,
        sum: k.sum,
      })),
    },
  ];
}
