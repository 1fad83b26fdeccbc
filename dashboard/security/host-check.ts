/**
 * @module host-check
 * Which `Host` headers the dashboard answers. A DNS-rebinding page reaches 127.0.0.1 under its
 * own name (`Host: evil.example:9100`), so only loopback names and configured hosts are served.
 */

export interface HostPolicy {
  /** The port the dashboard listens on; undefined before listen (inject() tests): any port. */
  port: number | undefined;
  /** Extra `host` or `host:port` values, compared case-insensitively. */
  allowedHosts: readonly string[];
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

export function isAllowedHost(host: string | undefined, policy: HostPolicy): boolean {
  if (host === undefined || host === '') return false;
  const wanted = host.toLowerCase();
  if (policy.allowedHosts.some((h) => h.toLowerCase() === wanted)) return true;
  const { name, port } = splitHost(wanted);
  if (!LOOPBACK_NAMES.includes(name)) return false;
  if (policy.port === undefined) return true;
  // A browser leaves out :80 for http, so a bare loopback name means port 80.
  return (port ?? 80) === policy.port;
}

/** Splits `name[:port]`, keeping the brackets of an IPv6 literal in the name. */
export function splitHost(host: string): { name: string; port: number | undefined } {
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(host);
  if (!match) return { name: host, port: undefined };
  return { name: match[1] ?? '', port: match[2] === undefined ? undefined : Number(match[2]) };
}
