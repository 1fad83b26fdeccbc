/**
 * @module host-check
 * Which `Host` headers the dashboard answers. A DNS-rebinding page reaches 127.0.0.1 under its
 * own name (`Host: evil.example:9100`), so only loopback names and configured hosts are served.
 */

export interface HostPolicy {
  /** The port the dashboard listens on; undefined before listen (inject() tests): any port. */
  port: number | undefined;
  /**
   * Extra `host` or `host:port` values, compared case-insensitively. An entry without a port
   * matches its name on any port: DNS rebinding is about the name, and behind a proxy the port
   * is the proxy's (nginx's `$host` drops it, `$http_host` keeps the browser's).
   */
  allowedHosts: readonly string[];
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

export function isAllowedHost(host: string | undefined, policy: HostPolicy): boolean {
  if (host === undefined || host === '') return false;
  if (isConfiguredHost(host, policy.allowedHosts)) return true;
  const { name, port } = splitHost(host.toLowerCase());
  if (!LOOPBACK_NAMES.includes(name)) return false;
  if (policy.port === undefined) return true;
  // A browser leaves out :80 for http, so a bare loopback name means port 80.
  return (port ?? 80) === policy.port;
}

/** True when `host` (`name[:port]`) names an `allowedHosts` entry (see HostPolicy). */
export function isConfiguredHost(host: string, allowedHosts: readonly string[]): boolean {
  const wanted = host.toLowerCase();
  const { name } = splitHost(wanted);
  return allowedHosts.some((entry) => {
    const h = entry.toLowerCase();
    return h === wanted || (splitHost(h).port === undefined && h === name);
  });
}

/** Splits `name[:port]`, keeping the brackets of an IPv6 literal in the name. */
export function splitHost(host: string): { name: string; port: number | undefined } {
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(host);
  if (!match) return { name: host, port: undefined };
  return { name: match[1] ?? '', port: match[2] === undefined ? undefined : Number(match[2]) };
}
