/**
 * @module open-connections
 * How many client connections a (hung) worker holds, from the kernel's tables: SCGI carries one
 * request per connection, so this is how many requests die with the worker when it is killed,
 * including those that arrived after its last heartbeat. Linux only (/proc); elsewhere, null.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Socket inodes among a process's open descriptors. */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1] as string);
    } catch {
      // The descriptor closed while we looked.
    }
  }
  return inodes;
}

const TCP_LISTEN = '0A';

/**
 * Connections of `pid` on the app's address: TCP sockets whose local port is `port` and that are
 * not the listening one, or Unix sockets bound to `path` that are not the listening one.
 */
export function countOpenConnections(pid: number, address: { port: number } | { path: string }): number | null {
  try {
    const inodes = socketInodes(pid);
    let count = 0;
    if ('port' in address) {
      const hexPort = address.port.toString(16).toUpperCase().padStart(4, '0');
      for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
        for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
          //   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
          const cols = line.trim().split(/\s+/);
          if (cols.length < 10) continue;
          if ((cols[1] as string).endsWith(`:${hexPort}`) && cols[3] !== TCP_LISTEN && inodes.has(cols[9] as string)) count++;
        }
      }
    } else {
      //   Num RefCount Protocol Flags Type St Inode Path   (St 01 = unconnected/listening, 03 = connected)
      for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols.length >= 8 && cols[7] === address.path && cols[5] === '03' && inodes.has(cols[6] as string)) count++;
      }
    }
    return count;
  } catch {
    return null;
  }
}
