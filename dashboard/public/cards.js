// One card per app: figures from the snapshot and the last 5 minutes, the worker processes, the
// thread-limit and worker-count forms, the Reload button, and the app's two charts. Cards are
// built once from the <template> and then only updated, so a live update never steals focus or
// overwrites what the operator is typing.

import { postReload, putThreads, putWorkers } from './api.js';
import { createAppCharts } from './charts.js';
import { DASH, formatCount, formatMs, formatPercent, formatRate } from './format.js';
import { formatDuration } from './duration.js';
import { setupThreadsMode } from './threads-mode.js';

export function createCard(app, container, { onChanged, announce }) {
  const template = document.getElementById('app-template');
  // importNode, not cloneNode: a template's content belongs to an inert document without a
  // window, where chart.js cannot measure the canvas.
  const root = document.importNode(template.content.firstElementChild, true);
  const id = `app-${cssSafe(app.name)}`;
  root.id = id;
  root.dataset.app = app.name;
  root.querySelector('.app-name').textContent = app.name;

  const threadsSetting = setupSettingForm(root.querySelector('.threads-form'), {
    id, name: app.name, field: 'threads', noun: 'thread limit', announce,
    put: async (body) => {
      const r = await putThreads(app.name, body);
      onChanged(app.name, { oldThreads: r.oldThreads, newThreads: r.newThreads });
      return [r.oldThreads, r.newThreads];
    },
  });
  const workerForm = root.querySelector('.workers-form');
  const workersSetting = setupSettingForm(workerForm, {
    id, name: app.name, field: 'workers', noun: 'workers', announce,
    put: async (body) => {
      const r = await putWorkers(app.name, body);
      onChanged(app.name);
      return [r.oldWorkers, r.newWorkers];
    },
  });

  const reload = setupReload(root, app.name, id, { onChanged, announce });
  const mode = setupThreadsMode(root, app.name, id, { onChanged, announce });

  // In the page before the charts exist: chart.js sizes them from the laid-out container.
  container.append(root);
  const charts = createAppCharts(root.querySelector('.latency-chart'), root.querySelector('.throughput-chart'));
  const card = {
    root,
    charts,
    /** The limit now, for the limit line's end. */
    threads: app.threads,
    update(next) {
      card.threads = next.threads;
      mode.update(next);
      root.querySelector('.app-listen').textContent = next.mount && next.mount !== '/' ? `${next.listen} ${next.mount}` : next.listen;
      const recent = next.recent;
      const figures = {
        online: formatCount(next.online),
        queued: formatCount(next.queued),
        reqPerS: recent ? formatRate(recent.reqPerS) : DASH,
        errorRate: recent ? formatPercent(recent.errorRate) : DASH,
        rejected: formatCount(next.rejected),
        timeouts: formatCount(next.timeouts),
        aborted: formatCount(next.aborted),
        requests: formatCount(next.requests),
        p50: recent ? formatMs(recent.service.p50) : DASH,
        p95: recent ? formatMs(recent.service.p95) : DASH,
        p99: recent ? formatMs(recent.service.p99) : DASH,
        websockets: formatCount(next.websockets),
        upgrades: formatCount(next.upgrades),
        ...workerFigures(next, reload.update(next)),
      };
      for (const [key, text] of Object.entries(figures)) root.querySelector(`[data-f="${key}"]`).textContent = text;
      // Over what the rate is: the recorded part of the window, and whether an earlier run's
      // requests are in it (the `requests` counter beside it is this run's only).
      root.querySelector('[data-f="reqPerS"]').title = recentRateNote(recent);
      root.querySelector('[data-f="queued"]').classList.toggle('warn', next.queued > 0);
      root.querySelector('[data-f="rejected"]').classList.toggle('warn', next.rejected > 0);
      root.querySelector('[data-f="restarts"]').classList.toggle('warn', next.restarts > 0);
      root.querySelector('[data-f="hangs"]').classList.toggle('warn', next.hangs > 0);
      // Only an app that has taken an upgrade: an SCGI app never can, and most HTTP apps never do.
      root.querySelector('.figures.websockets').hidden = !(next.upgrades > 0 || next.websockets > 0);
      const workers = root.querySelector('[data-f="workers"]');
      workers.classList.toggle('warn', next.backoffMs > 0);
      workers.title = next.workerPids.length > 0 ? `pids ${next.workerPids.join(' ')}` : '';
      const state = root.querySelector('.worker-state');
      state.hidden = !(next.backoffMs > 0);
      // Whole seconds, rounded up: "restarting in 0 s" would read as "now" while it still waits.
      if (next.backoffMs > 0) state.textContent = `restarting in ${Math.ceil(next.backoffMs / 1000)} s`;
      threadsSetting.show(next.threads);
      // In-process apps have no workers to scale. The field shows the live count: a scale answers
      // only once it is reached (added workers listen, the surplus drained).
      workerForm.hidden = !reload.hasWorkers();
      workersSetting.show(next.workers);
    },
    setStale(stale) {
      root.classList.toggle('stale', stale);
    },
    /** Null shows the charts; a reason (the store could not be read) shows it in their place. */
    setHistoryUnavailable(reason) {
      const note = root.querySelector('.history-note');
      note.hidden = reason === null;
      note.textContent = reason === null ? '' : `history unavailable: ${reason}`;
      for (const figure of root.querySelectorAll('.charts > .chart')) figure.hidden = reason !== null;
    },
  };
  card.update(app);
  return card;
}

/** The req/s figure's hover text, e.g. "over 3m 20s recorded in the last 5 min, 2 server runs". */
export function recentRateNote(recent) {
  if (!recent || recent.recordedMs === null || recent.recordedMs === undefined) return '';
  const runs = recent.runs > 1 ? `, ${recent.runs} server runs (an earlier run's requests included)` : '';
  return `over ${formatDuration(recent.recordedMs / 1000) || '00s'} recorded in the last 5 min${runs}`;
}

/** The workers row: a live count, or "in-process" where restarts and hangs cannot happen. */
function workerFigures(next, hasWorkers) {
  if (!hasWorkers) return { workers: 'in-process', restarts: DASH, hangs: DASH };
  return { workers: formatCount(next.workers), restarts: formatCount(next.restarts), hangs: formatCount(next.hangs) };
}

/**
 * The Reload button and its confirm step: "Reload…" asks, "Reload now" posts, Cancel or Escape
 * backs out. Shown for apps with worker processes only; update() says whether this is one.
 */
function setupReload(root, name, id, { onChanged, announce }) {
  const box = root.querySelector('.reload-box');
  const start = box.querySelector('.reload-start');
  const confirm = box.querySelector('.reload-confirm');
  const yes = box.querySelector('.reload-yes');
  const no = box.querySelector('.reload-no');
  const message = box.querySelector('.reload-message');
  message.id = `${id}-reload-message`;
  start.setAttribute('aria-describedby', message.id);
  start.setAttribute('aria-label', `Reload ${name}…`);
  // Sticky: a crash-looping app has no live worker while it backs off, and between a crash and
  // the restart it may not even be backing off, yet it is still an app that can be reloaded.
  let workerApp = false;

  // While a reload runs the button stays focusable (aria-disabled, not disabled): focus returns
  // to it from the confirm step, and a disabled button would drop it to the page.
  let busy = false;

  const ask = (asking) => {
    start.hidden = asking;
    confirm.hidden = !asking;
    (asking ? yes : start).focus();
  };
  start.addEventListener('click', () => {
    if (!busy) ask(true);
  });
  no.addEventListener('click', () => ask(false));
  confirm.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') ask(false);
  });
  yes.addEventListener('click', async () => {
    busy = true;
    start.setAttribute('aria-disabled', 'true');
    ask(false);
    setMessage(message, 'Reloading…', 'pending');
    try {
      const r = await postReload(name);
      const text = `${pidList(r.oldPids)} → ${pidList(r.newPids)} in ${formatMs(r.tookMs)}`;
      setMessage(message, `Reloaded: ${text}`, 'ok');
      announce(`${name}: reloaded, pids ${text}`, 'ok');
      onChanged(name);
    } catch (err) {
      setMessage(message, `Not reloaded: ${err.message}`, 'error');
      announce(`${name}: not reloaded: ${err.message}`, 'error');
    } finally {
      busy = false;
      start.removeAttribute('aria-disabled');
    }
  });

  return {
    /** Shows or hides the box for this snapshot; returns whether the app has worker processes. */
    update(next) {
      workerApp ||= next.workers > 0 || next.backoffMs > 0 || next.restarts > 0 || next.hangs > 0;
      box.hidden = !workerApp;
      return workerApp;
    },
    hasWorkers: () => workerApp,
  };
}

/**
 * A number the operator sets (the thread limit, the worker count) and its Apply button. Typing
 * marks the field as the operator's: live updates leave it alone until Apply or Escape. The
 * server is the validator: what was typed is sent and its answer shown, whatever it is.
 * `put(body)` resolves with [old, new].
 */
function setupSettingForm(form, { id, name, field, noun, put, announce }) {
  const input = form.querySelector('input');
  input.id = `${id}-${field}`;
  const message = form.querySelector('.form-message');
  message.id = `${id}-${field}-message`;
  input.setAttribute('aria-describedby', message.id);
  const button = form.querySelector('button');

  input.addEventListener('input', () => {
    input.dataset.dirty = '1';
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      delete input.dataset.dirty;
      input.value = input.dataset.current ?? '';
    }
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const raw = input.value.trim();
    const body = raw === '' ? {} : { [field]: Number.isFinite(Number(raw)) ? Number(raw) : raw };
    button.disabled = true;
    setMessage(message, 'Applying…', 'pending');
    try {
      const [before, after] = await put(body);
      delete input.dataset.dirty;
      input.dataset.current = String(after);
      input.value = String(after);
      setMessage(message, `Applied: ${before} → ${after}`, 'ok');
      announce(`${name}: ${noun} ${before} → ${after}`, 'ok');
    } catch (err) {
      setMessage(message, `Not applied: ${err.message}`, 'error');
      announce(`${name}: ${noun} not changed: ${err.message}`, 'error');
    } finally {
      button.disabled = false;
    }
  });
  return {
    /** The live value, shown unless the operator is editing the field. */
    show(value) {
      input.dataset.current = String(value);
      if (!input.dataset.dirty && document.activeElement !== input) input.value = String(value);
    },
  };
}

function pidList(pids) {
  return pids.length > 0 ? pids.join(' ') : 'none';
}

function setMessage(el, text, kind) {
  el.textContent = text;
  el.dataset.kind = kind;
}

function cssSafe(name) {
  return name.replace(/[^A-Za-z0-9_-]/g, '_');
}
