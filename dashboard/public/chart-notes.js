// What the charts say beside their lines: that a window had no requests at all (an empty grid
// reads as "broken" otherwise), and where the latency axis was clipped because a few values
// (one 30 s hang) would have flattened every other line against the floor.

import { formatMs } from './format.js';

const WINDOW_WORDS = { '15m': 'the last 15 minutes', '1h': 'the last hour', '6h': 'the last 6 hours', '24h': 'the last 24 hours', '7d': 'the last 7 days' };

/** The note for a series without a single request, else ''. */
export function emptyNote(series) {
  if (series.points.some((pt) => pt.count > 0)) return '';
  return `No requests in ${WINDOW_WORDS[series.window] ?? 'this window'}.`;
}

/**
 * Values over this many times the typical top of the chart are outliers. Lower, and a lone slow
 * bucket among quiet ones (60 ms beside 14 ms) would be cut off the chart, which hides it.
 */
const OUTLIER_FACTOR = 10;
/** Where the axis is cut then, in typical tops: room above the lines. */
const CEILING_FACTOR = 3;
/** The typical top: this share of the plotted values lies at or below it. */
const TYPICAL_SHARE = 0.95;

/**
 * The latency axis' ceiling: null (chart.js picks) unless the highest value is more than
 * OUTLIER_FACTOR times the 95th percentile of all plotted values; then CEILING_FACTOR times it,
 * with how many values lie above it and the highest, for the note. Pure.
 */
export function latencyCeiling(values) {
  const sorted = values.filter((v) => v !== null && v !== undefined && Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length < 10) return { max: null, above: 0, peak: null };
  const typical = sorted[Math.floor((sorted.length - 1) * TYPICAL_SHARE)];
  const peak = sorted[sorted.length - 1];
  if (typical <= 0 || peak <= typical * OUTLIER_FACTOR) return { max: null, above: 0, peak };
  const max = typical * CEILING_FACTOR;
  return { max, above: sorted.filter((v) => v > max).length, peak };
}

export function ceilingNote({ max, above, peak }) {
  if (max === null) return '';
  return `Axis cut at ${formatMs(max)}: ${above} value${above === 1 ? '' : 's'} above, up to ${formatMs(peak)}.`;
}

/** Shows `text` in the chart's note line (hidden when empty). */
export function showNote(canvas, text) {
  const note = canvas.closest('figure')?.querySelector('.chart-note');
  if (!note) return;
  note.textContent = text;
  note.hidden = text === '';
}
