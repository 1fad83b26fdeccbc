/**
 * @module proc-stats
 * CPU time and resident memory of a process and all its descendants, from /proc (Linux only).
 * For a multi-threaded process /proc/<pid>/stat already sums every thread (the timing store's
 * worker included); nginx's and uWSGI's workers are separate processes, found by parent pid.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux we know of. */
export const CLOCK_TICKS_PER_S = readClockTicks();

function readClockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

export interface StatFields {
  ppid: number;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
  /** utime alone: the part spent in the process's own code (JavaScript, V8, libuv, the app). */
  userTicks: number;
}

/**
 * Parses /proc/<pid>/stat. The command name (field 2) sits in parentheses and may hold spaces
 * or ")" itself, so fields are counted from the last ")": ppid is field 4, utime 14, stime 15.
 */
export function parseStat(text: string): StatFields {
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  return { ppid: Number(rest[1]), cpuTicks: Number(rest[11]) + Number(rest[12]), userTicks: Number(rest[11]) };
}

function readStat(pid: number): StatFields | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // exited between listing and reading
  }
}

/** The pid and every live descendant's. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat === undefined) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(entry));
    children.set(stat.ppid, list);
  }
  const tree: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop() as number;
    tree.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return tree;
}

export interface TreeSample {
  /** CPU seconds (user + system) of the live processes of the tree. */
  cpuSeconds: number;
  /** The user-mode part of cpuSeconds; the rest is the kernel's work for the tree (system calls). */
  userSeconds: number;
  rssBytes: number;
  processes: number;
  /** The tree's processes at the sample. */
  pids: number[];
}

export function sampleTree(root: number): TreeSample {
  let ticks = 0;
  let userTicks = 0;
  let rssBytes = 0;
  const pids = processTree(root);
  for (const pid of pids) {
    const stat = readStat(pid);
    ticks += stat?.cpuTicks ?? 0;
    userTicks += stat?.userTicks ?? 0;
    rssBytes += readRss(pid);
  }
  return { cpuSeconds: ticks / CLOCK_TICKS_PER_S, userSeconds: userTicks / CLOCK_TICKS_PER_S, rssBytes, processes: pids.length, pids };
}

export function readRss(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export interface ProcessSample {
  pid: number;
  cpuTicks: number;
  userTicks: number;
  /** The main thread alone (/proc/<pid>/task/<pid>/stat): the event loop, without the store's writer or V8's helpers. */
  mainCpuTicks: number;
  mainUserTicks: number;
  rssBytes: number;
}

/**
 * Every thread of the given processes (a tree's, as sampleTree found it), by `pid/tid`: CPU ticks
 * (user + system) and the user part.
 */
export function sampleThreads(pids: readonly number[]): Map<string, { cpuTicks: number; userTicks: number }> {
  const threads = new Map<string, { cpuTicks: number; userTicks: number }>();
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // exited
    }
    for (const tid of tids) {
      try {
        const stat = parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
        threads.set(`${pid}/${tid}`, { cpuTicks: stat.cpuTicks, userTicks: stat.userTicks });
      } catch {
        // exited between listing and reading
      }
    }
  }
  return threads;
}

/**
 * The thread that used the most CPU between two samples (the one serving requests: a worker's
 * event loop, uWSGI's worker) and what all the others used: the store's writer, a supervisor,
 * V8's helpers, uWSGI's master. In clock ticks.
 */
export function busiestThread(before: ReturnType<typeof sampleThreads>, after: ReturnType<typeof sampleThreads>): { cpuTicks: number; userTicks: number; othersCpuTicks: number } {
  let busiest = { cpuTicks: 0, userTicks: 0 };
  let total = 0;
  for (const [key, now] of after) {
    const then = before.get(key) ?? { cpuTicks: 0, userTicks: 0 };
    const used = { cpuTicks: now.cpuTicks - then.cpuTicks, userTicks: now.userTicks - then.userTicks };
    total += used.cpuTicks;
    if (used.cpuTicks > busiest.cpuTicks) busiest = used;
  }
  return { ...busiest, othersCpuTicks: total - busiest.cpuTicks };
}

/** One process of a tree on its own, for a supervisor whose cost is split from its workers'. */
export function sampleProcess(pid: number): ProcessSample | undefined {
  const whole = readStat(pid);
  if (whole === undefined) return undefined;
  let main: StatFields | undefined;
  try {
    main = parseStat(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8'));
  } catch {
    main = undefined;
  }
  return {
    pid,
    cpuTicks: whole.cpuTicks,
    userTicks: whole.userTicks,
    mainCpuTicks: main?.cpuTicks ?? 0,
    mainUserTicks: main?.userTicks ?? 0,
    rssBytes: readRss(pid),
  };
}

/** Clock ticks of the whole machine (all cores) from /proc/stat's first line: busy and in total. */
export function readMachineTicks(): { busy: number; total: number } {
  const fields = (/^cpu\s+(.*)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1] ?? '').trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/**
 * Proportional set size: each page shared by n processes counts 1/n in each, so PSS adds up
 * over a supervisor and its workers where RSS counts Node's shared code once per process.
 */
export function readPss(pid: number): number {
  try {
    const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return match ? Number(match[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}
