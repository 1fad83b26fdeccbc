/**
 * The routes panel in chromium, against worker processes and a real store as `serve` wires them:
 * the routes table by total time and sortable, a route's latency chart opened by a click, the slowest requests, the requests running now
 * with a long one marked as stuck, and the workers table; then the panel on a phone-sized viewport.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeScgiRequest, scgiRequest, sendRaw } from '../helpers/scgi-client.js';
import { toTarget } from '../helpers/runtime.js';
import { poolApp } from '../helpers/supervisor.js';
import { waitUntil } from '../helpers/wait.js';
import { logIn, openBrowserOn, saveScreenshot } from './dashboard-fixture.js';
import { startDashboardRuntime } from '../helpers/dashboard-runtime.js';

interface Cells { rows: string[][]; classes: string[] }

test('routes panel: routes by total time and sortable, a route\'s latency chart on a click, slowest requests, a long request marked stuck; usable on a phone', async (t) => {
  const runtime = await startDashboardRuntime(t, 'dash-routes', [poolApp({ name: 'shop', count: 1, threads: 4, hangTimeoutMs: 120_000 })], { drainTimeoutMs: 500, flushIntervalMs: 20 });
  const target = toTarget(runtime.server.addresses[0] as string);
  for (let i = 0; i < 8; i++) assert.equal((await scgiRequest(target, { uri: `/item/${i}` })).status, 200);
  assert.equal((await scgiRequest(target, { uri: '/cpu?ms=300' })).status, 200);
  // Held for a minute: it is running when the panel looks, and soon older than the stuck mark.
  void sendRaw(target, encodeScgiRequest({ uri: '/hold?ms=60000' }), { timeoutMs: 120_000, allowReset: true }).catch(() => null);

  const fx = await openBrowserOn(runtime.dashboard!);
  t.after(() => fx.browser.close());
  await logIn(fx);
  const page = fx.page;
  const panel = page.locator('article.app[data-app="shop"] .route-panel');
  await panel.locator('summary').click();
  const cells = (table: string): Promise<Cells> => panel.locator(`.${table} tbody`).evaluate((tbody) => ({
    rows: [...tbody.querySelectorAll('tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    classes: [...tbody.querySelectorAll('tr')].map((tr) => tr.className),
  }));

  const routes = await waitUntil('both routes in the table', async () => {
    const got = await cells('routes-table');
    return got.rows.length === 2 ? got.rows : undefined;
  });
  assert.deepEqual(routes.map((r) => [r[0], r[1]]), [['GET /cpu', '1'], ['GET /item/:id', '8']], 'largest total time first');
  await panel.getByRole('button', { name: 'Requests' }).click();
  assert.deepEqual((await cells('routes-table')).rows.map((r) => r[0]), ['GET /item/:id', 'GET /cpu'], 'sorted by requests');
  assert.equal(await panel.locator('th', { has: page.getByRole('button', { name: 'Requests' }) }).getAttribute('aria-sort'), 'descending');

  // A click on a route opens its latency chart over the window: its one slow request at p99.
  const routeChart = panel.locator('.route-chart');
  assert.equal(await routeChart.isHidden(), true);
  const chartPoints = () => panel.locator('.route-latency-chart').evaluate((canvas) => {
    interface Ds { label: string; data: Array<{ x: number; y: number | null }> }
    const chart = (globalThis as unknown as { Chart: { getChart(c: unknown): { data: { datasets: Ds[] } } | undefined } }).Chart.getChart(canvas);
    return (chart?.data.datasets ?? []).map((ds) => ({ label: ds.label, values: ds.data.map((p) => p.y).filter((y) => y !== null) }));
  });
  await panel.locator('.routes-table tbody tr', { hasText: 'GET /cpu' }).click();
  await waitUntil('the chart of GET /cpu', async () => (await routeChart.isVisible()) && (await panel.locator('.route-chart-name').textContent()) === 'GET /cpu' || undefined);
  const cpu = await waitUntil('its points drawn', async () => {
    const sets = await chartPoints();
    return sets.length === 3 && sets.every((ds) => ds.values.length === 1) ? sets : undefined;
  });
  assert.deepEqual(cpu.map((ds) => ds.label), ['service p50', 'service p95', 'service p99']);
  assert.ok(cpu[2]!.values[0]! >= 280, `p99 ${cpu[2]!.values[0]} ms for a 300 ms request`);
  assert.equal(await panel.locator('.routes-table tbody tr.selected').textContent().then((t) => t?.startsWith('GET /cpu')), true);
  // Another route, by keyboard: the chart follows it.
  await panel.locator('.routes-table tbody tr', { hasText: 'GET /item/:id' }).press('Enter');
  await waitUntil('the chart of GET /item/:id', async () => (await panel.locator('.route-chart-name').textContent()) === 'GET /item/:id' || undefined);
  const items = await waitUntil('its points drawn', async () => {
    const sets = await chartPoints();
    return sets[2]!.values.length >= 1 && sets[2]!.values.every((v) => v < 280) ? sets : undefined;
  });
  assert.ok(items[0]!.values.length >= 1);
  await saveScreenshot(page, 'dashboard-route-chart');
  await panel.locator('.route-chart-close').click();
  assert.equal(await routeChart.isHidden(), true);
  assert.equal(await panel.locator('.routes-table tbody tr.selected').count(), 0);

  const slowest = (await cells('slowest-table')).rows;
  assert.deepEqual([slowest[0]?.[1], slowest[0]?.[2]], ['GET /cpu', '/cpu']);

  const stuck = await waitUntil('the held request marked stuck', async () => {
    const got = await cells('inflight-table');
    const i = got.rows.findIndex((r) => r[1] === 'GET /hold');
    return i >= 0 && got.classes[i] === 'stuck' ? got.rows[i] : undefined;
  }, { timeoutMs: 60_000 });
  const pid = (await runtime.server.snapshot()).apps[0]!.workerPids[0];
  assert.equal(stuck[3], String(pid));
  assert.equal(stuck[4], 'running: stuck?');
  // The workers table: its one worker, with a CPU % once two reads are in, its memory and requests.
  const worker = await waitUntil('the worker with its CPU %', async () => {
    const got = (await cells('workers-table')).rows[0];
    return got !== undefined && /^\d+\.\d %$/.test(got[2] ?? '') ? got : undefined;
  });
  assert.equal(worker[0], String(pid));
  assert.match(worker[3] ?? '', /^\d+\.\d MiB$/);
  assert.ok(Number(worker[4]) >= 9, `requests ${worker[4]}`);
  assert.equal(worker[5], 'accepting');
  assert.deepEqual(fx.problems, []);
  await saveScreenshot(page, 'dashboard-routes');

  await page.setViewportSize({ width: 390, height: 844 });
  // chart.js resizes its canvases from a ResizeObserver, a frame or more after the viewport.
  const measure = () => page.evaluate(() => {
    interface El { tagName: string; className: string; getBoundingClientRect(): { right: number } }
    const doc = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number }; querySelectorAll(s: string): Iterable<El> } }).document;
    const width = doc.documentElement.clientWidth;
    const wide = [...doc.querySelectorAll('body *')].filter((el) => el.getBoundingClientRect().right > width + 1).slice(0, 5).map((el) => `${el.tagName}.${el.className}`);
    return { scroll: doc.documentElement.scrollWidth, width, wide };
  });
  let fit = await measure();
  await waitUntil('no sideways scroll on a phone', async () => {
    fit = await measure();
    return fit.scroll <= fit.width;
  }, { timeoutMs: 10_000 }).catch(() => assert.fail(`the page scrolls sideways on a phone: ${fit.scroll} > ${fit.width} (${fit.wide.join(', ')})`));
  // The wide table scrolls inside its frame rather than being cut off.
  const frame = await panel.locator('.routes-table').evaluate((table) => {
    const wrap = table.parentElement as unknown as { scrollWidth: number; clientWidth: number; scrollLeft: number; scrollTo(x: number, y: number): void };
    wrap.scrollTo(10_000, 0);
    return { scrolled: wrap.scrollLeft, overflow: wrap.scrollWidth - wrap.clientWidth };
  });
  assert.ok(frame.overflow <= 0 || frame.scrolled > 0, JSON.stringify(frame));
  await saveScreenshot(page, 'dashboard-routes-phone');
});
