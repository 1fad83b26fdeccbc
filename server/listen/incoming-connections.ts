/**
 * @module incoming-connections
 * How many connections are still on their way into a TCP listener: handshakes the kernel has
 * answered (SYN_RECV) and connections waiting in its accept queue, as /proc/net/tcp and tcp6 list
 * them. A stop that refuses new handshakes waits for this to reach 0 before it closes the socket,
 * since the close resets every one of them (each a 502 at nginx for a POST).
 *
 * A fixed wait is not enough: on a busy machine the kernel may finish a loopback handshake
 * (softirq work, left to ksoftirqd under load) more than 100 ms after it began; seen once in four
 * stops under two busy loops, with one connection still queued at the close.
 */
import { eachProcLine, hexPortSuffix } from './proc-tables.js';

const TABLES = ['/proc/net/tcp', '/proc/net/tcp6'];
const SYN_RECV = '03';
const LISTEN = '0A';

/**
 * Linux: the count for `port` on every address, read without blocking the loop; 0 where the
 * tables cannot be read. Not a snapshot: the listening sockets come first in a table and the
 * handshakes later, so one that completes in between is in neither. A caller waiting for 0 reads
 * twice (see sweepBacklog).
 */
export async function incomingConnections(port: number): Promise<number> {
  const suffix = hexPortSuffix(port);
  let n = 0;
  for (const table of TABLES) {
    try {
      await eachProcLine(table, (line) => (n += incomingOnLine(line, suffix)));
    } catch {
      // No such table (no IPv6, not Linux): nothing comes in through it.
    }
  }
  return n;
}

/** Pure: the count in one table's text, header included, for `port`. */
export function countIncoming(table: string, port: number): number {
  const suffix = hexPortSuffix(port);
  return table.split('\n').slice(1).reduce((n, line) => n + incomingOnLine(line, suffix), 0);
}

/**
 * One line, `sl local rem st tx_queue:rx_queue ...` in hex: 1 for a handshake to the port, the
 * accept queue's length (rx_queue) for a listener on it, else 0. Matched on the port alone: a
 * handshake's local address is the one the client dialled, not the listener's (0.0.0.0). Another
 * listener on the same port (another address, SO_REUSEPORT) only makes a stop wait longer, up to
 * its bound.
 */
function incomingOnLine(line: string, suffix: string): number {
  // Most lines of a busy host's table are other ports: skip them before splitting.
  if (!line.includes(suffix)) return 0;
  const [, local, , state, queues] = line.trim().split(/\s+/);
  if (queues === undefined || !local!.endsWith(suffix)) return 0;
  if (state === SYN_RECV) return 1;
  if (state === LISTEN) return Number.parseInt(queues.split(':')[1] ?? '', 16) || 0;
  return 0;
}
