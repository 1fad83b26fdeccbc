/**
 * @module worker-role
 * What the pool has each worker for, and every move between those roles. The process's own state
 * (starting, accepting, draining…) is WorkerProcess's; the role is the pool's, and decides what its
 * exit means: nothing, a standby gone, or a death to count and replace.
 *
 *   loading ──────ready, admitted──▶ serving ──────retire──▶ retiring
 *   replacement ──ready, admitted──▶ serving (replacement: a failure is retried)
 *   standby ──the worker it stands by for dies──▶ replacement
 *   any ──silent past hangTimeout──▶ hung        any ──cannot load or listen, or discarded──▶ failed
 *
 * A hung or failed standby remembers whom it stood by for: its exit only unlinks it from there.
 */
import type { WorkerProcess } from './worker-process.js';

export type WorkerRole =
  /** Loading for a start, a reload or a recycle, which awaits it and reports its failure. */
  | { readonly name: 'loading' }
  /** Loading in place of a dead worker: serves once ready; if it fails, another follows (backoff). */
  | { readonly name: 'replacement' }
  /** Loading ahead for a worker going silent; neither accepts nor counts until it takes over. */
  | { readonly name: 'standby'; readonly for: PoolWorker }
  /** Accepting. `replacement`: started for a dead worker, so a failure to listen is retried too. */
  | { readonly name: 'serving'; readonly replacement: boolean; readonly recycling: boolean }
  /** Told to drain (reload, recycle, stop, an uncaught error): whatever ends it, it is not replaced. */
  | { readonly name: 'retiring'; readonly replacement: boolean }
  /** Said it cannot load or listen, or was not wanted: killed. `retry`: a replacement follows. */
  | { readonly name: 'failed'; readonly retry: boolean; readonly retiring: boolean; readonly standbyFor: PoolWorker | null }
  /** Killed as hung (`detail` says how long, for the event row). */
  | { readonly name: 'hung'; readonly detail: string; readonly replacement: boolean; readonly retiring: boolean; readonly standbyFor: PoolWorker | null };

/** The hang watchdog's bookkeeping for one worker's current silence. */
export interface Silence {
  /** Silent past two heartbeats: the slot ledger no longer counts on it (see presumeStuck). */
  presumedStuck: boolean;
  /** A replacement loading ahead of time while this worker is going silent, and its readiness. */
  standby: { worker: PoolWorker; ready: Promise<void> } | null;
  /** Its standby could not even be forked: no second try every check while it stays silent. */
  standbyFailed: boolean;
  /**
   * Connections it held when killed as hung, counted while it was silent (null where the
   * kernel's tables are unreadable, or the count outlasted the kill's wait for it).
   */
  heldConnections: number | null;
  /** lastAnswerAt of the silence heldConnections was counted in; NaN once the kill froze it. */
  heldCountedAt: number;
  /** Settles when that count is in (the hang kill waits for it, a while). */
  heldCount: Promise<void>;
}

/** The pool's record of one worker: the process, and what the pool alone decides about it. */
export interface PoolWorker {
  readonly process: WorkerProcess;
  /**
   * The lowest index no other live worker of the pool held when this one started: a stable label
   * for its metrics (a replacement takes the place of the worker it replaces), unlike the pid.
   */
  readonly slot: number;
  /** Changed only through the functions below. */
  role: WorkerRole;
  /** Whoever awaits its readiness (start, reload, recycle, standby), until it is settled. */
  start: { resolve(): void; reject(err: Error): void } | null;
  readonly silence: Silence;
}

export function createPoolWorker(process: WorkerProcess, slot: number, role: 'loading' | 'replacement'): PoolWorker {
  return {
    process,
    slot,
    role: { name: role },
    start: null,
    silence: { presumedStuck: false, standby: null, standbyFailed: false, heldConnections: null, heldCountedAt: -1, heldCount: Promise.resolve() },
  };
}

/** Started in place of a dead worker: if it fails to load or listen, another try follows. */
export function retries(role: WorkerRole): boolean {
  switch (role.name) {
    case 'replacement':
      return true;
    case 'serving':
    case 'retiring':
    case 'hung':
      return role.replacement;
    case 'failed':
      return role.retry;
    default:
      return false;
  }
}

/** Told to drain: not replaced, whatever ends it. */
export function isRetiring(role: WorkerRole): boolean {
  return role.name === 'retiring' || ((role.name === 'failed' || role.name === 'hung') && role.retiring);
}

/** The worker a standby (hung or failed, too) stood by for; null for any other. */
export function standbyOf(role: WorkerRole): PoolWorker | null {
  if (role.name === 'standby') return role.for;
  return role.name === 'failed' || role.name === 'hung' ? role.standbyFor : null;
}

export function becomeStandby(w: PoolWorker, of: PoolWorker): void {
  w.role = { name: 'standby', for: of };
}

/** Told to accept: a loaded worker serves; one already ending stays as it is. */
export function admitted(w: PoolWorker): void {
  const role = w.role;
  if (role.name === 'loading' || role.name === 'replacement') w.role = { name: 'serving', replacement: role.name === 'replacement', recycling: false };
}

/** Told to drain. A standby, or a worker already ending, keeps its role; it is no longer replaced. */
export function retired(w: PoolWorker): void {
  const role = w.role;
  switch (role.name) {
    case 'loading':
    case 'replacement':
    case 'serving':
    case 'retiring':
      w.role = { name: 'retiring', replacement: retries(role) };
      break;
    case 'failed':
    case 'hung':
      w.role = { ...role, retiring: true };
      break;
    case 'standby':
      break;
  }
}

/** Not wanted (a failed start or reload, a standby or replacement not needed): its exit is no crash. */
export function discarded(w: PoolWorker): void {
  const role = w.role;
  switch (role.name) {
    case 'retiring':
      w.role = { name: 'retiring', replacement: false };
      break;
    case 'failed':
      w.role = { ...role, retry: false };
      break;
    case 'hung':
      w.role = { ...role, replacement: false };
      break;
    default:
      w.role = { name: 'failed', retry: false, retiring: false, standbyFor: standbyOf(role) };
  }
}

/** It reported that it cannot load the app or listen. */
export function failed(w: PoolWorker): void {
  const role = w.role;
  if (role.name === 'failed') return;
  w.role = { name: 'failed', retry: retries(role), retiring: isRetiring(role), standbyFor: standbyOf(role) };
}

/** Silent past hangTimeout: about to be killed. */
export function hung(w: PoolWorker, detail: string): void {
  const role = w.role;
  w.role = { name: 'hung', detail, replacement: retries(role), retiring: isRetiring(role), standbyFor: standbyOf(role) };
}

/** A standby whose worker was killed as hung takes its place, as a replacement would. */
export function tookOver(w: PoolWorker): void {
  const role = w.role;
  if (role.name === 'standby') w.role = { name: 'replacement' };
  else if (role.name === 'failed') w.role = { ...role, retry: true, standbyFor: null };
  else if (role.name === 'hung') w.role = { ...role, replacement: true, standbyFor: null };
}

/** A recycle starts its successor; a failed one may be tried again later. */
export function setRecycling(w: PoolWorker, recycling: boolean): void {
  if (w.role.name === 'serving') w.role = { ...w.role, recycling };
}
