// The per-app charts: latency percentiles (service time solid, queue wait dashed) and throughput
// stacked by status class, both with vertical markers at each thread-limit change and worker
// event, drawn by the plugins in markers.js.

import { formatDateTime, formatMs, formatRate, formatTick } from './format.js';
import { eventMarkers, eventTooltipFooter, limitMarkers } from './markers.js';
import { limitLine } from './limit-line.js';
import { ceilingNote, emptyNote, latencyCeiling, showNote } from './chart-notes.js';

const PERCENTILE_COLORS = { p50: '#2563eb', p95: '#d97706', p99: '#dc2626' };
const STATUS_COLORS = { '2xx': '#16a34a', '3xx': '#0891b2', '4xx': '#d97706', '5xx': '#dc2626', '1xx': '#94a3b8' };
const GRID_COLOR = 'rgba(100, 116, 139, 0.15)';
const TICK_COLOR = '#64748b';

function baseOptions(yTitle, formatY) {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    interaction: { mode: 'index', intersect: false },
    scales: {
      x: {
        type: 'linear',
        grid: { color: GRID_COLOR },
        ticks: { color: TICK_COLOR, maxTicksLimit: 7, maxRotation: 0 },
      },
      y: {
        beginAtZero: true,
        grid: { color: GRID_COLOR },
        ticks: { color: TICK_COLOR, maxTicksLimit: 5 },
        title: { display: false, text: yTitle },
      },
    },
    plugins: {
      legend: {
        position: 'bottom',
        labels: {
          boxWidth: 14,
          boxHeight: 2,
          color: '#334155',
          font: { size: 11 },
          // 1xx is hidden unless it happened; leave it out of the legend rather than struck through.
          filter: (item, data) => !(item.hidden && data.datasets[item.datasetIndex].cls === '1xx'),
        },
      },
      tooltip: {
        callbacks: {
          title: (items) => (items.length ? formatDateTime(items[0].parsed.x) : ''),
          label: (item) => `${item.dataset.label}: ${item.dataset.kind === 'limit' ? item.parsed.y : formatY(item.parsed.y)}`,
          footer: eventTooltipFooter,
        },
      },
      limitMarkers: { markers: [] },
      eventMarkers: { events: [], stepMs: 0, offsetMs: 0 },
    },
  };
}

/** Gaps of up to this many empty buckets are bridged by the latency lines. */
const GAP_BUCKETS = 3;

/** True when data[i] has a value and no other value lies within `gap` buckets on either side. */
export function isLonePoint(data, i, gap) {
  if (data[i]?.y == null) return false;
  for (let k = Math.max(0, i - gap); k <= Math.min(data.length - 1, i + gap); k++) {
    if (k !== i && data[k]?.y != null) return false;
  }
  return true;
}

function latencyDatasets(kinds = ['service', 'queue']) {
  const sets = [];
  for (const kind of kinds) {
    for (const p of ['p50', 'p95', 'p99']) {
      sets.push({
        label: `${kind === 'service' ? 'service' : 'queue wait'} ${p}`,
        kind,
        p,
        data: [],
        borderColor: PERCENTILE_COLORS[p],
        backgroundColor: PERCENTILE_COLORS[p],
        borderWidth: kind === 'service' ? 2 : 1.5,
        borderDash: kind === 'service' ? [] : [6, 4],
        pointRadius: 0,
        // Monotone cubic interpolation: a Bézier with tension can overshoot sideways at a steep
        // jump, so the line goes back in time; monotone never does, in x or y.
        cubicInterpolationMode: 'monotone',
        spanGaps: false,
      });
    }
  }
  return sets;
}

function throughputDatasets() {
  return ['2xx', '3xx', '4xx', '5xx', '1xx'].map((cls) => ({
    label: cls,
    cls,
    data: [],
    backgroundColor: STATUS_COLORS[cls],
    borderWidth: 0,
    barPercentage: 1,
    categoryPercentage: 0.9,
    stack: 'status',
  }));
}

export function createAppCharts(latencyCanvas, throughputCanvas) {
  const { Chart } = window;
  const latencyOptions = baseOptions('ms', formatMs);
  // The thread limit beside the latency, on its own axis: where an adaptive limit went, and what
  // the latency did then. Stepped 'after': a limit holds until the change, then jumps.
  latencyOptions.scales.limit = { position: 'right', beginAtZero: true, grid: { display: false }, ticks: { color: TICK_COLOR, maxTicksLimit: 5, precision: 0 } };
  const latency = new Chart(latencyCanvas, {
    type: 'line',
    data: { datasets: [...latencyDatasets(), { label: 'thread limit', kind: 'limit', data: [], yAxisID: 'limit', stepped: 'after', borderColor: '#64748b', backgroundColor: '#64748b', borderWidth: 1.5, pointRadius: 0 }] },
    options: latencyOptions,
    plugins: [limitMarkers, eventMarkers],
  });
  const throughputOptions = baseOptions('req/s', formatRate);
  throughputOptions.scales.x.stacked = true;
  // Bar charts pad their x axis by default; without it both charts share the same time grid.
  throughputOptions.scales.x.offset = false;
  throughputOptions.scales.x.grid.offset = false;
  throughputOptions.scales.y.stacked = true;
  const throughput = new Chart(throughputCanvas, {
    type: 'bar',
    data: { datasets: throughputDatasets() },
    options: throughputOptions,
    plugins: [limitMarkers, eventMarkers],
  });

  return {
    /** Redraws both charts from a `/api/apps/:name/series` answer. */
    update(series, currentLimit = null) {
      const stepS = series.stepMs / 1000;
      const filled = series.points.filter((pt) => pt.count > 0).length;
      for (const ds of latency.data.datasets) {
        if (ds.kind === 'limit') {
          ds.data = limitLine(series.markers, series.fromMs, series.toMs, currentLimit);
          continue;
        }
        fillLatency(ds, series, filled);
      }
      for (const ds of throughput.data.datasets) {
        ds.data = series.points.map((pt) => ({ x: pt.t + series.stepMs / 2, y: pt.status[ds.cls] / stepS }));
      }
      // 1xx is rare in practice: keep it out of the legend unless it happened.
      const informational = throughput.data.datasets.find((ds) => ds.cls === '1xx');
      informational.hidden = !series.points.some((pt) => pt.status['1xx'] > 0);
      const ceiling = cutOutliers(latency);
      for (const chart of [latency, throughput]) {
        setTimeAxis(chart, series);
        chart.options.plugins.limitMarkers.markers = series.markers;
        Object.assign(chart.options.plugins.eventMarkers, { events: series.events, stepMs: series.stepMs, offsetMs: chart === throughput ? series.stepMs / 2 : 0 });
        chart.update('none');
      }
      showNote(latencyCanvas, emptyNote(series) || ceilingNote(ceiling));
      showNote(throughputCanvas, emptyNote(series));
      latencyCanvas.setAttribute('aria-label', describe(series, 'latency'));
      throughputCanvas.setAttribute('aria-label', describe(series, 'throughput'));
    },
    destroy() {
      latency.destroy();
      throughput.destroy();
    },
  };
}

/**
 * One route's service-time percentiles (`/api/apps/:name/routes/series`), drawn as the app's
 * latency chart draws its own; no markers, which are the app's.
 */
export function createRouteChart(canvas) {
  const { Chart } = window;
  const chart = new Chart(canvas, { type: 'line', data: { datasets: latencyDatasets(['service']) }, options: baseOptions('ms', formatMs) });
  return {
    update(series) {
      const filled = series.points.filter((pt) => pt.count > 0).length;
      for (const ds of chart.data.datasets) fillLatency(ds, series, filled);
      const ceiling = cutOutliers(chart);
      setTimeAxis(chart, series);
      chart.update('none');
      showNote(canvas, emptyNote(series) || ceilingNote(ceiling));
      canvas.setAttribute('aria-label', `${series.app} ${series.method} ${series.route} latency, ${series.points.length} buckets, ${filled} with requests`);
    },
    destroy() {
      chart.destroy();
    },
  };
}

/**
 * A percentile line from a series' points. Sparse traffic leaves lone buckets between empty ones:
 * dots then, so they are not lost, and gaps of up to three buckets bridged so that a quiet
 * moment does not shred the line.
 */
function fillLatency(ds, series, filled) {
  ds.data = series.points.map((pt) => ({ x: pt.t, y: pt[ds.kind][ds.p] }));
  const radius = filled < 40 ? 2 : 0;
  // A bucket with no neighbour within the bridged gap gets no line segment, so with the
  // dots off it was not drawn at all: give such a point a dot whatever the traffic.
  ds.pointRadius = (ctx) => (isLonePoint(ds.data, ctx.dataIndex, GAP_BUCKETS) ? 2.5 : radius);
  ds.spanGaps = series.stepMs * GAP_BUCKETS;
}

/** A few outliers (one hung request) get the axis cut above the rest; the ceiling, for the note. */
function cutOutliers(chart) {
  const ceiling = latencyCeiling(chart.data.datasets.flatMap((ds) => ds.data.map((p) => p.y)));
  chart.options.scales.y.max = ceiling.max ?? undefined;
  return ceiling;
}

/** The x axis over the series' window, with ticks on whole clock steps. */
function setTimeAxis(chart, series) {
  const span = series.toMs - series.fromMs;
  chart.options.scales.x.min = series.fromMs;
  chart.options.scales.x.max = series.toMs;
  chart.options.scales.x.ticks.callback = (value) => formatTick(value, span);
  chart.options.scales.x.afterBuildTicks = (scale) => {
    scale.ticks = clockTicks(scale.min, scale.max, tickStepMs(span));
  };
}

const MINUTE_MS = 60_000;
const TICK_STEPS_MS = [MINUTE_MS, 3 * MINUTE_MS, 5 * MINUTE_MS, 10 * MINUTE_MS, 30 * MINUTE_MS, 60 * MINUTE_MS, 3 * 60 * MINUTE_MS, 6 * 60 * MINUTE_MS, 24 * 60 * MINUTE_MS];

/** The smallest clock step that gives at most six ticks over the window. */
function tickStepMs(spanMs) {
  return TICK_STEPS_MS.find((step) => spanMs / step <= 6) ?? TICK_STEPS_MS[TICK_STEPS_MS.length - 1];
}

/**
 * Ticks on whole local clock steps (…:00, …:05, midnight), not at the window's odd edges, which
 * chart.js's linear scale would use since the window's ends are set as min and max.
 */
function clockTicks(min, max, step) {
  const zoneMs = -new Date(min).getTimezoneOffset() * MINUTE_MS;
  const ticks = [];
  for (let v = Math.ceil((min + zoneMs) / step) * step - zoneMs; v <= max; v += step) ticks.push({ value: v });
  return ticks;
}

/** A text alternative for the canvas: what a screen reader user would want from the chart. */
function describe(series, what) {
  const count = (n, noun) => (n === 0 ? `no ${noun}s` : `${n} ${noun}${n > 1 ? 's' : ''}`);
  return `${series.app} ${what}, ${series.points.length} buckets, ${count(series.markers.length, 'thread-limit change')}, ${count(series.events.length, 'worker event')}`;
}
