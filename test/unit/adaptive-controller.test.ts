/**
 * The adaptive limit's controller against simulated apps: a resource that serves C requests at
 * once and queues the rest inside the app, so service time is base x max(1, limit / C), with
 * noise, slow drifts and capacity changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { initialState, nextLimit, PROBE_EVERY_WINDOWS, type AdaptiveSettings, type ControllerState, type WindowSample } from '../../server/adaptive/adaptive-controller.js';

const WINDOW_MS = 1000;

interface World {
  capacity: (window: number) => number;
  baseMs: (window: number) => number;
  /** Multiplies each window's mean service time (1 = no noise). */
  noise: (window: number) => number;
  /** Requests wanting service at once (clients); default 64. */
  clients?: number;
}

/** What one window at `limit` looks like to the controller in this world. */
function observe(world: World, window: number, limit: number): WindowSample {
  const clients = world.clients ?? 64;
  const running = Math.min(limit, clients);
  const serviceMs = world.baseMs(window) * Math.max(1, running / world.capacity(window)) * world.noise(window);
  const completed = Math.floor((running * WINDOW_MS) / serviceMs);
  return { completed, serviceMs: completed * serviceMs, elapsedMs: WINDOW_MS, queued: Math.max(0, clients - limit) };
}

interface Run {
  limits: number[];
  reasons: string[];
  states: ControllerState[];
}

function run(world: World, s: AdaptiveSettings, start: number, windows: number): Run {
  let state = initialState(start, s);
  let limit = Math.round(state.estimate);
  const out: Run = { limits: [], reasons: [], states: [] };
  for (let w = 0; w < windows; w++) {
    const decision = nextLimit(state, observe(world, w, limit), s);
    state = decision.state;
    limit = decision.limit;
    out.limits.push(limit);
    out.reasons.push(decision.reason);
    out.states.push(state);
  }
  return out;
}

const settings: AdaptiveSettings = { min: 1, max: 64, tolerance: 0.5 };
const steady = (c: number, baseMs = 20): World => ({ capacity: () => c, baseMs: () => baseMs, noise: () => 1 });
/** Windows not spent probing, from `from` on (a probe holds the limit at min on purpose). */
const tracked = (r: Run, from: number): number[] => r.limits.filter((_, i) => i >= from && r.states[i]?.phase === 'track' && r.reasons[i]?.startsWith('probe') !== true);

test('starts with a probe at min, then resumes from the configured start', () => {
  const r = run(steady(8), settings, 16, 3);
  assert.deepEqual(r.states.map((x) => x.phase), ['probe-measure', 'track', 'track']);
  assert.equal(r.limits[0], 1);
  assert.equal(r.limits[1], 16);
  assert.equal(r.states[1]?.baselineMs, 20);
  assert.match(r.reasons[1] as string, /unloaded service time 20 ms; limit back to 16/);
});

test('settles within [C, 2C] for a steady capacity, whatever the start', () => {
  for (const c of [2, 4, 12, 30]) {
    for (const start of [1, 8, 64]) {
      const r = run(steady(c), settings, start, 40);
      for (const limit of tracked(r, 15)) assert.ok(limit >= c && limit <= 2 * c, `C=${c} start=${start}: limit ${limit} in ${tracked(r, 15).join(',')}`);
    }
  }
});

test('follows capacity 4 -> 12 -> 2 within 10 windows of each change', () => {
  const phases = [4, 12, 2];
  const world: World = { capacity: (w) => phases[Math.min(2, Math.floor(w / 30))] as number, baseMs: () => 20, noise: () => 1 };
  const r = run(world, settings, 8, 90);
  for (const [i, c] of phases.entries()) {
    const settled = tracked(r, i * 30 + 10).filter((_, j) => j < 20);
    for (const limit of settled) assert.ok(limit >= c && limit <= 2 * c, `phase C=${c}: ${r.limits.slice(i * 30, i * 30 + 30).join(',')}`);
  }
});

test('each decrease says why, with the measured and the unloaded service time', () => {
  const r = run(steady(4), settings, 64, 4);
  assert.match(r.reasons[2] as string, /^service \d+ ms is \d+\.\d\dx the unloaded 20 ms: lowered$/);
  assert.ok((r.limits[2] as number) < 64);
});

test('holds when demand stays below the limit: an idle app does not drift to max', () => {
  const r = run({ ...steady(50), clients: 3 }, settings, 8, 30);
  assert.ok(tracked(r, 2).every((l) => l === 8), r.limits.join(','));
  assert.match(r.reasons[5] as string, /held/);
});

test('an idle app keeps its limit; before its first probe it waits at min for a request', () => {
  const idle = run({ ...steady(50), clients: 0 }, settings, 8, 5);
  assert.deepEqual(idle.limits, [1, 1, 1, 1, 1]);
  assert.match(idle.reasons[4] as string, /waiting for a request to finish/);
  const state = run(steady(50), settings, 8, 6).states[5] as ControllerState;
  const d = nextLimit(state, { completed: 0, serviceMs: 0, elapsedMs: WINDOW_MS, queued: 0 }, settings);
  assert.equal(d.reason, 'idle');
  assert.equal(d.state.estimate, state.estimate);
});

test('a slow drift of the unloaded service time (2x over the run) keeps the limit near capacity', () => {
  const world: World = { capacity: () => 8, baseMs: (w) => 20 * (1 + w / 150), noise: () => 1 };
  const r = run(world, settings, 8, 150);
  const after = tracked(r, 10);
  const low = after.filter((l) => l < 8).length;
  assert.ok(low / after.length < 0.1, `below C in ${low} of ${after.length} windows: ${r.limits.join(',')}`);
  assert.ok(after.every((l) => l <= 16));
});

test('a step up of the unloaded service time is re-measured at min, not held against the app', () => {
  // From window 20 each request takes 60 ms unloaded: against the old 20 ms baseline every
  // window looks 3x overloaded, so the limit falls to min, where the baseline is measured again.
  const world: World = { capacity: () => 8, baseMs: (w) => (w < 20 ? 20 : 60), noise: () => 1 };
  const r = run(world, settings, 8, 50);
  assert.ok(r.reasons.some((x) => /re-measured, 60 ms/.test(x)), r.reasons.join('\n'));
  for (const limit of tracked(r, 40)) assert.ok(limit >= 8 && limit <= 16, r.limits.join(','));
});

test('a burst of slowness (a GC, a slow disk) lowers the limit, which recovers after it', () => {
  const world: World = { capacity: () => 10, baseMs: () => 20, noise: (w) => (w >= 20 && w < 23 ? 4 : 1) };
  const r = run(world, settings, 10, 45);
  assert.ok(Math.min(...r.limits.slice(20, 24)) < 10);
  for (const limit of tracked(r, 35)) assert.ok(limit >= 10 && limit <= 20, r.limits.join(','));
});

test('a baseline measured during a slow phase is replaced by the next probe', () => {
  // The first probe happens while the app is slow (80 ms): afterwards 20 ms is normal, and the
  // too-high baseline lets the limit grow past capacity until a faster window lowers it.
  const world: World = { capacity: () => 6, baseMs: (w) => (w < 2 ? 80 : 20), noise: () => 1 };
  const r = run(world, settings, 6, 30);
  assert.equal(r.states[29]?.baselineMs, 20);
  for (const limit of tracked(r, 15)) assert.ok(limit >= 6 && limit <= 12, r.limits.join(','));
});

test('re-probes every PROBE_EVERY_WINDOWS windows and returns to the limit it had', () => {
  const r = run(steady(12), settings, 12, PROBE_EVERY_WINDOWS * 2 + 10);
  const probes = r.reasons.map((x, i) => [x, i] as const).filter(([x]) => /^probe: limit at 1 for two windows/.test(x));
  assert.equal(probes.length, 2);
  for (const [, i] of probes) {
    assert.equal(r.limits[i], 1);
    assert.equal(r.limits[i + 2], r.limits[i - 1]);
  }
});

test('a probe that sees no request finish keeps the limit at min, then gives up on the old baseline', () => {
  let state = initialState(8, settings);
  const busy: WindowSample = { completed: 40, serviceMs: 40 * 20, elapsedMs: WINDOW_MS, queued: 10 };
  state = nextLimit(state, busy, settings).state;
  state = nextLimit(state, busy, settings).state;
  assert.equal(state.phase, 'track');
  const empty: WindowSample = { completed: 0, serviceMs: 0, elapsedMs: WINDOW_MS, queued: 10 };
  const probing: ControllerState = { ...state, phase: 'probe-measure', estimate: 1, resumeAt: 8 };
  let d = nextLimit(probing, empty, settings);
  assert.equal(d.limit, 1);
  assert.match(d.reason, /waiting for a request to finish/);
  for (let i = 0; i < 10 && d.state.phase !== 'track'; i++) d = nextLimit(d.state, empty, settings);
  assert.equal(d.state.phase, 'track');
  assert.equal(d.state.baselineMs, 20);
  assert.equal(d.limit, 8);
});

const settingsArb = fc.record({ min: fc.integer({ min: 1, max: 8 }), span: fc.integer({ min: 0, max: 200 }), tolerance: fc.double({ min: 0.1, max: 2, noNaN: true }) })
  .map(({ min, span, tolerance }): AdaptiveSettings => ({ min, max: min + span, tolerance }));
const sampleArb = fc.record({
  completed: fc.integer({ min: 0, max: 10_000 }),
  perRequestMs: fc.double({ min: 0.001, max: 60_000, noNaN: true }),
  elapsedMs: fc.double({ min: 1, max: 10_000, noNaN: true }),
  queued: fc.integer({ min: 0, max: 1000 }),
}).map(({ completed, perRequestMs, elapsedMs, queued }): WindowSample => ({ completed, serviceMs: completed * perRequestMs, elapsedMs, queued }));

test('property: any samples keep the limit an integer in [min, max] with a reason', () => {
  fc.assert(fc.property(settingsArb, fc.integer({ min: 0, max: 500 }), fc.array(sampleArb, { maxLength: 150 }), (s, start, samples) => {
    let state = initialState(start, s);
    for (const sample of samples) {
      const d = nextLimit(state, sample, s);
      assert.ok(Number.isInteger(d.limit) && d.limit >= s.min && d.limit <= s.max, `${d.limit} outside [${s.min}, ${s.max}]`);
      assert.ok(d.state.estimate >= s.min && d.state.estimate <= s.max && Number.isFinite(d.state.estimate));
      assert.ok(d.reason.length > 0);
      state = d.state;
    }
  }));
});

test('property: with noise up to ±10 %, a steady capacity C keeps the limit within [C, 2C] once settled', () => {
  fc.assert(fc.property(
    fc.integer({ min: 2, max: 40 }),
    fc.double({ min: 1, max: 200, noNaN: true }),
    fc.integer({ min: 1, max: 64 }),
    fc.array(fc.double({ min: 0.9, max: 1.1, noNaN: true }), { minLength: 60, maxLength: 60 }),
    (c, baseMs, start, noise) => {
      const world: World = { capacity: () => c, baseMs: () => baseMs, noise: (w) => noise[w % noise.length] as number, clients: 128 };
      const r = run(world, { min: 1, max: 128, tolerance: 0.5 }, start, 60);
      const settled = tracked(r, 20);
      const outside = settled.filter((l) => l < c || l > 2 * c);
      // Noise can push one window past the tolerance: a stray window outside, never a run of them.
      assert.ok(outside.length <= settled.length / 10, `C=${c}: ${r.limits.join(',')}`);
    },
  ), { numRuns: 200 });
});

test('property: a lowering never goes below half the previous estimate in one window', () => {
  fc.assert(fc.property(settingsArb, fc.integer({ min: 1, max: 500 }), fc.array(sampleArb, { maxLength: 80 }), (s, start, samples) => {
    let state = initialState(start, s);
    for (const sample of samples) {
      const d = nextLimit(state, sample, s);
      if (state.phase === 'track' && d.state.phase === 'track') assert.ok(d.state.estimate >= Math.max(s.min, state.estimate / 2) - 1e-9);
      state = d.state;
    }
  }));
});
