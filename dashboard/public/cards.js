// One card per app: figures from the snapshot and the last 5 minutes, the thread-limit form, and
// the app's two charts. Cards are built once from the <template> and then only updated, so a
// live update never steals focus or overwrites what the operator is typing.

import { putThreads } from './api.js';
import { createAppCharts } from './charts.js';
import { DASH, formatCount, formatMs, formatPercent, formatRate } from './format.js';

export function createCard(app, container, { onChanged, announce }) {
  const template = document.getElementById('app-template');
  // importNode, not cloneNode: a template's content belongs to an inert document without a
  // window, where chart.js cannot measure the canvas.
  const root = document.importNode(template.content.firstElementChild, true);
  const id = `app-${cssSafe(app.name)}`;
  root.id = id;
  root.dataset.app = app.name;
  root.querySelector('.app-name').textContent = app.name;

  const input = root.querySelector('.threads-input');
  input.id = `${id}-threads`;
  const message = root.querySelector('.form-message');
  message.id = `${id}-threads-message`;
  input.setAttribute('aria-describedby', message.id);
  const form = root.querySelector('.threads-form');
  const button = form.querySelector('button');

  // Typing marks the field as the operator's; live updates leave it alone until Apply or Escape.
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
    // The server is the validator: send what was typed and show its answer, whatever it is.
    const body = raw === '' ? {} : { threads: Number.isFinite(Number(raw)) ? Number(raw) : raw };
    button.disabled = true;
    setMessage(message, 'Applying…', 'pending');
    try {
      const result = await putThreads(app.name, body);
      delete input.dataset.dirty;
      input.dataset.current = String(result.newThreads);
      input.value = String(result.newThreads);
      const text = `${app.name}: thread limit ${result.oldThreads} → ${result.newThreads}`;
      setMessage(message, `Applied: ${result.oldThreads} → ${result.newThreads}`, 'ok');
      announce(text, 'ok');
      onChanged(app.name);
    } catch (err) {
      setMessage(message, `Not applied: ${err.message}`, 'error');
      announce(`${app.name}: thread limit not changed: ${err.message}`, 'error');
    } finally {
      button.disabled = false;
    }
  });

  // In the page before the charts exist: chart.js sizes them from the laid-out container.
  container.append(root);
  const charts = createAppCharts(root.querySelector('.latency-chart'), root.querySelector('.throughput-chart'));
  const card = {
    root,
    charts,
    update(next) {
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
      };
      for (const [key, text] of Object.entries(figures)) root.querySelector(`[data-f="${key}"]`).textContent = text;
      root.querySelector('[data-f="queued"]').classList.toggle('warn', next.queued > 0);
      root.querySelector('[data-f="rejected"]').classList.toggle('warn', next.rejected > 0);
      input.dataset.current = String(next.threads);
      if (!input.dataset.dirty && document.activeElement !== input) input.value = String(next.threads);
    },
    setStale(stale) {
      root.classList.toggle('stale', stale);
    },
  };
  card.update(app);
  return card;
}

function setMessage(el, text, kind) {
  el.textContent = text;
  el.dataset.kind = kind;
}

function cssSafe(name) {
  return name.replace(/[^A-Za-z0-9_-]/g, '_');
}
