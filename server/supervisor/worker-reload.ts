/**
 * @module worker-reload
 * One reload of an app's workers: new workers with fresh code first; the old ones drain only once
 * every new one listens, so the app never stops serving. One at a time (see reload-queue).
 */
import type { Logger } from 'pino';
import { errors } from '../../shared/errors.js';
import type { ReloadResult } from '../../shared/runtime-control.js';
import type { RuntimeEvent } from '../../shared/timing-row.js';
import type { PoolWorker } from './worker-role.js';
import type { AppEnvironment } from '../config/app-environment.js';

/** The pool's moves a reload is made of (see WorkerPool). */
export interface ReloadingPool {
  readonly name: string;
  spawn(role: 'loading', environment: AppEnvironment | null): PoolWorker;
  /** What replacements start with; a reload sets it once its workers are ready. */
  environment: AppEnvironment | null;
  whenReady(w: PoolWorker): Promise<void>;
  admit(w: PoolWorker): void;
  retire(w: PoolWorker): void;
  discard(w: PoolWorker): void;
  accepting(): PoolWorker[];
  whenExited(w: PoolWorker): Promise<void>;
}

export async function reloadWorkers(
  pool: ReloadingPool,
  o: { workers: number; log: Logger; onEvent(event: RuntimeEvent): void; readEnvironment(): Promise<AppEnvironment | null> },
  source: string,
): Promise<ReloadResult> {
  const name = pool.name;
  const started = performance.now();
  const old = pool.accepting();
  const fresh: PoolWorker[] = [];
  let environment: AppEnvironment | null;
  try {
    // `cwd`, `env` and the envFile as they are now: a reload is how an edit of them takes effect.
    environment = await o.readEnvironment();
    for (let i = 0; i < o.workers; i++) fresh.push(pool.spawn('loading', environment));
    await Promise.all(fresh.map((w) => pool.whenReady(w)));
  } catch (err) {
    for (const w of fresh) pool.discard(w);
    const why = err instanceof Error ? err.message : String(err);
    o.log.error({ app: name }, `${name}: reload failed, the old workers go on serving: ${why}`);
    throw new errors.DOW_ERR_RELOAD(name, why);
  }
  pool.environment = environment;
  for (const w of fresh) pool.admit(w);
  try {
    await Promise.all(fresh.map((w) => w.process.listening));
  } catch (err) {
    for (const w of fresh) pool.retire(w);
    throw new errors.DOW_ERR_RELOAD(name, (err as Error).message);
  }
  // Every worker serving the old code goes, including a replacement that took over from a
  // crashed or hung one while the new workers loaded.
  const retired = pool.accepting().filter((w) => !fresh.includes(w));
  for (const w of retired) pool.retire(w);
  await Promise.all(retired.map((w) => pool.whenExited(w)));
  for (const w of old) if (!retired.includes(w)) retired.push(w);
  const pids = (workers: PoolWorker[]): string => workers.map((w) => w.process.pid).join(' ');
  const result = { app: name, oldPids: retired.map((w) => w.process.pid), newPids: fresh.map((w) => w.process.pid), tookMs: Math.round(performance.now() - started) };
  o.log.info({ ...result, source }, `${name}: reloaded (${source}): workers ${pids(retired)} -> ${pids(fresh)} in ${result.tookMs} ms`);
  o.onEvent({ app: name, atMs: Date.now(), kind: 'reload', pid: 0, detail: `workers ${pids(retired)} -> ${pids(fresh)}`, source });
  return result;
}
