/**
 * @module origin-check
 * The CSRF rule for state-changing requests. Browsers send `Origin` on every cross-origin and
 * every non-GET fetch, so a foreign page always announces itself; a request without one comes
 * from a non-browser client, which must then prove itself with a Bearer token (a cookie would be
 * sent by any browser and proves nothing about who made the request). Behind a reverse proxy
 * that rewrites `Host` (nginx's default `Host: 127.0.0.1:9100`), the page's Origin is the
 * proxy's name, so an Origin naming a configured `allowedHosts` entry is this dashboard too.
 */

import { isConfiguredHost } from './host-check.js';

export type AuthKind = 'bearer' | 'cookie';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isStateChanging(method: string): boolean {
  return !SAFE_METHODS.has(method.toUpperCase());
}

/** Returns null when allowed, otherwise the reason for the 403. */
export function originRefusal(origin: string | undefined, host: string, auth: AuthKind, allowedHosts: readonly string[] = []): string | null {
  if (origin === undefined) {
    return auth === 'bearer' ? null : 'a state-changing request with a cookie must carry an Origin header';
  }
  // `Origin: null` (sandboxed frames, file: pages) is never same-origin.
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return `malformed Origin ${origin}`;
  }
  // url.host drops a default port (https://a.example:443 -> a.example), as a Host header does.
  const originHost = url.host.toLowerCase();
  const sameHost = originHost === host.toLowerCase() || isConfiguredHost(originHost, allowedHosts);
  if ((url.protocol === 'http:' || url.protocol === 'https:') && sameHost) return null;
  return `Origin ${origin} is not this dashboard`;
}
