/**
 * @module adaptive-controller
 * The adaptive thread limit's decision, pure: one window's service times and demand in, the
 * app's next limit within [min, max] and the reason out. docs/adaptive.md explains the choices.
 *
 *   probe-settle ──▶ probe-measure ──▶ track ◀─┐   track: service/baseline within tolerance and
 *     (limit = min; the requests admitted      │   demand waiting: raise; above it: lower in
 *      at the old limit drain)                 │   proportion; else hold
 *        ▲                                     │
 *        └──── every PROBE_EVERY_WINDOWS ──────┘
 *
 * The baseline is the app's unloaded service time: measured while the limit sits at `min`, where
 * nothing queues inside the app (if `min` is at most the app's real capacity), lowered at once by
 * any faster window, and raised only by a new probe. So a slow phase never becomes the baseline
 * (a windowed minimum under a limit above capacity would ratchet up), and a baseline gone stale
 * low (the app got slower for good) drives the limit to min, where the next window re-measures.
 */

export interface AdaptiveSettings {
  min: number;
  max: number;
  /** How much slower than the baseline the service may get before the limit comes down (0.5 = 50 %). */
  tolerance: number;
}

/** `adaptive` in an app's config, defaults filled in. */
export interface AdaptiveConfig extends AdaptiveSettings {
  /** How often the limit is reconsidered, ms. */
  windowMs: number;
}

/**
 * Past 1.5x the unloaded service time, requests are taken to queue inside the app: the limit
 * then settles near 1.5x the app's capacity, so the app never idles for want of a request while
 * half its capacity at most waits inside it.
 */
export const DEFAULT_TOLERANCE = 0.5;
/**
 * Long enough for some tens of requests of a typical app to finish in each window (a mean of few
 * is noise), short enough to follow a change within seconds.
 */
export const DEFAULT_WINDOW_MS = 1000;

/** One sampling window of an app, summed over its workers. */
export interface WindowSample {
  /** Requests admitted to the app that finished in the window (503s and queue timeouts excluded). */
  completed: number;
  /** Their service time summed (ms): from admission to the response, queue wait excluded. */
  serviceMs: number;
  /** The window's length (ms). */
  elapsedMs: number;
  /** Requests waiting for a slot at the window's end. */
  queued: number;
}

export type ControllerPhase = 'probe-settle' | 'probe-measure' | 'track';

export interface ControllerState {
  /** The estimate, unrounded: growth below one slot per window accumulates. */
  estimate: number;
  /** The unloaded service time (ms); null until the first probe measured it. */
  baselineMs: number | null;
  phase: ControllerPhase;
  /** The estimate to go back to when the probe ends. */
  resumeAt: number;
  windowsSinceProbe: number;
  /** Consecutive windows spent at min with demand waiting. */
  windowsAtMin: number;
  /** Windows spent in probe-measure without a finished request. */
  probeWaits: number;
}

export interface Decision {
  state: ControllerState;
  /** The limit to apply: an integer in [min, max]. */
  limit: number;
  reason: string;
}

/** A probe every this many windows: re-measures a baseline that may have gone up. */
export const PROBE_EVERY_WINDOWS = 60;
/** At min this many windows with demand waiting: the baseline is re-measured there and then. */
const AT_MIN_REMEASURE_WINDOWS = 3;
/** Fewer finished requests than this in a window say too little to move the limit on. */
const MIN_COMPLETED = 3;
/** A faster window lowers the baseline only from this many requests (a lone fast one is noise). */
const BASELINE_MIN_COMPLETED = 10;
/** A probe that sees no request finish for this many windows keeps the old baseline. */
const MAX_PROBE_WAITS = 5;
/** The limit is raised while the slots were this busy on average, or requests waited. */
const BUSY_FRACTION = 0.75;
/** One window lowers the limit by at most half: a single noisy window cannot collapse it. */
const MAX_CUT = 0.5;

export function clampLimit(value: number, s: AdaptiveSettings): number {
  return Math.min(s.max, Math.max(s.min, Math.round(value)));
}

/** The controller's first state: it probes at once, then resumes from `start` (the app's `threads`). */
export function initialState(start: number, s: AdaptiveSettings): ControllerState {
  return { estimate: s.min, baselineMs: null, phase: 'probe-settle', resumeAt: clampLimit(start, s), windowsSinceProbe: 0, windowsAtMin: 0, probeWaits: 0 };
}

const ms = (v: number): string => `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`;

export function nextLimit(state: ControllerState, sample: WindowSample, s: AdaptiveSettings): Decision {
  const decide = (next: ControllerState, reason: string): Decision => {
    const estimate = Math.min(s.max, Math.max(s.min, next.estimate));
    return { state: { ...next, estimate }, limit: clampLimit(estimate, s), reason };
  };
  const serviceMs = sample.completed > 0 ? sample.serviceMs / sample.completed : 0;

  if (state.phase === 'probe-settle') {
    // The requests admitted at the old limit are still finishing: their times say nothing yet.
    return decide({ ...state, phase: 'probe-measure', probeWaits: 0 }, `probe: limit at ${s.min} to measure the unloaded service time`);
  }
  if (state.phase === 'probe-measure') {
    if (sample.completed === 0 && (state.baselineMs === null || state.probeWaits + 1 < MAX_PROBE_WAITS)) {
      return decide({ ...state, probeWaits: state.probeWaits + 1 }, 'probe: waiting for a request to finish');
    }
    const baselineMs = sample.completed > 0 ? serviceMs : state.baselineMs;
    const resumed = { ...state, phase: 'track' as const, baselineMs, estimate: state.resumeAt, windowsSinceProbe: 0, windowsAtMin: 0 };
    return decide(resumed, `probe: unloaded service time ${ms(baselineMs ?? 0)}; limit back to ${clampLimit(state.resumeAt, s)}`);
  }

  const windowsSinceProbe = state.windowsSinceProbe + 1;
  const tracked = { ...state, windowsSinceProbe };
  if (state.baselineMs === null || sample.completed < MIN_COMPLETED) {
    return decide(tracked, sample.completed === 0 ? 'idle' : `only ${sample.completed} requests finished: held`);
  }
  const demand = sample.queued > 0 || sample.serviceMs / Math.max(1, sample.elapsedMs) >= BUSY_FRACTION * state.estimate;
  const atMin = clampLimit(state.estimate, s) === s.min && demand;
  const windowsAtMin = atMin ? state.windowsAtMin + 1 : 0;
  if (windowsAtMin >= AT_MIN_REMEASURE_WINDOWS) {
    // Pinned at min: the app got slower for good (a baseline from a faster past says every window
    // is overloaded). Nothing queues inside the app at min, so this window is the new baseline.
    return decide({ ...tracked, baselineMs: serviceMs, windowsAtMin: 0 }, `at ${s.min} for ${windowsAtMin} windows: unloaded service time re-measured, ${ms(serviceMs)}`);
  }
  const baselineMs = sample.completed >= BASELINE_MIN_COMPLETED ? Math.min(state.baselineMs, serviceMs) : state.baselineMs;
  const ratio = serviceMs / baselineMs;
  let estimate = state.estimate;
  let reason: string;
  if (ratio > 1 + s.tolerance) {
    // Past capacity C, service grows as limit/C (the extra requests wait inside the app), so
    // limit * (1 + tolerance) / ratio lands where service is (1 + tolerance) x the baseline.
    estimate = Math.max(state.estimate * MAX_CUT, (state.estimate * (1 + s.tolerance)) / ratio);
    reason = `service ${ms(serviceMs)} is ${ratio.toFixed(2)}x the unloaded ${ms(baselineMs)}: lowered`;
  } else if (demand) {
    // Full steps while service is at the baseline, none at the edge of the tolerance: the limit
    // settles there instead of sawing across it.
    const room = 1 - Math.max(0, ratio - 1) / s.tolerance;
    estimate = state.estimate + Math.max(1, Math.sqrt(state.estimate)) * room;
    reason = `service ${ms(serviceMs)} is ${ratio.toFixed(2)}x the unloaded ${ms(baselineMs)} and requests wait: raised`;
  } else {
    reason = 'fewer requests than the limit: held';
  }
  const next: ControllerState = { ...tracked, estimate, baselineMs, windowsAtMin };
  if (windowsSinceProbe >= PROBE_EVERY_WINDOWS && clampLimit(estimate, s) > s.min) {
    const decided = decide(next, reason);
    return decide({ ...next, phase: 'probe-settle', resumeAt: decided.state.estimate, estimate: s.min }, `probe: limit at ${s.min} for two windows (${decided.limit} after)`);
  }
  return decide(next, reason);
}
