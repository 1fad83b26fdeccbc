/**
 * The ERROR line for rows the writer could not write at close gives the number lost in all, not
 * the first batch's (each batch was its own rate-limited line, so only the first was printed).
 * And a store that is never closed does not keep its process alive.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { createTimingStore } from '../../server/store/timing-store.js';
import { Outcome, type TimingRow } from '../../shared/timing-row.js';
import { testDir } from '../helpers/temp-dir.js';
import { scaledMs, waitUntil } from '../helpers/wait.js';

function row(startMs: number): TimingRow {
  return { app: 'shop', startMs, queueMs: 1, serviceMs: 5, status: 200, outcome: Outcome.ANSWERED, bytesIn: 100, bytesOut: 2000, method: 'GET', path: '/' };
}

test('rows lost at close are reported once, with their total over every batch', async (t) => {
  const path = join(await testDir(t, 'store-close'), 'timing.db');
  const lines: string[] = [];
  const logger = { warn: () => {}, info: () => {}, error: (_: object, m?: string) => void lines.push(String(m)) };
  const store = createTimingStore({ path, logger, batchSize: 50, flushIntervalMs: 10, retryMaxMs: 100 });
  store.record(row(Date.now()));
  await waitUntil('the first row written', () => store.figures().rows === 1);
  // Another writer holds the lock to the end: every later batch stays unwritten.
  const other = new Database(path);
  t.after(() => other.close());
  other.exec('BEGIN IMMEDIATE');
  for (let i = 0; i < 500; i++) store.record(row(Date.now()));
  await waitUntil('the writer meets the lock', () => store.figures().errors > 0);
  await store.close();
  other.exec('ROLLBACK');
  const { rows, dropped } = store.figures();
  assert.equal(rows + dropped, 501, 'every row written or counted');
  assert.ok(dropped > 50, `more than one batch dropped (${dropped})`);
  const lost = lines.filter((l) => /rows lost at close/.test(l));
  assert.deepEqual(lost, [`timing store: ${dropped} rows lost at close: database unavailable at close`]);
});

test('a store left open (its owner failed before close) does not keep the process alive', async (t) => {
  const path = join(await testDir(t, 'store-unref'), 'timing.db');
  const store = pathToFileURL(join(import.meta.dirname, '../../server/store/timing-store.ts')).href;
  const script = [
    `const { createTimingStore } = await import(${JSON.stringify(store)});`,
    `const s = createTimingStore({ path: ${JSON.stringify(path)}, flushIntervalMs: 10 });`,
    "s.record({ app: 'shop', startMs: Date.now(), queueMs: 1, serviceMs: 5, status: 200, outcome: 0, bytesIn: 1, bytesOut: 1, method: 'GET', path: '/' });",
    "while (s.figures().rows === 0) await new Promise((r) => setTimeout(r, 10));",
    "console.log('written');",
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exited = once(child, 'exit');
  await waitUntil('the process exits by itself once its row is written', () => child.exitCode !== null, { timeoutMs: scaledMs(30_000) });
  assert.deepEqual(await exited, [0, null]);
  assert.equal(out, 'written\n');
});
