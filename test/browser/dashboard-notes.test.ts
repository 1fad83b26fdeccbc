/**
 * What the dashboard says about its own figures, in Chromium over real SQLite history: an empty
 * window says it had no requests, one 30 s request cuts the latency axis (with a note) instead
 * of flattening every other line, the rate names its window, Apply does not look like Reload,
 * and on a phone the top bar leaves the screen to the apps.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { HistoryReader } from '../../shared/history.js';
import { openHistoryReader } from '../../shared/store/history-reader.js';
import { Outcome } from '../../shared/timing-row.js';
import { createTimingStore, type TimingStore } from '../../server/store/timing-store.js';
import { logIn, saveScreenshot, startDashboardFixture, type DashboardFixture } from './dashboard-fixture.js';
import { createFakeRuntime, fakeApp } from './fake-runtime.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';

const STEP_MS = 10_000;

declare const window: { Chart: { getChart(el: unknown): { scales: { y: { max: number } } } | undefined } };

function row(app: string, startMs: number, serviceMs: number): Parameters<TimingStore['record']>[0] {
  return { app, startMs, queueMs: 0.1, serviceMs, status: 200, outcome: Outcome.ANSWERED, bytesIn: 0, bytesOut: 10, method: 'GET', path: '/' };
}

describe('dashboard notes', () => {
  let dir: string;
  let store: TimingStore;
  let history: HistoryReader;
  let fx: DashboardFixture;
  const now = Date.now();

  before(async () => {
    dir = await makeTempDir('dash-notes');
    const path = join(dir, 'timing.db');
    store = createTimingStore({ path, flushIntervalMs: 20 });
    // `spiky`: 20-26 ms for 60 buckets, and one request of 30 s among them.
    for (let b = 60; b >= 1; b -= 1) store.record(row('spiky', now - b * STEP_MS, 20 + (b % 7)));
    store.record(row('spiky', now - 30 * STEP_MS + 1, 30_000));
    history = openHistoryReader(path);
    await waitUntil('the seeded history', () => history.summary('spiky', now - 900_000, now + STEP_MS).count >= 61, { intervalMs: 100 });
    fx = await startDashboardFixture({ control: createFakeRuntime([fakeApp('spiky'), fakeApp('quiet', { listen: '127.0.0.1:9003' })]), history });
    await logIn(fx);
  });

  after(async () => {
    await fx?.close();
    history?.close();
    await store?.close();
    await removeTempDir(dir);
  });

  it('a window without requests says so under both charts', async () => {
    const notes = fx.page.locator('article.app[data-app="quiet"] .charts > .chart .chart-note');
    await waitUntil('both notes shown', async () => (await notes.allTextContents()).every((t) => t === 'No requests in the last 15 minutes.') && (await notes.count()) === 2);
  });

  it('one 30 s request cuts the latency axis, with a note, rather than flattening the rest', async () => {
    const card = fx.page.locator('article.app[data-app="spiky"]');
    const note = card.locator('.latency-chart').locator('xpath=ancestor::figure').locator('.chart-note');
    await waitUntil('the cut-axis note', async () => /^Axis cut at \d+(\.\d)? ms: \d+ values? above, up to 30\.0 s\.$/.test((await note.textContent()) ?? ''));
    const top = await card.locator('canvas.latency-chart').evaluate((canvas) => window.Chart.getChart(canvas)?.scales.y.max ?? Infinity);
    assert.ok(top <= 300, `the latency axis reaches ${top} ms`);
    assert.equal(await card.locator('.throughput-chart').locator('xpath=ancestor::figure').locator('.chart-note').isHidden(), true);
    await saveScreenshot(fx.page, 'dashboard-notes');
  });

  it('req/s names its window, and Apply is not Reload\'s red', async () => {
    const card = fx.page.locator('article.app[data-app="spiky"]');
    assert.equal(await card.locator('dt', { has: fx.page.locator('xpath=following-sibling::dd[@data-f="reqPerS"]') }).textContent(), 'req/s · 5 min avg');
    const colour = (selector: string) => card.locator(selector).evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(el).backgroundColor);
    const apply = await colour('.threads-form button');
    const reload = await colour('.reload-start');
    assert.notEqual(apply, reload);
  });

  it('on a phone the top bar takes a small part of the first screen', async () => {
    await fx.page.setViewportSize({ width: 390, height: 844 });
    const height = await waitUntil('the phone layout', async () => {
      const h = await fx.page.locator('header.topbar').evaluate((el) => (el as unknown as { getBoundingClientRect(): { height: number } }).getBoundingClientRect().height);
      return h < 844 * 0.25 ? h : undefined;
    }, { timeoutMs: 10_000 });
    assert.ok(height > 0);
    await saveScreenshot(fx.page, 'dashboard-notes-phone');
  });
});
