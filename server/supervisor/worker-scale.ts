/**
 * @module worker-scale
 * One change of an app's worker count at run time. Up: the added workers load and listen before
 * the change counts, and if one cannot, none is kept. Down: the surplus workers stop accepting and
 * drain what they run (the retiring role), so no request is cut; the slot ledger gives their
 * share to the workers that stay as they hand it back.
 */
import type { Logger } from 'pino';
import { errors } from '../../shared/errors.js';
import { describeScale, type ScaleResult } from '../../shared/runtime-control.js';
import type { RuntimeEvent } from '../../shared/timing-row.js';
import type { ReloadingPool } from './worker-reload.js';
import type { PoolWorker } from './worker-role.js';

/** The pool's moves a scale is made of: a reload's, and the count the pool keeps up. */
export interface ScalingPool extends ReloadingPool {
  target: number;
}

export async function scaleWorkers(
  pool: ScalingPool,
  o: { log: Logger; onEvent(event: RuntimeEvent): void },
  workers: number,
  source: string,
): Promise<ScaleResult> {
  const name = pool.name;
  const started = performance.now();
  const oldWorkers = pool.target;
  if (workers === oldWorkers) return { app: name, oldWorkers, newWorkers: workers, startedPids: [], stoppedPids: [], tookMs: 0 };
  // Set first: a replacement for a worker that died meanwhile is then admitted (or discarded)
  // against the new count, not the old one.
  pool.target = workers;
  const fresh = workers > oldWorkers ? await startWorkers(pool, workers - oldWorkers, oldWorkers) : [];
  // Fewer may accept than the old count (one died and its replacement loads): the replacement is
  // discarded when it arrives if the count is already met, so only the surplus of those accepting goes.
  const surplus = workers < oldWorkers ? pickSurplus(pool.accepting(), workers) : [];
  for (const w of surplus) pool.retire(w);
  await Promise.all(surplus.map((w) => pool.whenExited(w)));
  const pids = (list: PoolWorker[]): number[] => list.map((w) => w.process.pid);
  const result: ScaleResult = { app: name, oldWorkers, newWorkers: workers, startedPids: pids(fresh), stoppedPids: pids(surplus), tookMs: Math.round(performance.now() - started) };
  const detail = describeScale(result);
  o.log.info({ ...result, source }, `${name}: ${detail} (${source}) in ${result.tookMs} ms`);
  o.onEvent({ app: name, atMs: Date.now(), kind: 'scale', pid: 0, detail, source });
  return result;
}

/** Loads `count` workers, then admits them; if one fails, every one is discarded and the count restored. */
async function startWorkers(pool: ScalingPool, count: number, oldWorkers: number): Promise<PoolWorker[]> {
  const fresh = Array.from({ length: count }, () => pool.spawn('loading'));
  try {
    await Promise.all(fresh.map((w) => pool.whenReady(w)));
  } catch (err) {
    for (const w of fresh) pool.discard(w);
    pool.target = oldWorkers;
    throw new errors.DOW_ERR_SCALE(pool.name, `a new worker failed to start, the ${oldWorkers} running go on serving: ${err instanceof Error ? err.message : String(err)}`);
  }
  for (const w of fresh) pool.admit(w);
  try {
    await Promise.all(fresh.map((w) => w.process.listening));
  } catch (err) {
    for (const w of fresh) pool.retire(w);
    pool.target = oldWorkers;
    throw new errors.DOW_ERR_SCALE(pool.name, `a new worker cannot listen: ${(err as Error).message}`);
  }
  return fresh;
}

/** The workers beyond `keep`: the highest slots go, so the metrics' worker labels stay 0..keep-1. */
function pickSurplus(accepting: PoolWorker[], keep: number): PoolWorker[] {
  return [...accepting].sort((a, b) => a.slot - b.slot).slice(keep);
}
