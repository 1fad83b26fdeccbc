/**
 * The dashboard against the real runtime: the in-process dashboard that `serve` and `demo` start,
 * driven in Debian's chromium, and the separate `dragon-on-wheels dashboard --db` process beside a
 * running `serve`. In both, a thread-limit change must reach the runtime within a second: on the
 * stats port (`<app>_threads`), in behaviour (a limit of 1 makes concurrent requests queue), in the
 * audit log in SQLite, and as a chart marker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { startRuntime } from '../../bin/start-runtime.js';
import { createRemoteControl } from '../../dashboard/remote-control.js';
import { DEFAULT_LIMITS } from '../../server/protocol/limits.js';
import { openHistoryReader } from '../../shared/store/history-reader.js';
import { getFreePort, getFreePorts } from '../helpers/free-port.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { startRuntime as startTestRuntime, toTarget } from '../helpers/runtime.js';
import { readFigures, waitForFigure } from '../helpers/stats.js';
import { testDir } from '../helpers/temp-dir.js';
import { scaledMs, waitUntil } from '../helpers/wait.js';
import { cardNames, logIn, markerPixels, openBrowserOn, paintedPixels, saveScreenshot, setThreadsByKeyboard, startDashboardFixture, type PageDocument } from './dashboard-fixture.js';

// Used inside page callbacks only; see PageDocument.
declare const document: PageDocument;

/** What the dashboard promises: a limit change reaches the runtime within a second. */
const LIMIT_CHANGE_MS = 1000;

function holdingApp() {
  const held: ServerResponse[] = [];
  return {
    held,
    listener(req: IncomingMessage, res: ServerResponse) {
      if (req.url?.startsWith('/hold')) held.push(res);
      else res.end('ok');
    },
    releaseAll() {
      for (const res of held.splice(0)) res.end('released');
    },
  };
}

test('in-process: change a limit in chromium, see it on the stats port, in behaviour, in the audit log and as a marker', async (t) => {
  const dir = await testDir(t, 'dash-rt');
  const dbPath = join(dir, 'timings.db');
  const statsPort = await getFreePort();
  const app = holdingApp();
  const runtime = await startRuntime({
    apps: [{
      listen: '127.0.0.1:0',
      options: { name: 'shop', handler: { type: 'node', listener: app.listener }, threads: 4, queue: 50, queueTimeoutMs: 30_000, requestTimeoutMs: 0, mount: '' },
    }],
    stats: `127.0.0.1:${statsPort}`,
    limits: { ...DEFAULT_LIMITS },
    drainTimeoutMs: 1000,
    log: { level: 'silent', format: 'json' },
    store: { path: dbPath, recordPaths: true, retention: {}, flushIntervalMs: 50 },
    dashboard: { listen: '127.0.0.1:0' },
    persistLimits: false,
  }, pino({ level: 'silent' }));
  t.after(async () => {
    app.releaseAll();
    await runtime.close();
  });
  const target = toTarget(runtime.server.addresses[0] as string);
  for (let i = 0; i < 60; i++) assert.equal((await scgiRequest(target, { uri: `/page/${i}` })).status, 200);

  const fx = await openBrowserOn(runtime.dashboard!);
  t.after(() => fx.browser.close());
  await logIn(fx);
  assert.deepEqual(await cardNames(fx.page), ['shop']);
  // waitUntil's error names the last count of painted pixels per chart.
  const painted = await waitUntil('both charts painted', async () => {
    const charts = await paintedPixels(fx.page);
    if (charts.length !== 2 || charts.some((chart) => chart.painted <= 2000)) throw new Error(charts.map((c) => `${c.chart} ${c.painted} pixels`).join(', '));
    return charts;
  }, { intervalMs: 200 });
  assert.equal(painted.length, 2);

  const message = await setThreadsByKeyboard(fx.page, 'shop', '1');
  assert.match(message, /4\D+1/);
  // The deadline is the assertion here (stretched by DOW_TEST_SLOWDOWN like every other).
  await waitForFigure(statsPort, 'shop_threads', '1', { timeoutMs: LIMIT_CHANGE_MS });

  // Behaviour: with a limit of 1, concurrent requests queue.
  const pending = [scgiRequest(target, { uri: '/hold/1' }), scgiRequest(target, { uri: '/hold/2' }), scgiRequest(target, { uri: '/hold/3' })];
  await waitUntil('one request held in the app', () => app.held.length === 1);
  const figures = await waitForFigure(statsPort, 'shop_queued', '2');
  assert.equal(figures.get('shop_online'), '1');
  // Each release lets the next queued request in: release until all three are answered.
  let answered = false;
  void Promise.all(pending).then(() => (answered = true));
  await waitUntil('the held requests answered', () => {
    app.releaseAll();
    return answered;
  });

  // The audit log, in SQLite, says when, which app, old to new, and from where.
  await waitUntil('the change in the audit log', () => {
    const db = new Database(dbPath, { readonly: true });
    try {
      return (db.prepare("SELECT count(*) AS n FROM limit_changes WHERE app = 'shop'").get() as { n: number }).n === 1;
    } finally {
      db.close();
    }
  });
  const db = new Database(dbPath, { readonly: true });
  const audit = db.prepare('SELECT at_ms, app, old_threads, new_threads, source FROM limit_changes').all() as Array<Record<string, unknown>>;
  db.close();
  assert.equal(audit.length, 1);
  const { at_ms: atMs, ...entry } = audit[0]!;
  assert.deepEqual(entry, { app: 'shop', old_threads: 4, new_threads: 1, source: 'dashboard 127.0.0.1' });
  assert.ok(Math.abs(Number(atMs) - Date.now()) < 30_000);
  await fx.page.waitForSelector('text=4 → 1');

  // The chart marker at the change.
  await fx.page.reload();
  await fx.page.waitForSelector('article.app');
  await waitUntil('a limit-change marker drawn', async () => (await markerPixels(fx.page, 'shop', 'latency-chart')) > 0, { intervalMs: 200 });
  assert.deepEqual(fx.problems, []);
  await saveScreenshot(fx.page, 'dashboard-runtime');
});

function startCli(args: string[], env: NodeJS.ProcessEnv, cwd: string): ChildProcess {
  const cli = fileURLToPath(new URL('../../bin/dragon-on-wheels.ts', import.meta.url));
  return spawn(process.execPath, ['--import', import.meta.resolve('tsx'), cli, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

test('separate process: the dashboard beside a running runtime changes a limit within 1 s', async (t) => {
  const dir = await testDir(t, 'dash-sep');
  const [appPort, statsPort, dashPort] = await getFreePorts(3);
  const fixture = fileURLToPath(new URL('../fixtures/hello-node.mjs', import.meta.url));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    stats: `127.0.0.1:${statsPort}`,
    dashboard: false,
    store: { path: 'timings.db' },
    log: { level: 'warn' },
    apps: [{ name: 'load', listen: `127.0.0.1:${appPort}`, module: fixture, threads: 6 }],
  }));
  const token = 'test-token-0123456789abcdef-separate';
  const runtime = startCli(['serve', 'config.json'], {}, dir);
  t.after(() => runtime.kill('SIGKILL'));
  await waitUntil('runtime up', () => scgiRequest({ port: appPort }), { timeoutMs: 60_000 });
  const dashboard = startCli(['dashboard', '--db', 'timings.db', '--stats', `127.0.0.1:${statsPort}`, '--listen', `127.0.0.1:${dashPort}`], { DRAGON_ADMIN_TOKEN: token }, dir);
  t.after(() => dashboard.kill('SIGKILL'));
  const api = (path: string, init: RequestInit = {}) => fetch(`http://127.0.0.1:${dashPort}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
  });
  const apps = await waitUntil('dashboard up', async () => {
    const res = await api('/api/apps');
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    return (await res.json()) as unknown;
  }, { timeoutMs: 60_000 });
  assert.match(JSON.stringify(apps), /"load"/);

  const started = Date.now();
  const res = await api('/api/apps/load/threads', { method: 'PUT', body: JSON.stringify({ threads: 2 }) });
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(await res.text(), /"oldThreads":6/);
  await waitForFigure(statsPort, 'load_threads', '2', { timeoutMs: LIMIT_CHANGE_MS });
  assert.ok(Date.now() - started <= scaledMs(LIMIT_CHANGE_MS + 500), `took ${Date.now() - started} ms`);

  const bad = await api('/api/apps/load/threads', { method: 'PUT', body: JSON.stringify({ threads: 0 }) });
  assert.equal(bad.status, 400);
  assert.equal((await readFigures(statsPort)).get('load_threads'), '2', 'a refused change changes nothing');

  const audit = await waitUntil('audit entry', async () => {
    const text = await (await api('/api/audit')).text();
    if (!/"newThreads":2/.test(text)) throw new Error(text);
    return text;
  });
  assert.match(audit, /"oldThreads":6/);
});

test('an unreadable timing store: live figures from the runtime, and "history unavailable" where the charts and logs were', async (t) => {
  const runtime = await startTestRuntime(t, [{ name: 'shop', node: (_req, res) => res.end('ok') }]);
  for (let i = 0; i < 3; i++) assert.equal((await scgiRequest(runtime.targets.get('shop')!, { uri: '/' })).status, 200);
  const dbPath = join(await testDir(t, 'dash-damaged'), 'timings.db');
  writeFileSync(dbPath, Buffer.alloc(16_384, 0x5a));
  assert.ok('port' in runtime.stats);
  const control = createRemoteControl({ stats: `127.0.0.1:${runtime.stats.port}`, dbPath, statsTimeoutMs: 10_000 });
  const history = openHistoryReader(dbPath);
  const fx = await startDashboardFixture({ control, history });
  t.after(async () => {
    await fx.close();
    history.close();
    control.close();
  });

  await logIn(fx);
  const card = fx.page.locator('article.app[data-app="shop"]');
  await card.locator('.history-note').waitFor({ state: 'visible', timeout: scaledMs(30_000) });
  const unavailable = /^history unavailable: timing store .*timings\.db: file is not a database$/;
  assert.match((await card.locator('.history-note').textContent()) ?? '', unavailable);
  assert.equal(await card.locator('figure.chart:visible').count(), 0, 'the note stands in place of the charts');
  assert.equal(await card.locator('[data-f="requests"]').textContent(), '3');
  for (const id of ['audit-empty', 'runtime-events-empty']) {
    await fx.page.waitForFunction((el) => /^history unavailable/.test(document.getElementById(el)?.textContent ?? ''), id, { timeout: scaledMs(30_000) });
    assert.match((await fx.page.textContent(`#${id}`)) ?? '', unavailable);
    assert.equal(await fx.page.isVisible(`#${id}`), true);
  }
  assert.deepEqual(fx.problems, []);
});
