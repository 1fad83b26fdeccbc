/**
 * @module native-load
 * The native I/O part of the benchmark (`npm run bench -- --native`): each group of NATIVE_GROUPS
 * (our native I/O core, node:net and, where a target compares with it, uWSGI) interleaved behind an
 * nginx of its own, one group after another; then 10,000 held long-poll requests on each path and
 * the system calls per request. A part that fails is reported as not completed; the others run.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runHttp } from './http-load.js';
import { runLongPoll } from './long-poll.js';
import { partRunner } from './run-workers.js';
import type { NativeResults } from './native-report.js';
import { countSyscalls, NATIVE_SYSCALL_TARGETS } from './syscall-count.js';
import { NATIVE_GROUPS } from './targets.js';

/** The native core's memory target: 10,000 held long-poll requests in no more memory than on node:net. */
export const LONG_POLL_HELD = 10_000;

export interface NativeOptions {
  dir: string;
  rounds: number;
  secondsPerRun: number;
  warmupSeconds: number;
  connections: number;
  /** Pairs of long-poll runs (native and node:net, order alternating); 0 skips them. */
  longPollPairs: number;
  /** Seconds of wrk under strace per backend; 0 skips the count. */
  syscallSeconds: number;
  log(line: string): void;
}

export async function runNative(o: NativeOptions): Promise<NativeResults> {
  const r: NativeResults = { rounds: o.rounds, secondsPerRun: o.secondsPerRun, groups: [], longPoll: [], syscalls: [], failures: [] };
  const part = partRunner('native', r.failures, o.log);
  // Groups apart, not one interleaved run of all ten backends: with many backends alive each one
  // idles for minutes between its runs, which costs ours up to 70 % more CPU per request
  // (docs/benchmarks.md, "Interleaved or one at a time"). Ratios are taken within a group.
  for (const g of NATIVE_GROUPS) {
    await part(g.label, async () => {
      const results = await runHttp({
        dir: o.dir, rounds: o.rounds, secondsPerRun: o.secondsPerRun, warmupSeconds: o.warmupSeconds,
        connections: o.connections, diagnose: false, only: [], targets: g.targets, log: o.log,
      });
      r.groups.push({ id: g.id, label: g.label, results });
    });
  }
  for (let pair = 1; pair <= o.longPollPairs; pair++) {
    // Alternating order, so neither path always runs on a machine the other has just churned.
    for (const io of pair % 2 === 1 ? (['native', 'node'] as const) : (['node', 'native'] as const)) {
      await part(`long-poll ${LONG_POLL_HELD}, ${io}, pair ${pair}`, async () => {
        const dir = join(o.dir, `long-poll-${io}-${pair}`); // a fresh store per run
        mkdirSync(dir, { recursive: true });
        const got = await runLongPoll(LONG_POLL_HELD, dir, io);
        r.longPoll.push(got);
        o.log(`long-poll ${LONG_POLL_HELD} ${io}: RSS ${got.idleRssMiB.toFixed(1)} -> ${got.heldRssMiB.toFixed(1)} MiB, ${got.answered200} answered, ${got.errors} errors`);
      });
    }
  }
  if (o.syscallSeconds > 0) {
    await part('system calls per request (strace -f -c)', async () => {
      r.syscalls = await countSyscalls({ dir: o.dir, seconds: o.syscallSeconds, connections: o.connections, targets: NATIVE_SYSCALL_TARGETS, log: o.log });
    });
  }
  return r;
}
