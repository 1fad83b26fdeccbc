// Where an app's time goes, under its card: its routes over the chosen window (sortable, largest
// total time first), its slowest requests, the requests running now and its worker processes
// (both refreshed while the panel is open; a request running longer than STUCK_MS is marked, so
// a hung one is plain to see; a worker's CPU % is its CPU time over the time between two reads).
// A click (or Enter) on a route opens its latency chart under the table, over the same window.
// Cells are text, never HTML: routes and paths come from clients.

import { api } from './api.js';
import { showNote } from './chart-notes.js';
import { createRouteChart } from './charts.js';
import { formatDuration } from './duration.js';
import { formatCount, formatDateTime, formatMs } from './format.js';

const WINDOW_LABELS = { '15m': 'last 15 min', '1h': 'last hour', '6h': 'last 6 h', '24h': 'last 24 h', '7d': 'last 7 days' };
const INFLIGHT_REFRESH_MS = 2000;
/** A request older than this is marked as possibly stuck. */
const STUCK_MS = 5000;
const SLOWEST_SHOWN = 10;

const COLUMNS = {
  route: (r) => `${r.method} ${r.route}`,
  count: (r) => r.count,
  errors: (r) => r.errors,
  p50Ms: (r) => r.p50Ms ?? -1,
  p95Ms: (r) => r.p95Ms ?? -1,
  p99Ms: (r) => r.p99Ms ?? -1,
  totalMs: (r) => r.totalMs,
};

export function createRoutePanel(root, appName) {
  const panel = root.querySelector('.route-panel');
  const q = (sel) => panel.querySelector(sel);
  const base = `/api/apps/${encodeURIComponent(appName)}`;
  let routes = [];
  let sort = { key: 'totalMs', descending: true };
  let window = '1h';
  let timer = null;
  /** pid -> the previous read's { cpuSeconds, atMs }, for CPU %. */
  let lastCpu = new Map();
  /** The route whose chart is open ({ method, route }), or null. */
  let selected = null;
  /** Created on the first click: chart.js needs the figure shown to size its canvas. */
  let chart = null;
  const figure = q('.route-chart');

  q('.route-chart-close').addEventListener('click', () => {
    selected = null;
    figure.hidden = true;
    renderRoutes();
  });

  for (const button of panel.querySelectorAll('.routes-table th button')) {
    button.addEventListener('click', () => {
      const key = button.dataset.sort;
      // Text sorts A-Z first; figures largest first.
      sort = sort.key === key ? { key, descending: !sort.descending } : { key, descending: key !== 'route' };
      renderRoutes();
    });
  }

  function renderRoutes() {
    const value = COLUMNS[sort.key];
    const sorted = [...routes].sort((a, b) => {
      const x = value(a), y = value(b);
      const order = typeof x === 'string' ? x.localeCompare(y) : x - y;
      return sort.descending ? -order : order;
    });
    for (const th of panel.querySelectorAll('.routes-table th')) {
      const key = th.querySelector('button')?.dataset.sort;
      th.setAttribute('aria-sort', key === sort.key ? (sort.descending ? 'descending' : 'ascending') : 'none');
    }
    q('.routes-table tbody').replaceChildren(...sorted.map((r) => {
      const tr = row([
        code(`${r.method} ${r.route}`), formatCount(r.count), formatCount(r.errors), formatMs(r.p50Ms), formatMs(r.p95Ms), formatMs(r.p99Ms), formatMs(r.totalMs),
      ]);
      const isSelected = selected !== null && selected.method === r.method && selected.route === r.route;
      tr.tabIndex = 0;
      tr.title = 'Show this route\'s latency chart';
      tr.setAttribute('aria-selected', String(isSelected));
      if (isSelected) tr.classList.add('selected');
      const open = () => {
        selected = { method: r.method, route: r.route };
        renderRoutes();
        void loadRouteChart();
      };
      tr.addEventListener('click', open);
      tr.addEventListener('keydown', (event) => {
        if (event.key === 'Enter') open();
      });
      return tr;
    }));
  }

  async function loadRouteChart() {
    if (selected === null) return;
    const { method, route } = selected;
    figure.hidden = false;
    q('.route-chart-name').textContent = `${method} ${route}`;
    chart ??= createRouteChart(q('.route-latency-chart'));
    const query = new URLSearchParams({ window, method, route });
    try {
      const series = await api(`${base}/routes/series?${query}`);
      // Another route may have been clicked while this one was read.
      if (selected?.method !== method || selected?.route !== route) return;
      chart.update(series);
    } catch (err) {
      showNote(q('.route-latency-chart'), `Could not be read: ${err.message}`);
    }
  }

  function empty(selector, text) {
    const note = q(selector);
    note.textContent = text;
    note.hidden = text === '';
  }

  async function loadHistory() {
    q('.route-window').textContent = `· ${WINDOW_LABELS[window] ?? window}`;
    const [r, s] = await Promise.all([api(`${base}/routes?window=${window}`), api(`${base}/slowest?window=${window}&limit=${SLOWEST_SHOWN}`)]);
    routes = r.routes;
    renderRoutes();
    const why = r.historyUnavailable ? `history unavailable: ${r.historyUnavailable}` : !r.history ? 'No timing store: routes are not recorded.' : '';
    empty('.routes-empty', routes.length > 0 ? '' : why || 'No requests in this window.');
    q('.slowest-table tbody').replaceChildren(...s.requests.map((x) => row([
      formatDateTime(x.atMs), code(`${x.method} ${x.path ?? '(path not recorded)'}`), code(x.route ?? '—'), String(x.status), formatMs(x.queueMs), formatMs(x.serviceMs),
    ])));
    empty('.slowest-empty', s.requests.length > 0 ? '' : why || 'No requests in this window.');
  }

  async function loadInflight() {
    const body = await api(`${base}/inflight`);
    q('.inflight-table tbody').replaceChildren(...body.requests.map((x) => {
      const stuck = x.ageMs >= STUCK_MS;
      const tr = row([formatMs(x.ageMs), code(`${x.method} ${x.path}`), code(x.route), String(x.worker), x.queued ? 'queued' : stuck ? 'running: stuck?' : 'running']);
      if (stuck) tr.classList.add('stuck');
      return tr;
    }));
    empty('.inflight-empty', body.requests.length > 0 ? '' : body.available ? 'Nothing running now.' : 'Not available: this dashboard reads the runtime through its stats port.');
  }

  async function loadWorkers() {
    const body = await api(`${base}/processes`);
    const seen = new Map();
    q('.workers-table tbody').replaceChildren(...body.workers.map((w) => {
      const before = lastCpu.get(w.pid);
      seen.set(w.pid, { cpuSeconds: w.cpuSeconds, atMs: body.atMs });
      const cpu = before && body.atMs > before.atMs ? `${(((w.cpuSeconds - before.cpuSeconds) * 1000 / (body.atMs - before.atMs)) * 100).toFixed(1)} %` : '…';
      return row([String(w.pid), formatDuration((body.atMs - w.startedAtMs) / 1000) || '0s', cpu, `${(w.rssBytes / 1048576).toFixed(1)} MiB`, formatCount(w.requests), w.state]);
    }));
    lastCpu = seen;
    empty('.workers-empty', body.workers.length > 0 ? '' : body.available ? 'No worker processes: the app runs inside the server.' : 'Not available: this dashboard reads the runtime through its stats port.');
  }

  function schedule() {
    clearTimeout(timer);
    timer = panel.open ? setTimeout(() => void refreshInflight(), INFLIGHT_REFRESH_MS) : null;
  }

  async function refreshInflight() {
    try {
      await loadInflight();
    } catch (err) {
      empty('.inflight-empty', `Could not be read: ${err.message}`);
    }
    try {
      await loadWorkers();
    } catch (err) {
      empty('.workers-empty', `Could not be read: ${err.message}`);
    }
    schedule();
  }

  async function refresh() {
    if (!panel.open) return;
    try {
      await loadHistory();
    } catch (err) {
      empty('.routes-empty', `Could not be read: ${err.message}`);
    }
    await loadRouteChart();
    await refreshInflight();
  }

  panel.addEventListener('toggle', () => (panel.open ? void refresh() : schedule()));

  return {
    /** The chart window changed, or the history is to be read again. */
    load(nextWindow) {
      window = nextWindow;
      void refresh();
    },
    destroy() {
      clearTimeout(timer);
      chart?.destroy();
    },
  };
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const cell of cells) {
    const td = document.createElement('td');
    if (typeof cell === 'string') td.textContent = cell;
    else td.append(cell);
    tr.append(td);
  }
  return tr;
}

function code(text) {
  const el = document.createElement('code');
  el.textContent = text;
  return el;
}
