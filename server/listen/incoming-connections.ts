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
import { readFileSync } from 'node:fs';

const TABLES = ['/proc/net/tcp', '/proc/net/tcp6'];
const SYN_RECV = '03';
const LISTEN = '0A';

/** Linux: the count for `port` on every address; 0 where the tables cannot be read. */
export function incomingConnections(port: number): number {
  let n = 0;
  for (const table of TABLES) {
    let text: string;
    try {
      text = readFileSync(table, 'latin1');
    } catch {
      continue;
    }
    n += countIncoming(text, port);
  }
  return n;
}

/**
 * Pure: the count in one table's text. Each line after the header is `sl local rem st
 * tx_queue:rx_queue ...`, addresses and numbers in hex; for a listening socket rx_queue is its
 * accept queue's length. Matched on the port alone: a handshake's local address is the one the
 * client dialled, not the listener's (0.0.0.0). Another listener on the same port (another
 * address, SO_REUSEPORT) only makes a stop wait longer, up to its bound.
 */
export function countIncoming(table: string, port: number): number {
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let n = 0;
  for (const line of table.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const [, local, , state, queues] = fields;
    if (queues === undefined || !local!.endsWith(suffix)) continue;
    if (state === SYN_RECV) n++;
    else if (state === LISTEN) n += Number.parseInt(queues.split(':')[1] ?? '', 16) || 0;
  }
  return n;
}
