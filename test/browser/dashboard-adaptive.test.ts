/**
 * An adaptive app on the dashboard in chromium: the card says who sets the limit and why, the
 * latency chart draws the limit beside the latency, a limit typed by the operator switches the app
 * to fixed, and "Resume adaptive" hands it back to the controller (the stats port says so).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getFreePort } from '../helpers/free-port.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { toTarget } from '../helpers/runtime.js';
import { waitForFigure } from '../helpers/stats.js';
import { startDashboardRuntime } from '../helpers/dashboard-runtime.js';
import { cardNames, logIn, openBrowserOn } from './dashboard-fixture.js';

test('adaptive app: mode and reason on the card, the limit line on the latency chart, manual limit fixes, Resume adaptive resumes', async (t) => {
  const statsPort = await getFreePort();
  const runtime = await startDashboardRuntime(t, 'dash-adaptive', [{
    listen: '127.0.0.1:0',
    adaptive: { min: 1, max: 16, tolerance: 0.5, windowMs: 1000 },
    options: { name: 'shop', handler: { type: 'node', listener: (_req, res) => res.end('ok') }, threads: 4, queue: 50, queueTimeoutMs: 30_000, requestTimeoutMs: 0, mount: '' },
  }], { statsPort });
  const target = toTarget(runtime.server.addresses[0] as string);
  for (let i = 0; i < 20; i++) assert.equal((await scgiRequest(target, { uri: `/page/${i}` })).status, 200);

  const fx = await openBrowserOn(runtime.dashboard!);
  t.after(() => fx.browser.close());
  await logIn(fx);
  assert.deepEqual(await cardNames(fx.page), ['shop']);
  const card = fx.page.locator('article.app[data-app="shop"]');
  const modeText = card.locator('.threads-mode-text');
  await modeText.filter({ hasText: /^adaptive: / }).waitFor();
  assert.equal(await card.locator('.threads-resume').isVisible(), false);

  // The operator's limit: the card turns to fixed and offers to resume.
  const input = card.getByLabel('Thread limit');
  await input.fill('3');
  await input.press('Enter');
  await waitForFigure(statsPort, 'shop_threads_mode', 'fixed');
  await modeText.filter({ hasText: /^fixed \(fixed by dashboard / }).waitFor();
  // The limit line: the change is in the audit, so the chart's limit dataset ends at 3.
  await fx.page.waitForFunction(() => {
    const canvas = document.querySelector('article.app[data-app="shop"] .latency-chart');
    const chart = (window as unknown as { Chart: { getChart(c: unknown): { data: { datasets: Array<{ kind?: string; data: Array<{ y: number }> }> } } | undefined } }).Chart.getChart(canvas);
    const line = chart?.data.datasets.find((d) => d.kind === 'limit')?.data ?? [];
    return line.length >= 2 && line[line.length - 1]?.y === 3;
  }, undefined, { timeout: 30_000 });

  await card.getByRole('button', { name: 'Resume adaptive' }).click();
  await waitForFigure(statsPort, 'shop_threads_mode', 'adaptive');
  await card.locator('.threads-mode-message').filter({ hasText: /^Adaptive again from \d+$/ }).waitFor();
  await modeText.filter({ hasText: /^adaptive: / }).waitFor();
});

declare const document: { querySelector(selector: string): unknown };
declare const window: unknown;
