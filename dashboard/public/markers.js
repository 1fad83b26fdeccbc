// The charts' vertical markers, as two small chart.js plugins (no annotation dependency, nothing
// from a CDN): thread-limit changes as dotted purple lines labelled `old→new` at the top, and
// worker events (reload, restart, hang, recycle, scale) as solid lines, each kind with its own colour and
// glyph and labelled at the bottom, with the details in the chart's tooltip.

import { formatDateTime } from './format.js';

export const LIMIT_MARKER_COLOR = '#7c3aed';

/**
 * Colours no dataset uses (the percentiles are blue, amber and red, the status classes green,
 * cyan, amber, red and grey), and a glyph each so that kinds differ without colour too. The
 * page's legend (index.html, style.css `.event-*`) repeats them.
 */
export const EVENT_STYLES = {
  reload: { color: '#db2777', glyph: 'triangle' },
  restart: { color: '#0f172a', glyph: 'circle' },
  hang: { color: '#78350f', glyph: 'square' },
  recycle: { color: '#0d9488', glyph: 'diamond' },
  scale: { color: '#a21caf', glyph: 'cross' },
};
const GLYPH_TEXT = { triangle: '▲', circle: '●', square: '■', diamond: '◆', cross: '✚' };

/** The glyph as a character, for text beside the charts (legend, table, tooltip). */
export function eventGlyph(kind) {
  return GLYPH_TEXT[EVENT_STYLES[kind]?.glyph] ?? '|';
}
/** More events than this in one tooltip are summed up as "+N more". */
const TOOLTIP_EVENTS = 4;

/**
 * Labels close together would print over each other: each takes the first of `count` rows where
 * it does not overlap the label before it. Returns the row; when none is free, `fallback` (the
 * label overprints there) or -1 (the label is left out).
 */
function createRows(count, fallback = -1) {
  const ends = new Array(count).fill(-Infinity);
  return (left, width) => {
    let row = ends.findIndex((end) => left > end + 3);
    if (row < 0) row = fallback;
    if (row >= 0) ends[row] = left + width;
    return row;
  };
}

/** Where a label of `width` goes, `gap` px beside the line at `px`: flipped left near the right edge. */
function labelLeft(px, width, gap, chartArea) {
  return px + gap + width > chartArea.right ? px - gap - width : px + gap;
}

/**
 * A dashed vertical line and an `old→new` label at each change inside the x range.
 * Options: `plugins.limitMarkers.markers`, the series' audit entries.
 */
export const limitMarkers = {
  id: 'limitMarkers',
  afterDatasetsDraw(chart, _args, options) {
    const markers = options.markers ?? [];
    const { ctx, chartArea, scales } = chart;
    const x = scales.x;
    if (!x || markers.length === 0) return;
    ctx.save();
    ctx.strokeStyle = LIMIT_MARKER_COLOR;
    ctx.fillStyle = LIMIT_MARKER_COLOR;
    ctx.lineWidth = 1.5;
    ctx.font = '600 11px system-ui, sans-serif';
    // A label that finds no free row still goes in the last one: a change is rare and each one
    // matters, unlike the events of a crash loop below.
    const place = createRows(3, 2);
    for (const m of markers) {
      const px = x.getPixelForValue(m.atMs);
      if (px < chartArea.left || px > chartArea.right) continue;
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(px, chartArea.top);
      ctx.lineTo(px, chartArea.bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      const label = `${m.oldThreads}→${m.newThreads}`;
      const width = ctx.measureText(label).width;
      const lx = labelLeft(px, width, 4, chartArea);
      const row = place(lx, width);
      ctx.fillText(label, lx, chartArea.top + 11 + row * 13);
    }
    ctx.restore();
  },
};

function drawGlyph(ctx, glyph, px, py) {
  const r = 4.5;
  ctx.beginPath();
  if (glyph === 'circle') ctx.arc(px, py, r, 0, 2 * Math.PI);
  else if (glyph === 'square') ctx.rect(px - r, py - r, 2 * r, 2 * r);
  else if (glyph === 'triangle') {
    ctx.moveTo(px, py - r - 1);
    ctx.lineTo(px + r + 1, py + r);
    ctx.lineTo(px - r - 1, py + r);
    ctx.closePath();
  } else if (glyph === 'cross') {
    const w = 1.6;
    ctx.rect(px - r - 1, py - w, 2 * r + 2, 2 * w);
    ctx.rect(px - w, py - r - 1, 2 * w, 2 * r + 2);
  } else {
    ctx.moveTo(px, py - r - 1);
    ctx.lineTo(px + r + 1, py);
    ctx.lineTo(px, py + r + 1);
    ctx.lineTo(px - r - 1, py);
    ctx.closePath();
  }
  ctx.fill();
}

/**
 * A solid vertical line with its kind's glyph at the foot of the plot, and the kind as a label
 * beside it while there is room: a crash loop's restarts stay visible as lines and glyphs, and
 * their details are in the tooltip and the events table.
 * Options: `plugins.eventMarkers.events`, the series' runtime events.
 */
export const eventMarkers = {
  id: 'eventMarkers',
  afterDatasetsDraw(chart, _args, options) {
    const events = options.events ?? [];
    const { ctx, chartArea, scales } = chart;
    const x = scales.x;
    if (!x || events.length === 0) return;
    ctx.save();
    ctx.lineWidth = 1.5;
    ctx.font = '600 11px system-ui, sans-serif';
    ctx.lineJoin = 'round';
    const place = createRows(2);
    for (const e of events) {
      const style = EVENT_STYLES[e.kind];
      const px = x.getPixelForValue(e.atMs);
      if (!style || px < chartArea.left || px > chartArea.right) continue;
      const foot = chartArea.bottom - 7;
      ctx.strokeStyle = style.color;
      ctx.fillStyle = style.color;
      ctx.beginPath();
      ctx.moveTo(px, chartArea.top);
      ctx.lineTo(px, foot);
      ctx.stroke();
      drawGlyph(ctx, style.glyph, px, foot);
      const width = ctx.measureText(e.kind).width;
      const lx = labelLeft(px, width, 8, chartArea);
      const row = place(lx, width);
      if (row < 0) continue;
      const ly = foot + 4 - row * 13;
      // A white halo keeps the label readable over bars and lines.
      ctx.strokeStyle = 'rgba(255, 255, 255, 0.9)';
      ctx.lineWidth = 3;
      ctx.strokeText(e.kind, lx, ly);
      ctx.lineWidth = 1.5;
      ctx.fillText(e.kind, lx, ly);
    }
    ctx.restore();
  },
};

/**
 * The tooltip's footer: the events inside the hovered bucket. Options of `eventMarkers` carry
 * `stepMs` and `offsetMs`, how far a point's x lies past its bucket's start (0 for the latency
 * lines, half a step for the throughput bars, which sit in the middle of their bucket).
 */
export function eventTooltipFooter(items) {
  const item = items[0];
  if (!item) return '';
  const { events = [], stepMs = 0, offsetMs = 0 } = item.chart.options.plugins.eventMarkers ?? {};
  const start = item.parsed.x - offsetMs;
  const hits = events.filter((e) => e.atMs >= start && e.atMs < start + stepMs);
  const lines = hits.slice(0, TOOLTIP_EVENTS).map((e) => {
    const who = e.pid > 0 ? ` pid ${e.pid}` : '';
    const why = e.detail ? `: ${e.detail}` : '';
    return `${eventGlyph(e.kind)} ${e.kind} ${formatDateTime(e.atMs).slice(11)}${who}${why}`;
  });
  if (hits.length > TOOLTIP_EVENTS) lines.push(`+${hits.length - TOOLTIP_EVENTS} more events`);
  return lines;
}
