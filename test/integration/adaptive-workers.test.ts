/**
 * The adaptive thread limit with real worker processes: under load against a resource that
 * serves C requests at once, the app's limit (the total the slot ledger splits among workers)
 * moves toward C; an operator's limit switches the app to fixed, and resuming brings the
 * controller back. Every step waits for what the stats port says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { LimitChange, TimingRecorder } from '../../shared/timing-row.js';
import type { AppHandler } from '../../server/adapters/app-handler.js';
import type { AppSettings } from '../../server/config/config.js';
import { startCapacityResource } from '../../scripts/bench/capacity-resource.js';
import { startLoad } from '../helpers/load.js';
import { encodeScgiRequest, sendRaw, type Target } from '../helpers/scgi-client.js';
import { readFigures } from '../helpers/stats.js';
import { poolApp, startSupervisor } from '../helpers/supervisor.js';
import { waitUntil } from '../helpers/wait.js';

const CAPACITY_APP = fileURLToPath(new URL('../../scripts/bench/apps/capacity-app.mjs', import.meta.url));
const CAPACITY = 4;
/**
 * Each call holds the resource this long: long beside what a busy machine adds to a request
 * (tens of ms at load 20), so the service time says how many wait at the resource.
 */
const HOLD_MS = 100;
const CLIENTS = 24;
/** Requests the resource serves in one 1 s window at most. */
const PER_WINDOW = (CAPACITY * 1000) / HOLD_MS;

/** Keeps the limit changes the runtime audits; the rest of a store is not needed here. */
function auditRecorder(): TimingRecorder & { changes: LimitChange[] } {
  const changes: LimitChange[] = [];
  return {
    changes,
    record() {},
    figures: () => ({ rows: 0, dropped: 0, errors: 0 }),
    recordLimitChange: (change) => void changes.push(change),
    recordEvent() {},
    recordWorkersChange() {},
    close: async () => {},
  };
}

test('under load the adaptive limit moves toward the capacity behind the app; a manual limit fixes it, resume lets it move again', async (t) => {
  const resource = await startCapacityResource(CAPACITY, HOLD_MS);
  t.after(() => resource.close());
  const recorder = auditRecorder();
  const rt = await startSupervisor(t, [{ ...poolApp({ name: 'cap', module: CAPACITY_APP, count: 2, threads: 24, queue: 1000 }), adaptive: { min: 2, max: 48, tolerance: 0.5, windowMs: 1000 } }], { recorder });
  const stats = (rt.stats as { port: number }).port;
  const target = rt.targets.get('cap') as Target;
  const payload = encodeScgiRequest({ uri: `/?port=${resource.port}` });
  const load = startLoad(CLIENTS, async () => {
    await sendRaw(target, payload, { timeoutMs: 60_000 });
  });
  t.after(() => load.stop());

  assert.equal((await readFigures(stats)).get('cap_threads_mode'), 'adaptive');
  // From 24 (6x C) the limit comes down near C, and stays there while the load lasts. The
  // benchmark holds it to [C, 2C] on a quiet machine; here a busy one adds its noise.
  const inRange = (n: number): boolean => n >= CAPACITY && n <= 3 * CAPACITY;
  await waitUntil('the limit within [C, 3C]', async () => inRange(Number((await readFigures(stats)).get('cap_threads'))), { timeoutMs: 60_000 });
  const servedAt = resource.served;
  const seen: number[] = [];
  await waitUntil('five windows of requests', async () => {
    seen.push(Number((await readFigures(stats)).get('cap_threads')));
    return resource.served - servedAt > 5 * PER_WINDOW;
  }, { timeoutMs: 60_000, intervalMs: 100 });
  assert.match((await readFigures(stats)).get('cap_threads_reason') ?? '', /^(service \d+ ms is [\d.]+x the unloaded \d+ ms|probe)/);
  const outside = seen.filter((n) => !inRange(n));
  assert.ok(outside.length <= seen.length / 5, `limits read: ${seen.join(',')}`);

  // An operator's limit: the mode flips to fixed, audited, and the controller leaves it alone.
  await rt.supervisor.setThreads('cap', 16, 'test operator');
  let figures = await readFigures(stats);
  assert.equal(figures.get('cap_threads_mode'), 'fixed');
  assert.equal(figures.get('cap_threads_reason'), 'fixed by test operator');
  assert.equal(figures.get('cap_threads'), '16');
  assert.ok(recorder.changes.some((c) => c.source === 'threads mode fixed (test operator)'), JSON.stringify(recorder.changes));
  assert.ok(recorder.changes.some((c) => c.source === 'test operator' && c.newThreads === 16));
  const fixedAt = resource.served;
  await waitUntil('three windows of requests', () => resource.served - fixedAt > 3 * PER_WINDOW, { timeoutMs: 60_000 });
  assert.equal((await readFigures(stats)).get('cap_threads'), '16');

  // Resumed: the controller takes over from 16 and brings it back.
  const resumed = await rt.supervisor.setThreadsMode('cap', 'adaptive', 'test operator');
  assert.deepEqual(resumed, { app: 'cap', mode: 'adaptive', threads: 2 });
  figures = await readFigures(stats);
  assert.equal(figures.get('cap_threads_mode'), 'adaptive');
  await waitUntil('the limit back within [C, 3C]', async () => {
    const n = Number((await readFigures(stats)).get('cap_threads'));
    return n !== 2 && inRange(n);
  }, { timeoutMs: 60_000 });
  assert.ok(recorder.changes.some((c) => c.source === 'threads mode adaptive (test operator)'));
  await load.stop();
});

test('in-process (workers: 0) the same controller moves the app\'s own limit', async (t) => {
  const resource = await startCapacityResource(CAPACITY, HOLD_MS);
  t.after(() => resource.close());
  const app = await import(CAPACITY_APP) as { default: Extract<AppHandler, { type: 'node' }>['listener'] };
  const inline: AppSettings = {
    listen: '127.0.0.1:0',
    adaptive: { min: 1, max: 48, tolerance: 0.5, windowMs: 1000 },
    options: { name: 'inline', handler: { type: 'node', listener: app.default }, threads: 24, queue: 1000, queueTimeoutMs: 60_000, requestTimeoutMs: 0, mount: '' },
  };
  const rt = await startSupervisor(t, [inline]);
  const stats = (rt.stats as { port: number }).port;
  const payload = encodeScgiRequest({ uri: `/?port=${resource.port}` });
  const load = startLoad(CLIENTS, async () => {
    await sendRaw(rt.targets.get('inline') as Target, payload, { timeoutMs: 60_000 });
  });
  t.after(() => load.stop());
  await waitUntil('the limit within [C, 3C]', async () => {
    const n = Number((await readFigures(stats)).get('inline_threads'));
    return n >= CAPACITY && n <= 3 * CAPACITY;
  }, { timeoutMs: 60_000 });
  await load.stop();
});

test('the mode control refuses an app without an adaptive range, naming it', async (t) => {
  const rt = await startSupervisor(t, [{ name: 'plain' }]);
  assert.equal((await readFigures((rt.stats as { port: number }).port)).get('plain_threads_mode'), 'fixed');
  await assert.rejects(rt.supervisor.setThreadsMode('plain', 'adaptive', 'test'), (err: Error & { code?: string }) => err.code === 'DOW_ERR_NOT_ADAPTIVE' && /plain has no adaptive range/.test(err.message));
});
