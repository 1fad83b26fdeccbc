/**
 * @module process-metrics
 * The supervisor's own process metrics (CPU, memory, open descriptors, event-loop lag, GC) from
 * prom-client's default collectors, in either exposition format. Workers report theirs over IPC.
 */
import { collectDefaultMetrics, Registry, type OpenMetricsContentType, type PrometheusContentType } from 'prom-client';
import type { ExpositionFormat } from './exposition.js';

/*
 * One registry per format, made on first use and kept for the process's life: the collectors
 * start monitors (event-loop delay, GC observer) that belong to the process, not to one listener,
 * and a registry switched to OpenMetrics renames its counters in place, so the two stay apart.
 */
let prometheus: Registry<PrometheusContentType> | null = null;
let openmetrics: Registry<OpenMetricsContentType> | null = null;

/** The supervisor's process metrics as text; in OpenMetrics it ends with the `# EOF` line. */
export function processMetricsText(format: ExpositionFormat): Promise<string> {
  if (format === 'openmetrics') {
    if (!openmetrics) {
      openmetrics = new Registry<OpenMetricsContentType>();
      openmetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
      collectDefaultMetrics({ register: openmetrics });
      dropMisnamedGauges(openmetrics);
    }
    return openmetrics.metrics();
  }
  if (!prometheus) {
    prometheus = new Registry();
    collectDefaultMetrics({ register: prometheus });
    dropMisnamedGauges(prometheus);
  }
  return prometheus.metrics();
}

/**
 * prom-client names three gauges `nodejs_active_{handles,requests,resources}_total`, which
 * `promtool check metrics` rejects (only counters end in _total) and PromQL users would rate().
 * They are left out; the per-type `nodejs_active_*` gauges without the suffix remain.
 */
function dropMisnamedGauges(registry: Registry<PrometheusContentType> | Registry<OpenMetricsContentType>): void {
  for (const metric of registry.getMetricsAsArray()) {
    // Typed as a numeric enum in prom-client's .d.ts, but a string ('gauge', 'counter') at run time.
    if (String(metric.type) !== 'counter' && metric.name.endsWith('_total')) registry.removeSingleMetric(metric.name);
  }
}
