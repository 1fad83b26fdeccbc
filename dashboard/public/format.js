// Number and time formatting for the page: one place, so every card reads the same way.

const nf = new Intl.NumberFormat('en-US');

export const DASH = '—';

export function formatCount(n) {
  return n === null || n === undefined ? DASH : nf.format(n);
}

/** Latency in ms, with the precision a reader can use at each magnitude. */
export function formatMs(ms) {
  if (ms === null || ms === undefined) return DASH;
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < 10000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

export function formatRate(perS) {
  if (perS === null || perS === undefined) return DASH;
  return perS < 10 ? perS.toFixed(2) : perS < 100 ? perS.toFixed(1) : nf.format(Math.round(perS));
}

export function formatPercent(share) {
  if (share === null || share === undefined) return DASH;
  return `${(share * 100).toFixed(share < 0.1 ? 2 : 1)} %`;
}

const pad = (n) => String(n).padStart(2, '0');

/** Local `YYYY-MM-DD HH:MM:SS`: unambiguous, sortable, and what server logs look like. */
export function formatDateTime(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Axis tick labels: clock time, with the day once the window spans days. */
export function formatTick(ms, spanMs) {
  const d = new Date(ms);
  const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return spanMs > 24 * 3600 * 1000 ? `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock}` : clock;
}
