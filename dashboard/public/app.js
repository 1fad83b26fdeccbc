// The dashboard page: header and cards from live updates (server-sent events, or polling at no
// more than once a second when the stream fails), per-app charts for the chosen window, the
// audit log and the worker events. Everything it shows comes from the documented JSON API.

import { api, ApiError } from './api.js';
import { createCard } from './cards.js';
import { formatDuration } from './duration.js';
import { DASH, formatCount, formatDateTime } from './format.js';
import { EVENT_STYLES, eventGlyph } from './markers.js';
import { createRoutePanel } from './route-panel.js';

/** Polling pace when the event stream is down: at least once per second. */
const POLL_INTERVAL_MS = 2000;
/** How often a page that fell back to polling tries the event stream again. */
const SSE_RETRY_MS = 15000;
/** Charts and the two tables change slowly (rollup buckets); refresh them at this pace. */
const HISTORY_REFRESH_MS = 15000;

const $ = (id) => document.getElementById(id);
const cards = new Map();
let chartWindow = '15m';
let overview = null;
let overviewAtMs = 0;
let lastGoodAtMs = null;
/** Why the timing store could not be read, as the last live update said; null when it could. */
let historyUnavailable = null;

// ---- header, banner, status ---------------------------------------------------------------

function renderOverview(next) {
  if (next.reachable) {
    overview = next;
    overviewAtMs = performance.now();
    lastGoodAtMs = Date.now();
    $('version').textContent = next.version ? `v${next.version}` : '';
    $('pid').textContent = String(next.pid);
    $('start-time').textContent = formatDateTime(next.startTimeMs);
    $('start-time').dateTime = new Date(next.startTimeMs).toISOString();
    $('requests').textContent = formatCount(next.requests);
    $('online').textContent = formatCount(next.online);
    tickUptime();
  }
  if (!next.reachable) setLiveState('runtime down', 'bad');
  showUnreachable(
    next.reachable ? null : `The runtime did not answer (${next.error ?? 'no reason given'}).`,
    'Runtime unreachable.',
    // The dashboard answers and reads the timing store: only the runtime's own figures are old.
    'Live figures (in flight, queued, counters) are the last ones read; the charts and 5-minute figures come from the timing store and stay current. The dashboard keeps asking the runtime by itself.',
  );
}

/**
 * Null hides the banner; otherwise it says what is wrong, since when, and what still works.
 * Each case says its own outcome: a signed-out page does not "keep retrying".
 */
function showUnreachable(reason, title, outcome = '') {
  const banner = $('unreachable');
  banner.hidden = reason === null;
  document.body.classList.toggle('degraded', reason !== null);
  if (reason === null) return;
  $('unreachable-title').textContent = title;
  const since = lastGoodAtMs ? ` Last figures read at ${formatDateTime(lastGoodAtMs)}.` : '';
  $('unreachable-reason').textContent = `${reason}${since}`;
  $('unreachable-outcome').textContent = outcome;
  for (const card of cards.values()) card.setStale(true);
}

/** The uptime ticks every second from the last figure, in the runtime's uptime_str format. */
function tickUptime() {
  if (!overview || document.body.classList.contains('degraded')) return;
  const seconds = overview.uptimeS + (performance.now() - overviewAtMs) / 1000;
  $('uptime').textContent = formatDuration(seconds) || '00s';
}

function setLiveState(text, kind) {
  const pill = $('live-state');
  pill.textContent = text;
  pill.className = `pill pill-${kind}`;
}

let statusTimer = null;
function announce(text, kind) {
  const el = $('status');
  el.textContent = text;
  el.dataset.kind = kind;
  clearTimeout(statusTimer);
  // Successes fade; errors stay until the next message so they are not missed.
  if (kind === 'ok') statusTimer = setTimeout(() => { el.textContent = ''; }, 8000);
}

// ---- cards --------------------------------------------------------------------------------

function renderApps(next) {
  // Unreachable, the answer lists the apps last seen: their cards are made or kept (marked
  // stale), so the charts the timing store still has stay on the page.
  const container = $('apps');
  const seen = new Set();
  for (const app of next.apps) {
    seen.add(app.name);
    let card = cards.get(app.name);
    if (!card) {
      card = createCard(app, container, { onChanged: refreshAfterChange, announce });
      card.routes = createRoutePanel(card.root, app.name);
      cards.set(app.name, card);
      void loadSeries(app.name);
    } else {
      card.update(app);
    }
    card.setStale(!next.reachable);
  }
  for (const [name, card] of cards) {
    // Only a runtime that answered can say an app is gone.
    if (next.reachable && !seen.has(name)) {
      card.charts.destroy();
      card.routes.destroy();
      card.root.remove();
      cards.delete(name);
    }
  }
  $('apps-empty').hidden = cards.size > 0;
  // The store lost or back: the charts and tables say so now, not at their next refresh.
  const reason = next.historyUnavailable ?? null;
  if (reason !== historyUnavailable) {
    historyUnavailable = reason;
    refreshHistory();
  }
}

// ---- charts and audit ---------------------------------------------------------------------

async function loadSeries(name) {
  try {
    const series = await api(`/api/apps/${encodeURIComponent(name)}/series?window=${chartWindow}`);
    const card = cards.get(name);
    card?.charts.update(series, card.threads ?? null);
    card?.setHistoryUnavailable(series.historyUnavailable ?? null);
    card?.routes.load(chartWindow);
  } catch (err) {
    announce(`Charts for ${name} could not be loaded: ${err.message}`, 'error');
  }
}

/**
 * Fills a table body with one row per entry; cells are text or nodes, never HTML. An empty table
 * says why when the timing store could not be read, rather than "no changes yet".
 */
function fillTable(tableId, emptyId, { entries, historyUnavailable = null }, cellsOf) {
  $(tableId).tBodies[0].replaceChildren(
    ...entries.map((e) => {
      const row = document.createElement('tr');
      const when = document.createElement('time');
      when.dateTime = new Date(e.atMs).toISOString();
      when.textContent = formatDateTime(e.atMs);
      for (const content of [when, ...cellsOf(e)]) {
        const cell = document.createElement('td');
        cell.append(content);
        row.append(cell);
      }
      return row;
    }),
  );
  const empty = $(emptyId);
  empty.dataset.normal ??= empty.textContent;
  empty.textContent = historyUnavailable ? `history unavailable: ${historyUnavailable}` : empty.dataset.normal;
  empty.hidden = entries.length > 0;
}

/**
 * Changes this page applied that the audit log has not shown yet. The runtime audits a change
 * through the timing store's writer, a moment after answering, so a table read at once could say
 * "No changes yet" right under "Applied: 2 → 5"; such a change is shown as
 * being recorded until the log has it (or for a minute, if the store is not writing).
 */
const PENDING_AUDIT_MS = 60_000;
/** Re-reads of the audit log after a change, ms after it: the store writes within ~200 ms. */
const AUDIT_RETRY_MS = [300, 1000, 2500, 6000];
let pendingAudit = [];

function isRecorded(pending, entries) {
  return entries.some((e) => e.app === pending.app && e.oldThreads === pending.oldThreads && e.newThreads === pending.newThreads && e.atMs >= pending.atMs - 5000);
}

async function loadAudit() {
  try {
    const { entries, historyUnavailable } = await api('/api/audit?limit=50');
    pendingAudit = pendingAudit.filter((p) => !isRecorded(p, entries) && Date.now() - p.atMs < PENDING_AUDIT_MS);
    const shown = [...pendingAudit.map((p) => ({ ...p, source: 'this page (being recorded…)' })), ...entries];
    fillTable('audit', 'audit-empty', { entries: shown, historyUnavailable }, (e) => [e.app, `${e.oldThreads} → ${e.newThreads}`, e.source || DASH]);
  } catch (err) {
    announce(`The audit log could not be loaded: ${err.message}`, 'error');
  }
}

/** The kind in its marker's colour and glyph, so the table reads like the charts' legend. */
function eventKind(kind) {
  const span = document.createElement('span');
  span.className = `event-kind event-${EVENT_STYLES[kind] ? kind : 'other'}`;
  span.textContent = `${eventGlyph(kind)} ${kind}`;
  return span;
}

async function loadEvents() {
  try {
    const answer = await api('/api/runtime-events?limit=50');
    fillTable('runtime-events', 'runtime-events-empty', answer, (e) => [
      e.app,
      eventKind(e.kind),
      e.pid > 0 ? String(e.pid) : 'all',
      e.detail || DASH,
      e.source || DASH,
    ]);
  } catch (err) {
    announce(`The worker events could not be loaded: ${err.message}`, 'error');
  }
}

function refreshHistory() {
  for (const name of cards.keys()) void loadSeries(name);
  void loadAudit();
  void loadEvents();
}

function refreshAfterChange(name, change) {
  if (change) pendingAudit.unshift({ atMs: Date.now(), app: name, ...change });
  void loadSeries(name);
  void loadAudit();
  void loadEvents();
  for (const ms of AUDIT_RETRY_MS) setTimeout(() => void loadAudit(), ms);
}

function setupWindowChoice() {
  const buttons = document.querySelectorAll('.window-choice button');
  const mark = () => buttons.forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.window === chartWindow)));
  for (const button of buttons) {
    button.addEventListener('click', () => {
      chartWindow = button.dataset.window;
      mark();
      for (const name of cards.keys()) void loadSeries(name);
    });
  }
  mark();
}

// ---- live updates: SSE first, polling as the fallback --------------------------------------

let pollTimer = null;
let events = null;

function applyFrame(frame) {
  renderOverview(frame.overview);
  renderApps(frame.apps);
}

function connectEvents() {
  if (typeof EventSource === 'undefined') return startPolling();
  events = new EventSource('/api/events');
  events.addEventListener('update', (event) => {
    stopPolling();
    setLiveState('live', 'ok');
    applyFrame(JSON.parse(event.data)); // may restate the pill as "runtime down"
  });
  events.addEventListener('error', () => {
    // EventSource would retry on its own, but a 401 or a proxy that buffers never recovers:
    // poll instead, and give the stream another chance later.
    events.close();
    events = null;
    startPolling();
    setTimeout(connectEvents, SSE_RETRY_MS);
  });
}

function startPolling() {
  if (pollTimer) return;
  setLiveState('polling', 'wait');
  const poll = async () => {
    try {
      const [ov, apps] = await Promise.all([api('/api/overview'), api('/api/apps')]);
      setLiveState('polling', 'wait');
      applyFrame({ overview: ov, apps });
    } catch (err) {
      setLiveState('offline', 'bad');
      const signedOut = err instanceof ApiError && err.status === 401;
      showUnreachable(
        signedOut ? 'The session has ended: open the login URL again.' : `${err.message}.`,
        signedOut ? 'Signed out.' : 'Dashboard unreachable.',
        signedOut ? 'Nothing on this page updates until you sign in again.' : 'Everything on this page is as last read; the page keeps trying by itself.',
      );
    }
  };
  void poll();
  pollTimer = setInterval(poll, POLL_INTERVAL_MS);
}

function stopPolling() {
  if (!pollTimer) return;
  clearInterval(pollTimer);
  pollTimer = null;
}

/** Ends the session on the server (not just the cookie), then shows the signed-out page. */
function setupSignOut() {
  document.getElementById('sign-out').addEventListener('click', async () => {
    events?.close();
    stopPolling();
    await fetch('/logout', { method: 'POST', credentials: 'same-origin', redirect: 'manual' }).catch(() => {});
    location.assign('/');
  });
}

// ---- start ---------------------------------------------------------------------------------

setupSignOut();
setupWindowChoice();
setInterval(tickUptime, 1000);
setInterval(refreshHistory, HISTORY_REFRESH_MS);
void loadAudit();
void loadEvents();
connectEvents();
