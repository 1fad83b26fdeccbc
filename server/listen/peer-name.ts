/**
 * @module peer-name
 * A connection's other end: how log lines name it, and the `_peername` record that net.Socket
 * answers remoteAddress/remotePort/remoteFamily from (pinned in test/unit/node-internals.test.ts).
 */
import { isIP } from 'node:net';

/** net.Socket's cached peer name, as its `_peername` holds it. */
export interface PeerName {
  address?: string | undefined;
  port?: number | undefined;
  family?: string | undefined;
}

/** The `_peername` for an address and port: family from the address, as net.Socket's own. */
export function peerOf(address: string, port: number | undefined): PeerName {
  return { address, port, family: isIP(address) === 6 ? 'IPv6' : 'IPv4' };
}

/** `address:port`, or "unix socket peer" for a Unix socket, which has neither. */
export function describePeer(address: string | undefined, port: number | undefined): string {
  return address === undefined ? 'unix socket peer' : `${address}:${port ?? ''}`;
}
