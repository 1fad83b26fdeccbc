/**
 * @module open-connections
 * How many client connections a (hung) worker holds, from the kernel's tables: SCGI carries one
 * request per connection, so this is how many requests die with the worker when it is killed,
 * including those that arrived after its last heartbeat. Linux only (/proc); elsewhere, null.
 *
 * Never read synchronously: /proc/net/tcp lists every socket of the host (tens of thousands on a
 * busy one), and reading it blocked the supervisor's loop for 0.3-24 s. The kernel offers no
 * per-process view of it to Node (sock_diag netlink is out of reach), and a hung worker cannot
 * report for itself, so the tables are streamed in chunks through libuv's thread pool and parsed
 * between other events: the loop is never held for more than one chunk's lines.
 */
import { createReadStream } from 'node:fs';
import { readdir, readlink } from 'node:fs/promises';

/** One read of a table: ~500 lines of /proc/net/tcp, parsed in well under a millisecond. */
const CHUNK_BYTES = 64 * 1024;
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

/** Calls `onLine` for each line of a /proc table but its header, a chunk per event-loop turn. */
async function eachLine(path: string, onLine: (line: string) => void): Promise<void> {
  let rest = '';
  let header = true;
  for await (const chunk of createReadStream(path, { encoding: 'latin1', highWaterMark: CHUNK_BYTES })) {
    const lines = (rest + (chunk as string)).split('\n');
    rest = lines.pop() as string;
    for (const line of lines) {
      if (header) header = false;
      else onLine(line);
    }
  }
  if (rest !== '' && !header) onLine(rest);
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
      const hexPort = `:${address.port.toString(16).toUpperCase().padStart(4, '0')}`;
      const onLine = (line: string): void => {
        if (!line.includes(hexPort)) return;
        //   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
        const cols = line.trim().split(/\s+/);
        if (cols.length >= 10 && (cols[1] as string).endsWith(hexPort) && cols[3] !== TCP_LISTEN && inodes.has(cols[9] as string)) count++;
      };
      await eachLine('/proc/net/tcp', onLine);
      await eachLine('/proc/net/tcp6', onLine);
    } else {
      //   Num RefCount Protocol Flags Type St Inode Path   (St 01 = unconnected/listening, 03 = connected)
      await eachLine('/proc/net/unix', (line) => {
        const cols = line.trim().split(/\s+/);
        if (cols.length >= 8 && cols[7] === address.path && cols[5] === '03' && inodes.has(cols[6] as string)) count++;
      });
    }
    return count;
  } catch {
    return null;
  }
}
