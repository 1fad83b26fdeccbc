/**
 * @module listen-address
 * Parses the dashboard's `listen: 'host:port'` and tells loopback binds from the rest, which
 * need a configured token.
 */
import { isIP } from 'node:net';
import { errors } from '../shared/errors.js';

export interface ListenAddress {
  /** Without IPv6 brackets, as net.Server.listen wants it. */
  host: string;
  port: number;
}

const MAX_PORT = 65_535;

export function parseListen(listen: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(listen.trim());
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  if (!match || host === undefined || port > MAX_PORT || (match[1] !== undefined && isIP(match[1]) !== 6)) {
    throw new errors.DOW_ERR_ADDRESS(listen);
  }
  return { host, port };
}

/** 127.0.0.0/8, ::1 and `localhost`: addresses no other machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** `host:port` as it appears in a URL or a Host header (IPv6 in brackets). */
export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
