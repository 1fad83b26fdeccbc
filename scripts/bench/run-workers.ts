/**
 * @module run-workers
 * The worker-process part of `npm run bench`, one comparison after another, each with
 * its own backends and nginx, stopped before the next starts. A part that fails is reported as
 * not completed; the others still run.
 */
import { runMemory } from './workers-memory.js';
import { CPU_CONNECTIONS, CPU_MS, HELLO_CONNECTIONS, runCpuBound, runFullPath } from './workers-load.js';
import { runHangs, runReload } from './workers-recovery.js';
import type { WorkersResults } from './workers-report.js';

/** A 2 s hangTimeout, and a shorter one: each costs its timeout and about a second. */
export const HANG_TIMEOUTS_MS = [2000, 1000];

export interface WorkersOptions {
  dir: string;
  rounds: number;
  secondsPerRun: number;
  warmupSeconds: number;
  /** Quick: one reload instead of three. */
  quick: boolean;
  /** hangTimeout values to time a hang with (default HANG_TIMEOUTS_MS; the default 30000 costs 32 s). */
  hangTimeoutsMs?: number[];
  log(line: string): void;
}

/**
 * Runs the parts of a section one after another: a part that throws is logged and kept in
 * `failures` (its name and the first line of its error), and the next part still runs.
 */
export function partRunner(section: string, failures: string[], log: (line: string) => void): (name: string, run: () => Promise<void>) => Promise<void> {
  return async (name, run) => {
    log(`${section}: ${name}`);
    try {
      await run();
    } catch (err) {
      const why = `${name}: ${(err as Error).message.split('\n')[0]}`;
      failures.push(why);
      log(`failed: ${why}`);
    }
  };
}

export async function runWorkers(o: WorkersOptions): Promise<WorkersResults> {
  const r: WorkersResults = {
    rounds: o.rounds, secondsPerRun: o.secondsPerRun, cpuBound: [], fullPath: [], storeChecks: [], hangs: [], reload: null, memory: [],
    failures: [], commands: [], cpuMs: CPU_MS, cpuConnections: CPU_CONNECTIONS, helloConnections: HELLO_CONNECTIONS,
  };
  const part = partRunner('workers', r.failures, o.log);
  await part('CPU-bound app, workers 2 vs 1', async () => {
    const got = await runCpuBound(o);
    r.cpuBound = got.summaries;
    r.storeChecks.push(...got.storeChecks);
    r.commands.push(...got.commands);
  });
  await part('hello full path, workers 1 vs in-process', async () => {
    const got = await runFullPath(o);
    r.fullPath = got.summaries;
    r.storeChecks.push(...got.storeChecks);
    r.commands.push(...got.commands);
  });
  await part('hang to serving again', async () => {
    const got = await runHangs(o, o.hangTimeoutsMs ?? HANG_TIMEOUTS_MS);
    r.hangs = got.hangs;
    r.commands.push(got.command);
  });
  await part('reload under load', async () => {
    r.reload = await runReload({ ...o, seconds: o.secondsPerRun, reloads: o.quick ? 1 : 3 });
    r.commands.push(r.reload.command);
  });
  await part('memory of the demo', async () => {
    r.memory = await runMemory({ ...o, warmupSeconds: Math.max(1, o.warmupSeconds) });
    r.commands.push(...r.memory.map((m) => m.command));
  });
  return r;
}
