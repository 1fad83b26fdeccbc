/**
 * Display bugs the dashboard had, in a real Chromium against real SQLite history written by
 * the runtime's store writer: a long Unix socket path overflowing its card into the chart, a
 * lone latency bucket not drawn, curves bending back in time at steep jumps, "No changes yet"
 * under "Applied", and the unreachable banner repeating itself, contradicting itself and
 * hiding the charts the timing store still has.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { HistoryReader } from '../../shared/history.js';
import { openHistoryReader } from '../../shared/store/history-reader.js';
import { Outcome } from '../../shared/timing-row.js';
import { createTimingStore, type TimingStore } from '../../server/store/timing-store.js';
import { logIn, paintedPixels, saveScreenshot, setThreadsByKeyboard, startDashboardFixture, type DashboardFixture } from './dashboard-fixture.js';
import { createFakeRuntime, fakeApp, type FakeRuntime } from './fake-runtime.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { scaledMs, sleep, waitUntil } from '../helpers/wait.js';

/** How long the page may take to show what a test waits for: Chromium is slow on a busy machine. */
const UI_WAIT_MS = scaledMs(30_000);

const STEP_MS = 10_000;
/** No hyphen or space in it: nothing a browser would break a line at on its own. */
const LONG_SOCKET = `unix:/var/lib/dragon_on_wheels/tenants/customer_0042/applications/${'very_long_directory_name_'.repeat(3)}/shop.sock`;
/** charts.js PERCENTILE_COLORS.p50 */
const P50_RGB = [0x25, 0x63, 0xeb];

/** Chart internals read in the page (chart.js's own element geometry), typed for this file. */
interface PagePoint { x: number; y: number; cp1x?: number; cp2x?: number; skip?: boolean }
declare const window: { Chart: { getChart(el: unknown): { getDatasetMeta(i: number): { data: PagePoint[] }; data: { datasets: Array<{ label: string; data: Array<{ x: number; y: number | null }> }> } } | undefined } };
interface PageElement {
  getBoundingClientRect(): { left: number; right: number; top: number; bottom: number };
  scrollWidth: number;
  clientWidth: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}

function row(app: string, startMs: number, serviceMs: number): Parameters<TimingStore['record']>[0] {
  return { app, startMs, queueMs: 0.1, serviceMs, status: 200, outcome: Outcome.ANSWERED, bytesIn: 0, bytesOut: 10, method: 'GET', path: '/' };
}

describe('dashboard display', () => {
  let dir: string;
  const now = Math.floor(Date.now() / STEP_MS) * STEP_MS;
  /** Bucket index of the lone point in the `sparse` app, counted back from now. */
  const LONE_BACK = 12;
  let store: TimingStore;
  let history: HistoryReader;
  let runtime: FakeRuntime;
  let fx: DashboardFixture;
  /** Writes the audit entry of the last applied change: the test decides when the store has it. */
  let recordPendingChange: (() => void) | null = null;

  before(async () => {
    dir = await makeTempDir('dash-display');
    const path = join(dir, 'timing.db');
    store = createTimingStore({ path, flushIntervalMs: 20 });
    // `sock`: steady traffic. `sparse`: 45 busy buckets, then one lone bucket far from them.
    // `jump`: steep 5 -> 900 ms jumps between neighbouring buckets, next to long empty stretches
    // (the line is not bridged over those, but a spline still takes its neighbours from them).
    for (let b = 80; b >= 1; b -= 1) store.record(row('sock', now - b * STEP_MS + 500, 20 + (b % 7)));
    for (let b = 85; b >= 41; b -= 1) for (let k = 0; k < 3; k += 1) store.record(row('sparse', now - b * STEP_MS + 100 * k, 10 + (b % 5)));
    store.record(row('sparse', now - LONE_BACK * STEP_MS + 200, 60));
    const gap = Array<null>(8).fill(null);
    const jump = [5, ...gap, 5, 900, ...gap, 900, 5, ...gap, 5, 5, 900, 5, 5];
    jump.forEach((ms, i) => {
      if (ms !== null) store.record(row('jump', now - (60 - i) * STEP_MS + 300, ms));
    });
    history = openHistoryReader(path);
    await waitUntil('the seeded history', () => history.summary('sparse', now - 900_000, now + STEP_MS).count >= 136, { intervalMs: 100 });
    runtime = createFakeRuntime([
      fakeApp('sock', { listen: LONG_SOCKET, mount: '/shop', threads: 4 }),
      fakeApp('sparse', { listen: '127.0.0.1:9001' }),
      fakeApp('jump', { listen: '127.0.0.1:9002' }),
    ]);
    // As the runtime does, but with the writer slow: the audit entry lands only when the test
    // lets it, well after the answer.
    runtime.onChange = (change) => {
      const atMs = Date.now();
      recordPendingChange = () => store.recordLimitChange({ ...change, atMs });
    };
    fx = await startDashboardFixture({ control: runtime, history });
    await logIn(fx);
  });

  after(async () => {
    await fx?.close();
    history?.close();
    await store?.close();
    await removeTempDir(dir);
  });

  it('a long Unix socket path wraps inside its card instead of running into the chart', async () => {
    const card = fx.page.locator('article.app[data-app="sock"]');
    await card.locator('.app-listen', { hasText: 'shop.sock' }).waitFor();
    const box = await card.evaluate((el) => {
      const root = el as unknown as { querySelector(s: string): PageElement };
      const listen = root.querySelector('.app-listen');
      return { listen: listen.getBoundingClientRect(), canvas: root.querySelector('canvas.latency-chart').getBoundingClientRect(), scroll: listen.scrollWidth, client: listen.clientWidth };
    });
    assert.ok(box.listen.right <= box.canvas.left, `listen ends at ${box.listen.right}, chart starts at ${box.canvas.left}`);
    assert.ok(box.scroll <= box.client + 1, `the path overflows its box (${box.scroll} > ${box.client})`);
    await saveScreenshot(fx.page, 'dashboard-long-socket');
    // Item 4 on the page: the rate says over what it is (this store has one run, this process's).
    assert.match((await card.locator('[data-f="reqPerS"]').getAttribute('title')) ?? '', /^over (\d\dm )?\d\ds recorded in the last 5 min$/);
  });

  it('draws a latency bucket that has no neighbour', async () => {
    const canvas = fx.page.locator('article.app[data-app="sparse"] canvas.latency-chart');
    // Wait until the chart has its data, then look at the lone p50 point's pixels.
    const found = await fx.page.waitForFunction(([el, rgb]) => {
      const chart = window.Chart.getChart(el);
      const ds = chart?.data.datasets.findIndex((d) => d.label === 'service p50') ?? -1;
      if (!chart || ds < 0) return null;
      const data = chart.data.datasets[ds]?.data ?? [];
      const values = data.map((d, i) => [i, d.y] as const).filter(([, y]) => y !== null);
      const lone = values[values.length - 1];
      if (!lone || values.length < 46) return null;
      const point = chart.getDatasetMeta(ds).data[lone[0]];
      if (!point) return null;
      const ctx = (el as unknown as PageElement).getContext('2d');
      const pixels = ctx?.getImageData(Math.round(point.x) - 3, Math.round(point.y) - 3, 7, 7).data ?? new Uint8ClampedArray();
      let hits = 0;
      for (let i = 0; i < pixels.length; i += 4) {
        if ((pixels[i + 3] ?? 0) > 127 && Math.abs((pixels[i] ?? 0) - (rgb[0] ?? 0)) < 40 && Math.abs((pixels[i + 1] ?? 0) - (rgb[1] ?? 0)) < 40 && Math.abs((pixels[i + 2] ?? 0) - (rgb[2] ?? 0)) < 40) hits += 1;
      }
      return { hits, y: lone[1] };
    }, [await canvas.elementHandle(), P50_RGB] as const, { timeout: UI_WAIT_MS });
    const { hits, y } = (await found.jsonValue()) as { hits: number; y: number };
    assert.ok(y > 50, `the lone bucket's p50 is ${y} ms`);
    assert.ok(hits >= 5, `${hits} pixels of the p50 colour at the lone point`);
  });

  it('latency curves never run backwards in time at steep jumps', async () => {
    const canvas = fx.page.locator('article.app[data-app="jump"] canvas.latency-chart');
    const handle = await fx.page.waitForFunction(([el, stepMs]) => {
      const chart = window.Chart.getChart(el);
      if (!chart || chart.data.datasets[0]?.data.filter((d) => d.y !== null).length !== 10) return null;
      const segments: Array<[number, number, number, number]> = [];
      chart.data.datasets.forEach((dataset, ds) => {
        const meta = chart.getDatasetMeta(ds).data;
        const drawn = dataset.data.map((d, i) => ({ d, p: meta[i] })).filter(({ d, p }) => d.y !== null && p && !p.skip);
        for (let i = 0; i + 1 < drawn.length; i += 1) {
          const a = drawn[i]!;
          const b = drawn[i + 1]!;
          // Only the segments drawn: gaps of up to three buckets are bridged (charts.js).
          if (b.d.x - a.d.x > stepMs * 3) continue;
          segments.push([a.p!.x, a.p!.cp2x ?? a.p!.x, b.p!.cp1x ?? b.p!.x, b.p!.x]);
        }
      });
      return segments;
    }, [await canvas.elementHandle(), STEP_MS] as const, { timeout: UI_WAIT_MS });
    const segments = (await handle.jsonValue()) as Array<[number, number, number, number]>;
    assert.ok(segments.length >= 24, `${segments.length} segments`);
    // A cubic Bézier whose control points stay in order along x never goes back in x.
    const backwards = segments.filter(([x0, c1, c2, x1]) => !(x0 <= c1 + 1e-6 && c1 <= c2 + 1e-6 && c2 <= x1 + 1e-6));
    assert.deepEqual(backwards, []);
  });

  it('the audit table shows an applied change at once, not "No changes yet", until the log has it', async () => {
    const { page } = fx;
    assert.ok(await page.locator('#audit-empty').isVisible(), 'no change audited yet');
    const message = await setThreadsByKeyboard(page, 'sock', '9');
    assert.match(message, /Applied: 4 → 9/);
    // While the store has not written it (the page polls meanwhile), the row stays the pending one.
    for (const waitMs of [100, 700, 700]) {
      await sleep(waitMs);
      assert.equal(await page.locator('#audit-empty').isVisible(), false, `"No changes yet" after ${waitMs} ms`);
      assert.match((await page.locator('#audit tbody tr').first().textContent()) ?? '', /sock.*4 → 9.*being recorded/);
    }
    // Once the store has it, the row is the log's own.
    assert.ok(recordPendingChange, 'the change reached the runtime');
    recordPendingChange();
    await page.locator('#audit tbody tr', { hasText: 'dashboard 127.0.0.1' }).waitFor({ timeout: UI_WAIT_MS });
    assert.equal(await page.locator('#audit tbody tr').count(), 1);
  });

  it('while the runtime is down the banner says it once, consistently, and the charts stay, even on a fresh page', async () => {
    runtime.down = true;
    const context = fx.browser.contexts()[0];
    assert.ok(context);
    const page = await context.newPage();
    try {
      await page.goto(new URL('/', fx.dashboard.loginUrl).href);
      await page.locator('#unreachable').waitFor({ state: 'visible', timeout: UI_WAIT_MS });
      const text = ((await page.textContent('#unreachable')) ?? '').replace(/\s+/g, ' ');
      assert.match(text, /Runtime unreachable\. The runtime did not answer \(stats port 127\.0\.0\.1:1: connect ECONNREFUSED\)\./);
      assert.doesNotMatch(text, /runtime unreachable: /i, 'the reason is not repeated');
      assert.match(text, /charts and 5-minute figures come from the timing store and stay current/);
      // A page opened while the runtime is down still gets a card and charts for each app.
      await page.waitForSelector('article.app.stale[data-app="sparse"]');
      assert.equal(await page.locator('article.app').count(), 3);
      // waitUntil's error names the last count of painted pixels.
      await waitUntil('the latency chart painted', async () => {
        const painted = (await paintedPixels(page)).find((c) => c.app === 'sock' && c.chart === 'latency-chart')?.painted ?? 0;
        if (painted < 4000) throw new Error(`${painted} pixels`);
        return painted;
      }, { intervalMs: 200 });
      await saveScreenshot(page, 'dashboard-unreachable-fresh');
    } finally {
      runtime.down = false;
      await page.close();
    }
  });
});
