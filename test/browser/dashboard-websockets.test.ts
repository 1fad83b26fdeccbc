/**
 * The card's WebSockets line in Debian's chromium against a real runtime: an HTTP app with worker
 * processes serving `ws` (the `upgrade` export) shows how many WebSockets are open and how many
 * upgrades it took, following a real client's open and close; an SCGI app, which cannot upgrade,
 * shows no such line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { getFreePort } from '../helpers/free-port.js';
import { waitForFigure } from '../helpers/stats.js';
import { poolApp } from '../helpers/supervisor.js';
import { waitUntil } from '../helpers/wait.js';
import { startDashboardRuntime } from '../helpers/dashboard-runtime.js';
import { logIn, openBrowserOn, saveScreenshot } from './dashboard-fixture.js';

const WS_APP = fileURLToPath(new URL('../fixtures/websockets/ws-noserver.mjs', import.meta.url));

test('the card shows open WebSockets and upgrades of an HTTP app as a real client opens and closes one; an SCGI app shows none', async (t) => {
  const statsPort = await getFreePort();
  const chat = poolApp({ name: 'chat', module: WS_APP, count: 1, threads: 4 });
  chat.options.protocol = 'http';
  const runtime = await startDashboardRuntime(t, 'dash-ws', [chat, poolApp({ name: 'shop', count: 1, threads: 4 })], { statsPort, drainTimeoutMs: 2000 });
  const sockets: WebSocket[] = [];
  t.after(() => {
    for (const ws of sockets) ws.terminate();
  });
  const chatAddress = runtime.server.addresses[0] as string;

  const fx = await openBrowserOn(runtime.dashboard!);
  t.after(() => fx.browser.close());
  await logIn(fx);
  const card = fx.page.locator('article.app[data-app="chat"]');
  const line = card.locator('.figures.websockets');
  await card.waitFor();
  assert.equal(await line.isHidden(), true, 'no line before the first upgrade');

  const ws = new WebSocket(`ws://${chatAddress}/`);
  sockets.push(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  // The echo proves the upgrade reached the app, not only the server.
  ws.send('ping');
  assert.equal(String((await new Promise<WebSocket.RawData>((resolve) => ws.once('message', resolve)))), 'ping');
  await waitForFigure(statsPort, 'chat_websockets', '1');

  await waitUntil('the card shows 1 WebSocket open', async () => ((await line.isVisible()) && (await card.locator('[data-f="websockets"]').textContent()) === '1' ? true : undefined));
  assert.equal(await card.locator('[data-f="upgrades"]').textContent(), '1');
  await saveScreenshot(fx.page, 'dashboard-websockets');

  ws.close(1000, 'done');
  await waitForFigure(statsPort, 'chat_websockets', '0');
  await waitUntil('the card shows 0 open, 1 upgrade', async () => ((await card.locator('[data-f="websockets"]').textContent()) === '0' ? true : undefined));
  assert.equal(await card.locator('[data-f="upgrades"]').textContent(), '1');
  assert.equal(await fx.page.locator('article.app[data-app="shop"] .figures.websockets').isHidden(), true, 'an SCGI app never upgrades');
});
