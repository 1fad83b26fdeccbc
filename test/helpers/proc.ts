/**
 * @module proc
 * What processes hold, read from /proc: for tests that wait until a server has reopened a file
 * or accepted a connection, events that nothing else shows.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** What `pid` has open: paths (a renamed file shows its new name), `socket:[inode]`, `pipe:[…]`. */
export function openFiles(pid: number): string[] {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return []; // exited
  }
  return fds.map((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      return '';
    }
  });
}

/** `pid` and every process below it (a supervisor and its workers). */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The fields after the parenthesised command name: state, ppid, …
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // exited while listed
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  return tree;
}

/** How many sockets `pid` and the processes below it hold (listeners and connections). */
export function openSockets(pid: number): number {
  return processTree(pid).reduce((n, p) => n + openFiles(p).filter((target) => target.startsWith('socket:')).length, 0);
}
