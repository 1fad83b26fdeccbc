// The supervisor's own process metrics: the names and types of prom-client's default collectors
// (dashboards and alert rules use them), built by our sampler, which also serves the workers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFamilies } from '../../server/metrics/exposition.js';
import { processFamilies } from '../../server/metrics/process-metrics.js';
import { createProcessSampler } from '../../server/metrics/process-figures.js';

const FAMILIES: Array<[string, string]> = [
  ['process_cpu_user_seconds', 'counter'], ['process_cpu_system_seconds', 'counter'], ['process_cpu_seconds', 'counter'],
  ['process_start_time_seconds', 'gauge'], ['process_resident_memory_bytes', 'gauge'], ['process_virtual_memory_bytes', 'gauge'],
  ['process_heap_bytes', 'gauge'], ['process_open_fds', 'gauge'], ['process_max_fds', 'gauge'],
  ['nodejs_eventloop_lag_seconds', 'gauge'], ['nodejs_eventloop_lag_min_seconds', 'gauge'], ['nodejs_eventloop_lag_max_seconds', 'gauge'],
  ['nodejs_eventloop_lag_mean_seconds', 'gauge'], ['nodejs_eventloop_lag_stddev_seconds', 'gauge'], ['nodejs_eventloop_lag_p50_seconds', 'gauge'],
  ['nodejs_eventloop_lag_p90_seconds', 'gauge'], ['nodejs_eventloop_lag_p99_seconds', 'gauge'],
  ['nodejs_active_resources', 'gauge'], ['nodejs_active_handles', 'gauge'], ['nodejs_active_requests', 'gauge'],
  ['nodejs_heap_size_total_bytes', 'gauge'], ['nodejs_heap_size_used_bytes', 'gauge'], ['nodejs_external_memory_bytes', 'gauge'],
  ['nodejs_heap_space_size_total_bytes', 'gauge'], ['nodejs_heap_space_size_used_bytes', 'gauge'], ['nodejs_heap_space_size_available_bytes', 'gauge'],
  ['nodejs_version_info', 'gauge'], ['nodejs_gc_duration_seconds', 'histogram'],
];

test('the supervisor\'s process families: prom-client\'s names and types, no gauge named _total', () => {
  const families = processFamilies();
  assert.deepEqual(families.map((f) => [f.name, f.type]), FAMILIES);
  const text = formatFamilies(families, 'prometheus');
  assert.match(text, /^# TYPE process_cpu_seconds_total counter$/m);
  assert.doesNotMatch(text, /^# TYPE \w+_total gauge$/m);
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  assert.ok(value('process_resident_memory_bytes') > 0);
  assert.ok(value('process_cpu_seconds_total') > 0);
  assert.ok(Math.abs(value('process_start_time_seconds') - (Date.now() / 1000 - process.uptime())) < 2);
});

test('a worker\'s figures and the supervisor\'s detail come from one sampler', () => {
  const sampler = createProcessSampler();
  const figures = sampler.figures();
  const detail = sampler.detail();
  assert.ok(figures.cpuUserSeconds > 0);
  assert.ok(detail.figures.cpuUserSeconds >= figures.cpuUserSeconds);
  assert.equal(detail.figures.startTimeSeconds, figures.startTimeSeconds);
  if (process.platform === 'linux') assert.ok((figures.openFds ?? 0) > 0);
});
