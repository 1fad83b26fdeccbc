/**
 * The adaptive limit's shell against a scripted app: what it applies, what reaches the audit (one
 * entry per AUDIT_EVERY_MS at most for the controller's own steps, every change of mode), and
 * that a fixed limit is left alone. Date is mocked so that 30 s pass in a test.
 */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { AdaptiveLimit, AUDIT_EVERY_MS } from '../../server/adaptive/adaptive-limit.js';
import type { AppTotals } from '../../server/adaptive/window-sample.js';
import type { LimitChange, TimingRecorder } from '../../shared/timing-row.js';

/** An app whose resource serves `capacity` at once, 20 ms each, under endless demand. */
function scriptedApp(capacity: number, start: number) {
  let threads = start;
  const totals: AppTotals = { requests: 0, rejected: 0, timeouts: 0, onlineTime: 0, queueTime: 0, queued: 50 };
  const changes: LimitChange[] = [];
  const recorder: TimingRecorder = {
    record() {},
    figures: () => ({ rows: 0, dropped: 0, errors: 0 }),
    recordLimitChange: (c) => void changes.push(c),
    recordEvent() {},
    recordWorkersChange() {},
    close: async () => {},
  };
  const limit = new AdaptiveLimit({
    app: 'a',
    config: { min: 1, max: 64, tolerance: 0.5, windowMs: 1000 },
    threads: () => threads,
    totals: async () => ({ ...totals }),
    apply: (n) => void (threads = n),
    log: pino({ level: 'silent' }),
    recorder,
  });
  /** One second of the app at its current limit, then the controller's window. */
  const window = async (): Promise<void> => {
    const serviceMs = 20 * Math.max(1, threads / capacity);
    const finished = Math.floor((threads * 1000) / serviceMs);
    totals.requests += finished;
    totals.onlineTime += (finished * serviceMs) / 1000;
    mock.timers.tick(1000);
    await limit.tick();
  };
  return { limit, changes, window, threads: () => threads };
}

test('steps are applied every window, audited once per AUDIT_EVERY_MS with the latest reason', async (t) => {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  t.after(() => mock.timers.reset());
  const app = scriptedApp(4, 32);
  await app.limit.start();
  app.limit.stop();
  assert.equal(app.threads(), 1, 'the first probe runs at min');
  const seen = new Set<number>();
  for (let i = 0; i < 65; i++) {
    await app.window();
    seen.add(app.threads());
  }
  assert.ok(seen.size > 3, `the limit moved: ${[...seen].join(',')}`);
  assert.ok(app.threads() >= 4 && app.threads() <= 8, `settled at ${app.threads()}`);
  const steps = app.changes.filter((c) => c.source.startsWith('adaptive: '));
  assert.ok(steps.length >= 1 && steps.length <= Math.ceil((65 * 1000) / AUDIT_EVERY_MS), JSON.stringify(steps));
  for (let i = 1; i < steps.length; i++) {
    assert.ok((steps[i]?.atMs ?? 0) - (steps[i - 1]?.atMs ?? 0) >= AUDIT_EVERY_MS);
    assert.equal(steps[i]?.oldThreads, steps[i - 1]?.newThreads, 'each entry starts where the last one ended');
  }
});

test('fixed: the controller leaves the limit alone; resume audits and probes again', async (t) => {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  t.after(() => mock.timers.reset());
  const app = scriptedApp(4, 8);
  await app.limit.start();
  app.limit.stop();
  for (let i = 0; i < 5; i++) await app.window();
  app.limit.fix('dashboard 127.0.0.1');
  assert.equal(app.limit.mode, 'fixed');
  assert.equal(app.limit.reason, 'fixed by dashboard 127.0.0.1');
  const held = app.threads();
  for (let i = 0; i < 5; i++) await app.window();
  assert.equal(app.threads(), held);
  await app.limit.resume('api');
  assert.equal(app.threads(), 1, 'a resume starts with a probe');
  assert.deepEqual(app.changes.filter((c) => c.source.startsWith('threads mode')).map((c) => c.source), ['threads mode fixed (dashboard 127.0.0.1)', 'threads mode adaptive (api)']);
  app.limit.fix('x');
  app.limit.fix('y');
  assert.equal(app.changes.filter((c) => c.source.startsWith('threads mode fixed')).length, 2, 'fixing a fixed limit audits nothing');
});

test('a limit restored at start (persistLimits) is where the controller resumes after its probe', async (t) => {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  t.after(() => mock.timers.reset());
  const app = scriptedApp(40, 8);
  await app.limit.start();
  app.limit.stop();
  await app.limit.startFrom(30);
  assert.equal(app.threads(), 1);
  await app.window();
  await app.window();
  assert.equal(app.threads(), 30);
  assert.equal(app.limit.mode, 'adaptive');
});
