/**
 * @module listen-address
 * The address forms every listener and client here understands: `host:port`, `[v6]:port`,
 * `unix:/path.sock` and `systemd:<name>` (a socket passed by systemd's socket activation). Shared by the runtime (which listens), the dashboard (which listens and reads
 * the stats port) and the command line.
 */
import { isIP } from 'node:net';
import { errors } from './errors.js';

export type TcpAddress = { kind: 'tcp'; host: string; port: number };
export type ListenAddress = TcpAddress | { kind: 'unix'; path: string } | { kind: 'systemd'; name: string };

/** systemd's FileDescriptorName=: printable ASCII without ':' (systemd.socket(5)). */
const SYSTEMD_NAME = /^[!-9;-~]{1,255}$/;

const MAX_PORT = 65_535;
const ANY_ADDRESS = 'host:port, unix:/path.sock or systemd:<name>';

export function parseListenAddress(text: string): ListenAddress {
  if (text.startsWith('unix:')) {
    const path = text.slice(5);
    if (path === '') throw new errors.DOW_ERR_ADDRESS(JSON.stringify(text), ANY_ADDRESS);
    return { kind: 'unix', path };
  }
  if (text.startsWith('systemd:')) {
    const name = text.slice(8);
    if (!SYSTEMD_NAME.test(name)) throw new errors.DOW_ERR_ADDRESS(JSON.stringify(text), ANY_ADDRESS);
    return { kind: 'systemd', name };
  }
  const match = /^(?:\[([^\]]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  const bracketed = match?.[1];
  if (!match || port > MAX_PORT || (bracketed !== undefined && isIP(bracketed) !== 6)) {
    throw new errors.DOW_ERR_ADDRESS(JSON.stringify(text), ANY_ADDRESS);
  }
  return { kind: 'tcp', host: (bracketed ?? match[2]) as string, port };
}

/** Only `host:port` makes sense here (the dashboard, a stats client). */
export function parseTcpAddress(text: string): TcpAddress {
  const address = parseListenAddress(text);
  // Said without the list above, which names forms refused here.
  if (address.kind !== 'tcp') throw new errors.DOW_ERR_ADDRESS(JSON.stringify(text), 'host:port here: the dashboard and the stats port client do not use a Unix or systemd socket');
  return address;
}

/** `host:port` as it appears in a URL or a Host header (IPv6 in brackets). */
export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

export function formatListenAddress(address: ListenAddress): string {
  if (address.kind === 'unix') return `unix:${address.path}`;
  if (address.kind === 'systemd') return `systemd:${address.name}`;
  return formatHostPort(address.host, address.port);
}

/** 127.0.0.0/8, ::1 and `localhost`: addresses no other machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}
