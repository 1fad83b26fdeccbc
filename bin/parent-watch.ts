/**
 * @module parent-watch
 * `npx dragon-on-wheels serve` runs the server two processes below npm (npm exec -> sh -c ->
 * node). npm passes a SIGTERM on to the shell only, which dies of it without passing it on, and
 * the server, reparented, goes on serving with its ports held. Started by a package manager, the
 * server watches the processes that started it and stops, as on SIGTERM, once one is gone.
 */
import { readFileSync } from 'node:fs';

/** How often the parent is looked at: a stop follows the starter's exit within this. */
export const PARENT_CHECK_MS = 500;

/** Shells npm, yarn and pnpm run a command through (`sh -c`); they outlive a SIGKILLed starter. */
const SHELLS = new Set(['sh', 'dash', 'bash', 'zsh', 'ksh', 'mksh', 'busybox']);

/** npm (run, start, exec, npx), yarn and pnpm all set npm_execpath for the command they run. */
export function startedByPackageManager(env: NodeJS.ProcessEnv): boolean {
  return (env.npm_execpath ?? '') !== '';
}

export interface ProcStat {
  ppid: number;
  comm: string;
}

/** Linux: a process's parent and command name, from /proc/<pid>/stat; null where unreadable. */
export function readProcStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so split at the last ')'.
  const close = text.lastIndexOf(')');
  const ppid = Number(text.slice(close + 2).split(' ')[1]);
  return Number.isInteger(ppid) ? { ppid, comm: text.slice(text.indexOf('(') + 1, close) } : null;
}

export interface WatchOptions {
  intervalMs?: number;
  /** This process's parent pid now (process.ppid reads it afresh each time). */
  parentPid?: () => number;
  readStat?: (pid: number) => ProcStat | null;
}

/**
 * Calls `onGone` once, when this process's parent changes (it exited and this process was
 * reparented), or when the parent is a shell whose own parent changes (npm killed outright: the
 * shell stays, waiting for us). Returns a function that stops watching.
 */
export function watchStarter(onGone: (why: string) => void, o: WatchOptions = {}): () => void {
  const parentPid = o.parentPid ?? (() => process.ppid);
  const readStat = o.readStat ?? readProcStat;
  const parent = parentPid();
  const shell = readStat(parent);
  const starter = shell !== null && SHELLS.has(shell.comm) ? shell.ppid : null;
  const timer = setInterval(() => {
    let why: string | null = null;
    if (parentPid() !== parent) why = `the process that started this server (pid ${parent}) has exited`;
    else if (starter !== null && readStat(parent)?.ppid !== starter) why = `the process that started this server (pid ${starter}, through the shell ${parent}) has exited`;
    if (why === null) return;
    clearInterval(timer);
    onGone(why);
  }, o.intervalMs ?? PARENT_CHECK_MS);
  // Only a timer: it must not keep a stopped server alive.
  timer.unref();
  return () => clearInterval(timer);
}
