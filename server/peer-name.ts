/**
 * @module peer-name
 * How log lines name the other end of a connection: `address:port`, or "unix socket peer" for a
 * Unix socket, which has neither.
 */
export function describePeer(address: string | undefined, port: number | undefined): string {
  return address === undefined ? 'unix socket peer' : `${address}:${port ?? ''}`;
}
