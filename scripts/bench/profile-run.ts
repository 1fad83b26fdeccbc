/**
 * @module profile-run
 * `npm run bench -- --profile`: our full path (hello listener, store on, TCP) behind nginx under
 * wrk, with `node --cpu-prof`; after a graceful stop, summarizes the main thread's profile.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBackend } from './backends.js';
import { startNginx } from './nginx.js';
import { freePort } from './processes.js';
import { formatSummary, summarizeProfile, type CpuProfile } from './profile-summary.js';
import { HTTP_TARGETS, NATIVE_GROUPS, TARGETS, type TargetId } from './targets.js';
import { runWrk } from './wrk.js';

export interface ProfileOptions {
  dir: string;
  seconds: number;
  connections: number;
  top: number;
  /** Where the .cpuprofile files are kept after the run. */
  keepDir: string;
  /** Which backend to profile; the full path unless asked otherwise. */
  targetId?: TargetId;
  log(line: string): void;
}

export async function runProfile(o: ProfileOptions): Promise<string> {
  const profDir = join(o.dir, 'cpu-prof');
  mkdirSync(profDir, { recursive: true });
  const targetId = o.targetId ?? 'ours-full';
  // The --http and --native parts' targets too (ours-http, ours-full-w0, ours-full-node, ...).
  const target = [...TARGETS, ...HTTP_TARGETS, ...NATIVE_GROUPS.flatMap((g) => g.targets)].find((t) => t.id === targetId);
  if (!target || target.backend === null) throw new Error(`no Node backend target ${targetId}`);
  const backend = await startBackend(target.backend, o.dir, { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir] });
  let requests = 0;
  try {
    const port = await freePort();
    const nginx = await startNginx(join(o.dir, 'nginx'), [{ name: target.id, port, front: target.front(backend.address) }]);
    try {
      o.log(`profiling ${backend.command} for ${o.seconds} s`);
      const warm = await runWrk({ url: `http://127.0.0.1:${port}/`, seconds: 2, connections: o.connections, threads: 1 });
      const result = await runWrk({ url: `http://127.0.0.1:${port}/`, seconds: o.seconds, connections: o.connections, threads: 1 });
      requests = warm.requests + result.requests; // the profile covers the warm-up too
      o.log(`${result.requests} requests, ${Math.round(result.requestsPerSecond)} req/s under the profiler (slower than without it)`);
    } finally {
      await nginx.process.stop();
    }
  } finally {
    await backend.process.stop(); // SIGTERM: graceful exit, which is when V8 writes the profile
  }
  // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile: thread 0 is the main thread.
  const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).sort();
  if (files.length === 0) throw new Error(`no .cpuprofile written in ${profDir}:\n${backend.process.output()}`);
  mkdirSync(o.keepDir, { recursive: true });
  const out: string[] = [];
  for (const file of files) {
    copyFileSync(join(profDir, file), join(o.keepDir, file));
    const [, , , pid, thread] = file.split('.');
    const main = thread === '0';
    // The app runs in a worker process (the supervisor passes --cpu-prof on to it).
    const owner = Number(pid) === backend.process.pid ? 'supervisor' : `worker process ${pid}`;
    out.push(`== ${join(o.keepDir, file)} (${owner}, ${main ? 'main thread' : `worker thread ${thread}`})`);
    const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile;
    out.push(formatSummary(summarizeProfile(profile), main ? o.top : Math.min(o.top, 10), requests), '');
  }
  out.unshift(`${requests} requests profiled (a 2 s warm-up and ${o.seconds} s of wrk); µs/req = self time / requests`);
  return out.join('\n');
}
