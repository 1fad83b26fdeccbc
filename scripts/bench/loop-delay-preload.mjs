/**
 * Preload for benchmark backends (`node --import ./scripts/bench/loop-delay-preload.mjs ...`):
 * samples the event-loop delay with monitorEventLoopDelay and, on each SIGUSR2, appends the
 * figures since the previous SIGUSR2 as one JSON line to $DOW_BENCH_LOOP_FILE, then resets.
 * It lives here, not in server/, so the runtime under test carries no benchmark code.
 */
import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

const file = process.env.DOW_BENCH_LOOP_FILE;
// 1 ms resolution, as the timing store's own benchmark uses: the timer fires at most 1000
// times a second, a cost every Node backend in the comparison pays alike.
const RESOLUTION_MS = 1;

// `--import` runs in worker threads too (the timing store's writer): there the timer would only
// wake an idle thread 1000 times a second, billed to the store-on targets, and no signal reaches it.
if (file && isMainThread) {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  const ms = (ns) => Math.round((ns / 1e6) * 1000) / 1000;
  process.on('SIGUSR2', () => {
    const line = {
      pid: process.pid,
      at: Date.now(),
      samples: histogram.count,
      p50Ms: ms(histogram.percentile(50)),
      p99Ms: ms(histogram.percentile(99)),
      maxMs: ms(histogram.max),
      meanMs: ms(histogram.mean),
    };
    histogram.reset();
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  });
}
