/**
 * @module syscall-count
 * `npm run bench -- --syscalls`: the system calls each backend makes per request, counted by
 * `strace -f -c` over a bounded wrk run through the same nginx as the benchmark. The CPU figures
 * show how much time the kernel takes; this shows what for: node:net's pattern per connection
 * against uWSGI's. A start-up-only run of each backend is subtracted, so module loading and the
 * like do not count.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBackend } from './backends.js';
import { startNginx } from './nginx.js';
import { freePort } from './processes.js';
import { HTTP_TARGETS, NATIVE_GROUPS, TARGETS, type BackendId, type TargetId, type TargetSpec } from './targets.js';
import { runWrk } from './wrk.js';

export const SYSCALL_TARGETS: readonly TargetId[] = ['floor', 'proxy-http10', 'uwsgi', 'ours-nostore', 'ours-full'];
/** `--syscalls --http`: the HTTP listeners' keep-alive targets, where one connection carries many requests. */
export const HTTP_SYSCALL_TARGETS: readonly TargetId[] = ['proxy-keepalive', 'ours-http', 'ours-http-w1'];
/** `--native`: the hello full path on TCP, native I/O against node:net and uWSGI. */
export const NATIVE_SYSCALL_TARGETS: readonly TargetId[] = ['uwsgi', 'ours-full-native', 'ours-full-node'];

/** The calls a connection costs, in the order they happen; everything else is summed as "other". */
const PER_CONNECTION = ['epoll_wait', 'epoll_pwait', 'accept4', 'epoll_ctl', 'read', 'write', 'writev', 'shutdown', 'close'];

/**
 * Reads the table `strace -c` writes:
 *   % time     seconds  usecs/call     calls    errors syscall
 *   ------ ----------- ----------- --------- --------- ----------------
 *    11.14    1.688153         167     10103         1 epoll_pwait
 *     1.04    0.156986           7     20013           epoll_ctl
 * The errors column is blank when there were none, so calls is always the fourth field.
 */
export function parseStraceSummary(text: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const name = fields[fields.length - 1];
    if (fields.length < 5 || name === undefined || name === 'total' || !/^\d+\.\d+$/.test(fields[0] ?? '')) continue;
    const count = Number(fields[3]);
    if (Number.isFinite(count)) calls.set(name, (calls.get(name) ?? 0) + count);
  }
  return calls;
}

export interface SyscallCounts {
  id: TargetId;
  label: string;
  requests: number;
  /** Calls per request by name, start-up subtracted. */
  perRequest: Map<string, number>;
}

export interface SyscallOptions {
  dir: string;
  seconds: number;
  connections: number;
  /** Which targets; SYSCALL_TARGETS unless given. */
  targets?: readonly TargetId[];
  log(line: string): void;
}

export async function countSyscalls(o: SyscallOptions): Promise<SyscallCounts[]> {
  if (spawnSync('strace', ['-V']).error) throw new Error('--syscalls needs strace. On Debian or Ubuntu: sudo apt-get install strace');
  const out: SyscallCounts[] = [];
  for (const id of o.targets ?? SYSCALL_TARGETS) {
    const target = [...TARGETS, ...HTTP_TARGETS, ...NATIVE_GROUPS.flatMap((g) => g.targets)].find((t) => t.id === id);
    if (!target || target.backend === null) continue;
    const idle = await straced(target.backend, join(o.dir, `${id}.idle.strace`), o, null);
    const loaded = await straced(target.backend, join(o.dir, `${id}.load.strace`), o, target.front);
    const perRequest = new Map<string, number>();
    for (const [name, calls] of loaded.calls) {
      const net = calls - (idle.calls.get(name) ?? 0);
      if (net > 0) perRequest.set(name, net / loaded.requests);
    }
    out.push({ id, label: target.label, requests: loaded.requests, perRequest });
    o.log(`${id}: ${loaded.requests} requests under strace, ${total(perRequest).toFixed(1)} system calls per request`);
  }
  return out;
}

/** Starts the backend under strace; with a front end, loads it through nginx; stops it and reads the counts. */
async function straced(
  backendId: BackendId,
  file: string,
  o: SyscallOptions,
  front: TargetSpec['front'] | null,
): Promise<{ calls: Map<string, number>; requests: number }> {
  const backend = await startBackend(backendId, o.dir, { wrap: ['strace', '-f', '-c', '-o', file] });
  let requests = 0;
  try {
    if (front) {
      const port = await freePort();
      const nginx = await startNginx(join(o.dir, `nginx-${backendId}`), [{ name: backendId, port, front: front(backend.address) }]);
      try {
        requests = (await runWrk({ url: `http://127.0.0.1:${port}/`, seconds: o.seconds, connections: o.connections, threads: 1 })).requests;
      } finally {
        await nginx.process.stop();
      }
    }
  } finally {
    await backend.process.stop(); // strace leads the process group: SIGTERM ends both, strace writes its table
  }
  if (!existsSync(file)) throw new Error(`strace wrote no summary to ${file}:\n${backend.process.output()}`);
  if (front && requests === 0) throw new Error(`no request completed for ${backendId} under strace`);
  return { calls: parseStraceSummary(readFileSync(file, 'utf8')), requests };
}

function total(perRequest: Map<string, number>): number {
  let sum = 0;
  for (const v of perRequest.values()) sum += v;
  return sum;
}

export function formatSyscalls(rows: SyscallCounts[], command: string): string {
  const shown = PER_CONNECTION.filter((name) => rows.some((r) => (r.perRequest.get(name) ?? 0) >= 0.05));
  const lines = [
    `System calls per request (\`${command}\`: \`strace -f -c\` over a wrk run through nginx, a start-up-only run subtracted):`,
    '',
    `| backend | requests | ${shown.join(' | ')} | other | total |`,
    `| --- | ---: | ${shown.map(() => '---:').join(' | ')} | ---: | ---: |`,
  ];
  for (const r of rows) {
    const other = total(r.perRequest) - shown.reduce((sum, name) => sum + (r.perRequest.get(name) ?? 0), 0);
    const cells = shown.map((name) => (r.perRequest.get(name) ?? 0).toFixed(2));
    lines.push(`| ${r.label} | ${r.requests} | ${cells.join(' | ')} | ${other.toFixed(2)} | ${total(r.perRequest).toFixed(2)} |`);
  }
  return lines.join('\n');
}
