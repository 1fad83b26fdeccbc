/**
 * The dashboard in a real browser (Debian chromium via playwright-core), against a real SQLite
 * history written by the runtime's store writer and an in-memory runtime: login through the
 * printed URL, a card per app, charts really drawn with limit and worker-event markers, a limit
 * changed by keyboard reaching the runtime, a reload through its confirm step, API errors shown
 * on the page, the unreachable banner coming and going by itself, no console errors, and a
 * screenshot for the README.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it, before, after } from 'node:test';
import { openHistoryReader } from '../../shared/store/history-reader.js';
import type { HistoryReader } from '../../shared/history.js';
import {
  cardNames,
  logIn,
  markerPixels,
  paintedPixels,
  saveScreenshot,
  setThreadsByKeyboard,
  startDashboardFixture,
  type DashboardFixture,
  type PageDocument,
} from './dashboard-fixture.js';
import { createFakeRuntime, fakeApp, IN_PROCESS, type FakeRuntime } from './fake-runtime.js';
import { seedHistory, type SeededStore } from './seed-history.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { scaledMs, waitUntil } from '../helpers/wait.js';

/** How long the page may take to show what a test waits for: Chromium is slow on a busy machine. */
const UI_WAIT_MS = scaledMs(30_000);

// Used inside page callbacks only; see PageDocument.
declare const document: PageDocument;

/** Chart axes and labels alone paint well under this; data lines and bars paint far more. */
const MIN_PAINTED_PIXELS = 4000;
/** The worker-event markers' colours (dashboard/public/markers.js EVENT_STYLES). */
const HANG_COLOR = '#78350f';
const RELOAD_COLOR = '#db2777';

describe('dashboard in chromium', () => {
  let dir: string;
  let dbPath: string;
  let seeded: SeededStore;
  let history: HistoryReader;
  let runtime: FakeRuntime;
  let fx: DashboardFixture;

  before(async () => {
    dir = await makeTempDir('dash-browser');
    dbPath = join(dir, 'timing.db');
    seeded = await seedHistory({ path: dbPath, apps: ['shop', 'blog_v2'] });
    history = openHistoryReader(dbPath);
    // Wait until the writer thread has rolled the seeded rows up.
    await waitUntil('the seeded history', () => history.summary('shop', Date.now() - 300_000, Date.now()).count > 0 && history.audit({}).length > 0 && history.events({}).length > 0, { intervalMs: 100 });
    runtime = createFakeRuntime([
      fakeApp('shop', { listen: '127.0.0.1:9000', threads: 4, online: 3, queued: 0, requests: 5040, rejected: 34, errors: 87, timeouts: 2, aborted: 1, restarts: 1, hangs: 1 }),
      fakeApp('blog_v2', { listen: 'unix:/run/dragon/blog.sock', mount: '/blog', threads: 2, online: 1, queued: 2, requests: 2520, rejected: 0, errors: 60, timeouts: 0, aborted: 3, ...IN_PROCESS }),
    ]);
    // As the runtime does: every applied change and every reload is audited in SQLite.
    runtime.onChange = (c) => seeded.store.recordLimitChange({ ...c, atMs: Date.now() });
    runtime.onReload = (r) =>
      seeded.store.recordEvent({ app: r.app, atMs: Date.now(), kind: 'reload', pid: 0, detail: `${r.oldPids.join(' ')} → ${r.newPids.join(' ')}`, source: r.source });
    fx = await startDashboardFixture({ control: runtime, history });
  });

  after(async () => {
    await fx?.close();
    history?.close();
    await seeded?.store.close();
    await removeTempDir(dir);
  });

  it('logs in through the printed URL and shows the header', async () => {
    await logIn(fx);
    const { page } = fx;
    assert.equal(new URL(page.url()).pathname, '/', 'the token left the address bar');
    assert.equal(await page.textContent('#pid'), '4242');
    assert.equal(await page.textContent('#version'), 'v2.0.0');
    const uptime = (await page.textContent('#uptime')) ?? '';
    assert.match(uptime, /^1d 02h 03m \d\ds$/);
    await page.waitForFunction((before) => document.getElementById('uptime')?.textContent !== before, uptime, { timeout: UI_WAIT_MS });
    assert.equal(await page.textContent('#requests'), '7,560');
    assert.equal(await page.textContent('#online'), '4');
    await page.waitForFunction(() => document.getElementById('live-state')?.textContent === 'live');
  });

  it('shows one card per app with its figures', async () => {
    const { page } = fx;
    assert.deepEqual(await cardNames(page), ['shop', 'blog_v2']);
    const shop = page.locator('article.app[data-app="shop"]');
    assert.equal(await shop.locator('.app-listen').textContent(), '127.0.0.1:9000');
    assert.equal(await shop.getByLabel('Thread limit').inputValue(), '4');
    assert.equal(await shop.locator('[data-f="rejected"]').textContent(), '34');
    assert.match((await shop.locator('[data-f="reqPerS"]').textContent()) ?? '', /^\d+\.\d\d$/);
    assert.match((await shop.locator('[data-f="p95"]').textContent()) ?? '', /ms$/);
    assert.match((await shop.locator('[data-f="errorRate"]').textContent()) ?? '', /%$/);
    const blog = page.locator('article.app[data-app="blog_v2"]');
    assert.equal(await blog.locator('.app-listen').textContent(), 'unix:/run/dragon/blog.sock /blog');
    // Worker processes: a live count with the pids on hover, restarts, hangs, and a Reload button;
    // an in-process app says so and offers no reload.
    assert.equal(await shop.locator('[data-f="workers"]').textContent(), '2');
    assert.equal(await shop.locator('[data-f="workers"]').getAttribute('title'), 'pids 5001 5002');
    assert.equal(await shop.locator('[data-f="restarts"]').textContent(), '1');
    assert.equal(await shop.locator('[data-f="hangs"]').textContent(), '1');
    assert.ok(await shop.getByRole('button', { name: 'Reload shop…' }).isVisible());
    assert.ok(await shop.locator('.worker-state').isHidden());
    assert.equal(await blog.locator('[data-f="workers"]').textContent(), 'in-process');
    assert.equal(await blog.locator('[data-f="restarts"]').textContent(), '—');
    assert.ok(await blog.locator('.reload-box').isHidden());
  });

  it('draws both charts per app, with a marker at the seeded limit change', async () => {
    const { page } = fx;
    await page.waitForFunction(
      (min) =>
        [...document.querySelectorAll('article.app .charts > .chart canvas')].every((el) => {
          const c = el;
          const data = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          if (data) for (let i = 3; i < data.length; i += 4) if ((data[i] ?? 0) > 0) n++;
          return n > min;
        }),
      MIN_PAINTED_PIXELS,
      { timeout: UI_WAIT_MS },
    );
    const charts = await paintedPixels(page);
    assert.equal(charts.length, 4);
    for (const c of charts) assert.ok(c.painted > MIN_PAINTED_PIXELS, `${c.app} ${c.chart}: ${c.painted} painted pixels`);
    assert.ok((await markerPixels(page, 'shop', 'latency-chart')) > 50, 'marker on the latency chart');
    assert.ok((await markerPixels(page, 'shop', 'throughput-chart')) > 50, 'marker on the throughput chart');
    assert.equal(await markerPixels(page, 'blog_v2', 'latency-chart'), 0, 'no marker where no change happened');
    // The seeded hang: its own colour, on both charts of its app only; listed in the events table.
    assert.ok((await markerPixels(page, 'shop', 'latency-chart', HANG_COLOR)) > 30, 'hang marker on the latency chart');
    assert.ok((await markerPixels(page, 'shop', 'throughput-chart', HANG_COLOR)) > 30, 'hang marker on the throughput chart');
    assert.equal(await markerPixels(page, 'blog_v2', 'latency-chart', HANG_COLOR), 0, 'no event marker where nothing happened');
    assert.match((await page.locator('#runtime-events tbody tr').first().textContent()) ?? '', /shop.*■ hang.*5003.*stuck for 30012 ms.*supervisor/);
    assert.match((await page.locator('article.app[data-app="shop"] canvas.latency-chart').getAttribute('aria-label')) ?? '', /1 worker event/);
    // The README's picture is refreshed on request only, so a test run never dirties the work tree:
    // UPDATE_SCREENSHOT=1 node --import tsx --test test/browser/dashboard.test.ts
    await saveScreenshot(page, 'dashboard', { docs: process.env.UPDATE_SCREENSHOT === '1' });
  });

  it('changes a thread limit by keyboard; the runtime gets it within a second', async () => {
    const { page } = fx;
    const started = Date.now();
    const message = await setThreadsByKeyboard(page, 'shop', '9');
    assert.match(message, /Applied: 4 → 9/);
    assert.ok(Date.now() - started < 1000, 'applied within 1 s');
    assert.equal(runtime.apps[0]?.threads, 9);
    assert.equal(runtime.calls.length, 1);
    assert.deepEqual(runtime.calls[0], { app: 'shop', threads: 9, source: 'dashboard 127.0.0.1' });
    assert.match((await page.textContent('#status')) ?? '', /shop: thread limit 4 → 9/);
    // The audit table (read back from SQLite) and a second marker follow. Until the log has the
    // change, the page shows its own row as "this page (being recorded…)".
    const row = page.locator('#audit tbody tr', { hasText: /4 → 9.*dashboard 127\.0\.0\.1/ });
    await row.waitFor({ timeout: UI_WAIT_MS });
    assert.match((await row.textContent()) ?? '', /shop.*4 → 9.*dashboard 127\.0\.0\.1/);
  });

  it('shows an API error on the page and changes nothing', async () => {
    const { page, problems } = fx;
    const seen = problems.length;
    const message = await setThreadsByKeyboard(page, 'blog_v2', '0');
    assert.match(message, /Not applied: threads must be an integer from 1 to 1024, got 0/);
    assert.match((await page.textContent('#status')) ?? '', /blog_v2: thread limit not changed/);
    assert.equal(runtime.calls.length, 1);
    assert.equal(runtime.apps[1]?.threads, 2);
    // Chromium logs every non-2xx fetch as a console error; that one 400 was expected.
    const fresh = problems.splice(seen);
    assert.ok(fresh.every((p) => /status of 400/.test(p)), fresh.join('\n'));
  });

  it('reloads an app through a confirm step and shows old and new pids, the time, and a marker', async () => {
    const { page } = fx;
    const card = page.locator('article.app[data-app="shop"]');
    const start = card.getByRole('button', { name: 'Reload shop…' });
    // Asking is not doing: Cancel (and Escape) back out, and focus returns to the button.
    await start.click();
    assert.ok(await card.getByRole('button', { name: 'Reload now' }).isVisible());
    await card.getByRole('button', { name: 'Cancel' }).click();
    assert.ok(await start.evaluate((el) => el === (el.ownerDocument as unknown as { activeElement: unknown }).activeElement));
    await start.press('Enter');
    await page.keyboard.press('Escape');
    assert.ok(await start.isVisible());
    assert.deepEqual(runtime.reloads, []);

    await start.press('Enter');
    await card.getByRole('button', { name: 'Reload now' }).press('Enter');
    const message = card.locator('.reload-message');
    await page.waitForFunction((el) => el?.getAttribute('data-kind') !== 'pending' && (el?.textContent ?? '') !== '', await message.elementHandle());
    assert.equal(await message.textContent(), 'Reloaded: 5001 5002 → 6001 6002 in 850 ms');
    assert.deepEqual(runtime.reloads, [{ app: 'shop', source: 'dashboard 127.0.0.1' }]);
    assert.match((await page.textContent('#status')) ?? '', /shop: reloaded, pids 5001 5002 → 6001 6002/);
    // The runtime's `reload` event, read back from SQLite: a row and a marker of its own colour.
    // The page reloads the series at once; a click on the window retries if the write was late.
    await page.locator('#runtime-events tbody tr', { hasText: 'reload' }).waitFor({ timeout: UI_WAIT_MS });
    await waitUntil('the reload marker drawn', async () => {
      if ((await markerPixels(page, 'shop', 'latency-chart', RELOAD_COLOR)) >= 30) return true;
      await page.click('.window-choice button[data-window="15m"]');
      return false;
    }, { intervalMs: 200 });
    await page.locator('article.app[data-app="shop"] [title="pids 6001 6002"]').waitFor({ timeout: UI_WAIT_MS });
  });

  it('shows a failed reload and a crash loop held back', async () => {
    const { page, problems } = fx;
    const seen = problems.length;
    const card = page.locator('article.app[data-app="shop"]');
    runtime.reloadError = new Error("SyntaxError: Unexpected token '}'");
    try {
      await card.getByRole('button', { name: 'Reload shop…' }).click();
      await card.getByRole('button', { name: 'Reload now' }).click();
      const message = card.locator('.reload-message');
      await page.waitForFunction((el) => el?.getAttribute('data-kind') === 'error', await message.elementHandle());
      assert.equal(await message.textContent(), "Not reloaded: cannot reload shop: SyntaxError: Unexpected token '}'");
      assert.match((await page.textContent('#status')) ?? '', /shop: not reloaded/);
    } finally {
      runtime.reloadError = null;
    }
    const fresh = problems.splice(seen);
    assert.ok(fresh.every((p) => /status of 409/.test(p)), fresh.join('\n'));

    // A crash loop: no worker alive, the next restart held back; the card says when, and a
    // reload (with fixed code) is still offered.
    const shop = runtime.apps[0]!;
    Object.assign(shop, { workers: 0, workerPids: [], restarts: 5, backoffMs: 4200 });
    try {
      await card.locator('.worker-state', { hasText: 'restarting in 5 s' }).waitFor({ timeout: UI_WAIT_MS });
      assert.equal(await card.locator('[data-f="workers"]').textContent(), '0');
      assert.ok(await card.getByRole('button', { name: 'Reload shop…' }).isVisible());
      await saveScreenshot(page, 'dashboard-backoff');
    } finally {
      Object.assign(shop, { workers: 2, workerPids: [6001, 6002], restarts: 1, backoffMs: 0 });
    }
    await card.locator('.worker-state').waitFor({ state: 'hidden', timeout: UI_WAIT_MS });
  });

  it('shows the runtime-unreachable banner and recovers by itself', async () => {
    const { page } = fx;
    runtime.down = true;
    await page.locator('#unreachable').waitFor({ state: 'visible', timeout: UI_WAIT_MS });
    assert.match((await page.textContent('#unreachable')) ?? '', /Runtime unreachable.*ECONNREFUSED/s);
    await saveScreenshot(page, 'dashboard-unreachable');
    runtime.down = false;
    await page.locator('#unreachable').waitFor({ state: 'hidden', timeout: UI_WAIT_MS });
    assert.equal(await page.locator('article.app.stale').count(), 0);
  });

  it('falls back to polling when the event stream is unavailable', async () => {
    const context = fx.browser.contexts()[0];
    assert.ok(context);
    const page = await context.newPage();
    await page.route('**/api/events', (route) => route.abort());
    try {
      await page.goto(new URL('/', fx.dashboard.loginUrl).href);
      await page.waitForFunction(() => document.getElementById('live-state')?.textContent === 'polling');
      await page.waitForSelector('article.app[data-app="shop"]');
      assert.equal(await page.locator('article.app[data-app="shop"]').getByLabel('Thread limit').inputValue(), '9');
    } finally {
      await page.close();
    }
  });

  it('reported no console errors, page errors or failed requests', () => {
    assert.deepEqual(fx.problems, []);
  });
});
