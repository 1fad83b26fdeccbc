/**
 * @module dashboard-fixture
 * Reusable browser-test setup for the dashboard: start it on a free loopback port for any
 * RuntimeControl and HistoryReader (a fake here, the real Server and store in the end-to-end
 * test), drive Debian's chromium through playwright-core, and the checks every such test makes:
 * cards present, charts really drawn, a thread limit changed by keyboard, no console errors.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startDashboard, type RunningDashboard } from '../../dashboard/index.js';
import type { HistoryReader } from '../../shared/history.js';
import type { RuntimeControl } from '../../shared/runtime-control.js';
import { withoutSanitizer } from '../helpers/sanitizer-env.js';

/*
 * The callbacks given to page.evaluate and friends run in the page, but are type-checked here,
 * where tsconfig has no DOM lib (the rest of the project is Node-only and must not see one).
 * These module-local declarations cover exactly what the callbacks touch.
 */
export interface PageCanvas {
  width: number;
  height: number;
  className: string;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
  closest(selector: string): { getAttribute(name: string): string | null } | null;
}
export interface PageDocument {
  getElementById(id: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): Iterable<PageCanvas>;
}
declare const document: PageDocument;

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS_DIR = join(ROOT, 'test', 'artifacts');
export const DOCS_SCREENSHOT = join(ROOT, 'docs', 'dashboard.png');
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface DashboardFixture {
  dashboard: RunningDashboard;
  browser: Browser;
  page: Page;
  /** Console errors, page errors and failed requests seen so far. */
  problems: string[];
  close(): Promise<void>;
}

export async function startDashboardFixture(options: { control: RuntimeControl; history: HistoryReader | null }): Promise<DashboardFixture> {
  // Port 0: never the 9100 default, so tests run beside a real dashboard and each other.
  const dashboard = await startDashboard({
    listen: '127.0.0.1:0',
    control: options.control,
    history: options.history,
    log: pino({ level: process.env.DOW_TEST_LOG ?? 'silent' }),
  });
  try {
    return await openBrowserOn(dashboard);
  } catch (err) {
    await dashboard.close();
    throw err;
  }
}

/** Starts chromium on an already running dashboard (e.g. the one the runtime started itself). */
export async function openBrowserOn(dashboard: RunningDashboard): Promise<DashboardFixture> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    env: withoutSanitizer(),
    // No sandbox: CI runs as root, where chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, deviceScaleFactor: 1, timezoneId: 'UTC', locale: 'en-US' });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => {
    // The event stream is cut when the fixture closes the dashboard, and a reload aborts whatever
    // poll is in flight (net::ERR_ABORTED): neither is a page bug.
    const error = req.failure()?.errorText ?? '';
    if (!req.url().endsWith('/api/events') && error !== 'net::ERR_ABORTED') problems.push(`request failed: ${req.url()} ${error}`);
  });
  return {
    dashboard,
    browser,
    page,
    problems,
    async close() {
      await browser.close();
      await dashboard.close();
    },
  };
}

/** Opens the printed login URL and waits until the page shows live figures. */
export async function logIn(fixture: DashboardFixture): Promise<void> {
  const response = await fixture.page.goto(fixture.dashboard.loginUrl);
  if (response?.status() !== 200) throw new Error(`login landed on status ${response?.status()}`);
  await fixture.page.waitForSelector('article.app');
  await fixture.page.waitForFunction(() => document.getElementById('pid')?.textContent !== '—');
}

/** Names of the apps that have a card. */
export function cardNames(page: Page): Promise<string[]> {
  return page.$$eval('article.app', (cards) => cards.map((c) => c.getAttribute('data-app') ?? ''));
}

/**
 * How many pixels of each chart canvas are painted (non-transparent). Axes alone paint a few
 * hundred; a chart with data lines or bars paints thousands.
 */
export function paintedPixels(page: Page): Promise<Array<{ app: string; chart: string; painted: number; width: number }>> {
  return page.$$eval('article.app .charts > .chart canvas', (canvases) =>
    canvases.map((el) => {
      const canvas = el as unknown as PageCanvas;
      const ctx = canvas.getContext('2d');
      const data = ctx ? ctx.getImageData(0, 0, canvas.width, canvas.height).data : new Uint8ClampedArray();
      let painted = 0;
      for (let i = 3; i < data.length; i += 4) if ((data[i] ?? 0) > 0) painted++;
      return { app: canvas.closest('article')?.getAttribute('data-app') ?? '', chart: canvas.className, painted, width: canvas.width };
    }),
  );
}

/**
 * Counts the marker colour's pixels in one chart: the limit-change plugin draws in #7c3aed, and
 * each worker-event kind in a colour of its own (markers.js EVENT_STYLES), colours no dataset
 * uses, so their pixels prove a marker was drawn. Half-covered pixels count too:
 * the 1.5 px line centred on a whole pixel covers two columns at 75 % each (alpha 191), so an
 * "opaque only" count missed the line whenever the change fell on a whole pixel, and the test
 * then hung on the label's few dozen pixels (a flaky "marker on the throughput chart").
 */
export function markerPixels(page: Page, app: string, chart: 'latency-chart' | 'throughput-chart', color = '#7c3aed'): Promise<number> {
  const rgb = [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16));
  return page.$eval(`article.app[data-app="${app}"] canvas.${chart}`, (el, [cr, cg, cb]) => {
    const canvas = el as unknown as PageCanvas;
    const data = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? new Uint8ClampedArray();
    let hits = 0;
    for (let i = 0; i < data.length; i += 4) {
      const [r, g, b, a] = [data[i] ?? 0, data[i + 1] ?? 0, data[i + 2] ?? 0, data[i + 3] ?? 0];
      if (a > 127 && Math.abs(r - (cr ?? 0)) < 24 && Math.abs(g - (cg ?? 0)) < 24 && Math.abs(b - (cb ?? 0)) < 24) hits++;
    }
    return hits;
  }, rgb);
}

/** Types a new limit into an app's card and presses Enter, as a keyboard user would. */
export async function setThreadsByKeyboard(page: Page, app: string, threads: string): Promise<string> {
  const card = page.locator(`article.app[data-app="${app}"]`);
  const input = card.getByLabel('Thread limit');
  await input.focus();
  await input.fill(threads);
  await input.press('Enter');
  const message = card.locator('.threads-form .form-message');
  await page.waitForFunction((el) => el !== null && el.getAttribute('data-kind') !== 'pending' && (el.textContent ?? '') !== '', await message.elementHandle());
  return (await message.textContent()) ?? '';
}

/** Saves the page as test/artifacts/<name>.png (git-ignored); optionally also as docs/dashboard.png. */
export async function saveScreenshot(page: Page, name: string, options: { docs?: boolean } = {}): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const file = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (options.docs) {
    await mkdir(dirname(DOCS_SCREENSHOT), { recursive: true });
    await copyFile(file, DOCS_SCREENSHOT);
  }
  return file;
}
