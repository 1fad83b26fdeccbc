/**
 * The card's Workers control in Debian's chromium against a real runtime with worker processes
 * (as `serve` wires it): Scale starts a worker that then serves, the card and the stats port show
 * the new count, the change is in the worker-events table and drawn as a scale marker; an
 * in-process app has no control.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppSettings } from '../../server/config/config.js';
import { getFreePort } from '../helpers/free-port.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { toTarget } from '../helpers/runtime.js';
import { waitForFigure } from '../helpers/stats.js';
import { poolApp } from '../helpers/supervisor.js';
import { waitUntil } from '../helpers/wait.js';
import { startDashboardRuntime } from '../helpers/dashboard-runtime.js';
import { logIn, markerPixels, openBrowserOn, saveScreenshot } from './dashboard-fixture.js';

/** markers.js EVENT_STYLES.scale. */
const SCALE_COLOR = '#a21caf';

const inProcessApp: AppSettings = {
  listen: '127.0.0.1:0',
  options: { name: 'inline', handler: { type: 'node', listener: (_req, res) => res.end('inline') }, threads: 2, queue: 10, queueTimeoutMs: 10_000, requestTimeoutMs: 0, mount: '' },
};

test('the card\'s Workers control scales a real app: the new worker serves, card, stats port, events table and marker follow', async (t) => {
  const statsPort = await getFreePort();
  const runtime = await startDashboardRuntime(t, 'dash-scale', [poolApp({ name: 'shop', count: 1, threads: 4 }), inProcessApp], { statsPort, drainTimeoutMs: 2000 });
  const target = toTarget(runtime.server.addresses[0] as string);
  // Requests in the chart's window, so that it has an x range to draw the marker in.
  for (let i = 0; i < 20; i++) assert.equal((await scgiRequest(target, { uri: `/page/${i}` })).status, 200);

  const fx = await openBrowserOn(runtime.dashboard!);
  t.after(() => fx.browser.close());
  await logIn(fx);
  const card = fx.page.locator('article.app[data-app="shop"]');
  const input = card.getByLabel('Workers');
  await input.waitFor();
  assert.equal(await input.inputValue(), '1');
  assert.equal(await fx.page.locator('article.app[data-app="inline"] .workers-form').isHidden(), true, 'an in-process app has no Workers control');

  await input.fill('2');
  await card.getByRole('button', { name: 'Scale' }).click();
  const message = card.locator('.workers-form .form-message');
  await waitUntil('the scale answered', async () => ((await message.getAttribute('data-kind')) === 'pending' ? undefined : true));
  assert.equal(await message.textContent(), 'Applied: 1 → 2');

  const figures = await waitForFigure(statsPort, 'shop_workers', '2');
  // The new worker serves: requests reach both pids.
  const pids = new Set((figures.get('shop_worker_pids') ?? '').split(' '));
  const served = new Set<string>();
  await waitUntil('both workers answered', async () => {
    const body = (await scgiRequest(target, { uri: '/' })).body.toString();
    served.add(/pid (\d+)/.exec(body)?.[1] ?? '');
    return [...pids].every((p) => served.has(p)) ? true : undefined;
  });
  await waitUntil('the card shows 2 workers', async () => ((await card.locator('[data-f="workers"]').textContent()) === '2' ? true : undefined));

  const row = fx.page.locator('#runtime-events tbody tr', { hasText: 'scale' });
  await waitUntil('the scale in the worker-events table', async () => ((await row.count()) > 0 ? true : undefined));
  assert.match((await row.first().textContent()) ?? '', /workers 1 -> 2, started \d+/);
  await waitUntil('a scale marker on the latency chart', async () => ((await markerPixels(fx.page, 'shop', 'latency-chart', SCALE_COLOR)) > 20 ? true : undefined));

  // A count above the thread limit is refused with the runtime's reason, and nothing changes.
  await input.fill('5');
  await input.press('Enter');
  await waitUntil('the refusal shown', async () => ((await message.getAttribute('data-kind')) === 'error' ? true : undefined));
  assert.match((await message.textContent()) ?? '', /^Not applied: cannot scale shop: 5 workers need at least 5 threads/);
  assert.equal((await waitForFigure(statsPort, 'shop_workers', '2')).get('shop_workers'), '2');
  await saveScreenshot(fx.page, 'dashboard-scale');
});
