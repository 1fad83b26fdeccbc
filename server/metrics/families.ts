/**
 * @module families
 * The supervisor's figures as Prometheus metric families: per app (requests by status class,
 * rejections, timeouts, load, workers, latency histograms), the store, and each worker process.
 * Pure: one snapshot in (the same merged figures the stats port prints), families out.
 */
import { STATUS_CLASSES } from '../host/app-stats.js';
import type { ProcessFigures } from './process-figures.js';
import type { Readiness } from './health.js';
import type { AppState } from './stats-report.js';
import type { RouteFigures } from '../host/route-stats.js';
import type { Family, HistogramSample, Labels, Sample } from './exposition.js';
import { histogramSample } from './latency-buckets.js';

export interface WorkerMetricsInput {
  slot: number;
  pid: number;
  rssBytes: number;
  process: ProcessFigures;
}

export interface MetricsSnapshot {
  version: string;
  startMs: number;
  apps: ReadonlyArray<{ state: AppState; inProcess: boolean; workers: readonly WorkerMetricsInput[] }>;
  store: { rows: number; dropped: number; errors: number } | null;
  /** Rows workers recorded but never delivered (they died first): the stats port's store_lost. */
  storeLost: number;
  /** What /readyz says now, so that alert rules can see it too. */
  readiness: Readiness;
  /** metrics.routeLabel: requests and durations per route (`method`, `route` labels) instead of per app. */
  routeLabel?: boolean;
}

type Scalar = Extract<Family, { type: 'counter' | 'gauge' | 'info' }>;

export function buildFamilies(s: MetricsSnapshot): Family[] {
  const perApp = (name: string, help: string, type: 'counter' | 'gauge', value: (a: AppState) => number): Scalar => ({
    name, help, type, samples: s.apps.map(({ state }) => ({ labels: { app: state.name }, value: value(state) })),
  });
  const families: Family[] = [
    { name: 'dragon_build', help: 'The running version: always 1.', type: 'info', samples: [{ labels: { version: s.version }, value: 1 }] },
    { name: 'dragon_start_time_seconds', help: 'When the supervisor started, seconds since the epoch.', type: 'gauge', samples: [{ labels: {}, value: s.startMs / 1000 }] },
    {
      name: 'dragon_requests',
      help: 'Finished requests by status class (code); summed over codes, the stats port\'s <app>_requests.',
      type: 'counter',
      samples: s.routeLabel === true
        ? perRoute(s, (labels, r) => STATUS_CLASSES.map((code, i) => ({ labels: { ...labels, code }, value: r.statusClasses[i] ?? 0 })))
        : s.apps.flatMap(({ state }) => STATUS_CLASSES.map((code, i) => ({ labels: { app: state.name, code }, value: state.stats.statusClasses[i] ?? 0 }))),
    },
    perApp('dragon_rejected_requests', 'Requests answered 503 because the thread limit and the queue were full or the queue wait ran out.', 'counter', (a) => a.rejected),
    perApp('dragon_request_timeouts', 'Requests that ran past requestTimeout (504, or cut).', 'counter', (a) => a.timeouts),
    perApp('dragon_aborted_requests', 'Requests whose client went away before the response (499).', 'counter', (a) => a.aborted),
    perApp('dragon_request_errors', 'Responses with a 5xx status, the server\'s own 500, 503 and 504 included.', 'counter', (a) => a.errors),
    perApp('dragon_bad_requests', 'Malformed SCGI requests refused before reaching the app (400, 408, 413, 431); not in dragon_requests_total.', 'counter', (a) => a.stats.badRequests),
    perApp('dragon_websockets', 'Upgraded connections (WebSockets) open now; they hold no thread slot.', 'gauge', (a) => a.stats.websockets),
    perApp('dragon_upgrades', 'Upgraded connections handed to the app (101 or its own refusal); not in dragon_requests_total.', 'counter', (a) => a.stats.upgrades),
    perApp('dragon_upgrades_refused', 'Upgrades answered 503: maxUpgrades reached, or a draining worker past closing its WebSockets.', 'counter', (a) => a.stats.upgradesRefused),
    perApp('dragon_websockets_closed', 'Upgraded connections the server closed itself (1001, 1011, 1012) because their worker stopped.', 'counter', (a) => a.stats.websocketsClosed),
    perApp('dragon_in_flight_requests', 'Requests running in the app now.', 'gauge', (a) => a.online),
    perApp('dragon_queued_requests', 'Requests waiting for a slot now.', 'gauge', (a) => a.queued),
    perApp('dragon_app_ready', '1 when the app has a worker ready to accept (or runs in-process), as /readyz sees it; 0 otherwise.', 'gauge', (a) => (s.readiness.apps[a.name]?.ready ? 1 : 0)),
    { name: 'dragon_ready', help: '1 when /readyz answers 200 (every app ready, the store writable, not stopping); 0 otherwise.', type: 'gauge', samples: [{ labels: {}, value: s.readiness.ready ? 1 : 0 }] },
    perApp('dragon_thread_limit', 'Requests the app may run at once (threads), across its workers.', 'gauge', (a) => a.threads),
    perApp('dragon_thread_limit_adaptive', '1 while the adaptive controller sets the thread limit; 0 when it is fixed (config or operator).', 'gauge', (a) => (a.threadsMode === 'adaptive' ? 1 : 0)),
    perApp('dragon_workers', 'Worker processes serving the app now (0 for an in-process app).', 'gauge', (a) => a.workers),
    perApp('dragon_worker_restarts', 'Workers started to replace one that crashed, hung or was recycled.', 'counter', (a) => a.restarts),
    perApp('dragon_worker_hangs', 'Workers killed because their event loop stopped answering (hangTimeout).', 'counter', (a) => a.hangs),
    perApp('dragon_restart_backoff_seconds', 'While a crash loop holds the next worker back, how long is left; 0 otherwise.', 'gauge', (a) => a.backoffMs / 1000),
    {
      name: 'dragon_request_duration_seconds',
      help: 'Time from accepting the connection to the response handed to the kernel (queue wait included).',
      type: 'histogram',
      samples: s.routeLabel === true
        ? perRoute(s, (labels, r) => [histogramSample(labels, r.durations)])
        : s.apps.map(({ state }): HistogramSample => histogramSample({ app: state.name }, state.stats.durations)),
    },
    {
      name: 'dragon_queue_wait_seconds',
      help: 'Time a request waited for a slot under the thread limit (0 for most).',
      type: 'histogram',
      samples: s.apps.map(({ state }): HistogramSample => histogramSample({ app: state.name }, state.stats.queueWaits)),
    },
  ];
  if (s.store) {
    const one = (value: number): Sample[] => [{ labels: {}, value }];
    families.push(
      { name: 'dragon_store_rows', help: 'Timing rows written to SQLite.', type: 'counter', samples: one(s.store.rows) },
      { name: 'dragon_store_dropped_rows', help: 'Timing rows dropped (buffer full, store closing).', type: 'counter', samples: one(s.store.dropped) },
      { name: 'dragon_store_errors', help: 'Failed write attempts of the timing store (each retried).', type: 'counter', samples: one(s.store.errors) },
      { name: 'dragon_store_lost_rows', help: 'Timing rows recorded by workers that died before delivering them.', type: 'counter', samples: one(s.storeLost) },
      { name: 'dragon_store_writable', help: '1 while the timing store writes (0 while writes fail and are retried).', type: 'gauge', samples: one(s.readiness.store === 'failing' ? 0 : 1) },
    );
  }
  families.push(...workerFamilies(s));
  return families;
}

/** One app's routes (none before its first request), labelled by app, method and route. */
function perRoute<T>(s: MetricsSnapshot, samples: (labels: Labels, r: RouteFigures) => T[]): T[] {
  return s.apps.flatMap(({ state }) => [...(state.stats.routes?.all() ?? [])].flatMap((r) => samples({ app: state.name, method: r.method, route: r.route }, r)));
}

/** Each worker process, labelled by app and slot (stable across replacements, unlike the pid). */
function workerFamilies(s: MetricsSnapshot): Family[] {
  const rows = s.apps.flatMap(({ state, workers }) => workers.map((w) => ({ labels: { app: state.name, worker: String(w.slot) }, w })));
  const family = (name: string, help: string, type: 'counter' | 'gauge', value: (w: WorkerMetricsInput) => number | null): Scalar => ({
    name, help, type,
    samples: rows.flatMap(({ labels, w }) => {
      const v = value(w);
      return v === null ? [] : [{ labels, value: v }];
    }),
  });
  return [
    family('dragon_worker_pid', 'Process id of the worker in this slot.', 'gauge', (w) => w.pid),
    family('dragon_worker_start_time_seconds', 'When the worker in this slot started, seconds since the epoch.', 'gauge', (w) => w.process.startTimeSeconds),
    family('dragon_worker_cpu_seconds', 'User and system CPU time of the worker in this slot (resets when it is replaced).', 'counter', (w) => w.process.cpuUserSeconds + w.process.cpuSystemSeconds),
    family('dragon_worker_resident_memory_bytes', 'Resident memory (RSS) of the worker.', 'gauge', (w) => w.rssBytes),
    family('dragon_worker_heap_used_bytes', 'V8 heap in use in the worker.', 'gauge', (w) => w.process.heapUsedBytes),
    family('dragon_worker_open_fds', 'Open file descriptors of the worker.', 'gauge', (w) => w.process.openFds),
    family('dragon_worker_eventloop_delay_p99_seconds', '99th percentile of the worker\'s event-loop delay over its last second or more.', 'gauge', (w) => w.process.eventLoopDelayP99Seconds),
    family('dragon_worker_eventloop_delay_max_seconds', 'Longest event-loop delay of the worker over its last second or more.', 'gauge', (w) => w.process.eventLoopDelayMaxSeconds),
  ];
}
