/**
 * @module open-connections
 * How many client connections a (hung) worker holds, from the kernel's tables: SCGI carries one
 * request per connection, so this is how many requests die with the worker when it is killed,
 * including those that arrived after its last heartbeat. Linux only (/proc); elsewhere, null.
 *
 * The tables are read without blocking the loop (proc-tables.ts): a hung worker cannot report
 * for itself, and the kernel offers no per-process view of them to Node (sock_diag netlink is out
 * of reach).
 */
import { readdir, readlink } from 'node:fs/promises';
import { eachProcLine, hexPortSuffix } from '../listen/proc-tables.js';

/** readlink calls in flight at once: the thread pool has 4 threads, and others use it too. */
const READLINK_BATCH = 64;

/** Socket inodes among a process's open descriptors. */
async function socketInodes(pid: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  const fds = await readdir(`/proc/${pid}/fd`);
  for (let i = 0; i < fds.length; i += READLINK_BATCH) {
    const links = await Promise.all(fds.slice(i, i + READLINK_BATCH).map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
    for (const link of links) {
      const match = /^socket:\[(\d+)\]$/.exec(link);
      if (match) inodes.add(match[1] as string);
    }
  }
  return inodes;
}

const TCP_LISTEN = '0A';

/**
 * Connections of `pid` on the app's address: TCP sockets whose local port is `port` and that are
 * not the listening one, or Unix sockets bound to `path` that are not the listening one.
 */
export async function countOpenConnections(pid: number, address: { port: number } | { path: string }): Promise<number | null> {
  try {
    const inodes = await socketInodes(pid);
    let count = 0;
    if ('port' in address) {
      const hexPort = hexPortSuffix(address.port);
      const onLine = (line: string): void => {
        if (!line.includes(hexPort)) return;
        //   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
        const cols = line.trim().split(/\s+/);
        if (cols.length >= 10 && (cols[1] as string).endsWith(hexPort) && cols[3] !== TCP_LISTEN && inodes.has(cols[9] as string)) count++;
      };
      await eachProcLine('/proc/net/tcp', onLine);
      await eachProcLine('/proc/net/tcp6', onLine);
    } else {
      //   Num RefCount Protocol Flags Type St Inode Path   (St 01 = unconnected/listening, 03 = connected)
      await eachProcLine('/proc/net/unix', (line) => {
        const cols = line.trim().split(/\s+/);
        if (cols.length >= 8 && cols[7] === address.path && cols[5] === '03' && inodes.has(cols[6] as string)) count++;
      });
    }
    return count;
  } catch {
    return null;
  }
}
