/**
 * @module request-target
 * Turns an SCGI environment into what both adapters need: the method, the URL the app should see
 * (mount prefix stripped) and the HTTP headers. Pure.
 *
 * Front ends disagree on the CGI path variables, so REQUEST_URI is the source of truth:
 *   nginx     REQUEST_URI, DOCUMENT_URI; no PATH_INFO, SCRIPT_NAME only if configured
 *   lighttpd  REQUEST_URI, SCRIPT_NAME = the matched prefix, PATH_INFO = the rest (decoded)
 *   Apache    REQUEST_URI; SCRIPT_NAME/PATH_INFO as its ProxyPass mapping produced them
 * SCRIPT_NAME is used as the mount only when no mount is configured and it agrees with
 * REQUEST_URI (REQUEST_URI's path starts with it and the rest decodes to PATH_INFO).
 */
import type { ScgiEnv } from '../protocol/header-block.js';

export interface RequestTarget {
  method: string;
  /** Path and query as the app sees them, still percent-encoded, mount stripped. */
  url: string;
  /** The prefix stripped from the path ('' when none). */
  mount: string;
  /** Path without the query string, for the timing store. */
  path: string;
}

export function resolveTarget(env: ScgiEnv, configuredMount: string): RequestTarget {
  const method = env.REQUEST_METHOD || 'GET';
  let uri = env.REQUEST_URI;
  if (uri === undefined || uri === '') {
    // A minimal front end may only send the CGI variables; rebuild the URI from them.
    const query = env.QUERY_STRING;
    uri = (env.SCRIPT_NAME ?? '') + (env.PATH_INFO ?? '') || '/';
    if (query) uri += `?${query}`;
  }
  const queryAt = uri.indexOf('?');
  const fullPath = queryAt === -1 ? uri : uri.slice(0, queryAt);
  const mount = configuredMount !== '' ? configuredMount : agreeingScriptName(env, fullPath);
  if (mount !== '' && startsWithSegment(fullPath, mount)) {
    const rest = uri.slice(mount.length);
    const url = rest === '' || rest[0] === '?' ? `/${rest}` : rest;
    return { method, url, mount, path: fullPath.slice(mount.length) || '/' };
  }
  return { method, url: uri, mount: '', path: fullPath };
}

/** True when `path` is `prefix` or continues it with a new segment: "/a" matches "/a/x", not "/ab". */
export function startsWithSegment(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path[prefix.length] === '/' || prefix.endsWith('/');
}

function agreeingScriptName(env: ScgiEnv, rawPath: string): string {
  const scriptName = env.SCRIPT_NAME;
  if (!scriptName || scriptName === '/' || env.PATH_INFO === undefined) return '';
  if (!startsWithSegment(rawPath, scriptName)) return '';
  let rest: string;
  try {
    rest = decodeURIComponent(rawPath.slice(scriptName.length));
  } catch {
    return '';
  }
  return rest === env.PATH_INFO ? scriptName.replace(/\/$/, '') : '';
}

/**
 * The HTTP headers the front end forwarded, as a flat `[name, value, name, value, ...]` list (the
 * shape of Node's `rawHeaders`): HTTP_* variables (HTTP_X_FORWARDED_FOR -> x-forwarded-for) plus
 * CONTENT_TYPE and CONTENT_LENGTH. Names are lower-case, as Node's parser delivers them.
 */
export function headerPairs(env: ScgiEnv): string[] {
  const pairs: string[] = [];
  for (const key in env) {
    if (key.length > 5 && key.startsWith('HTTP_')) pairs.push(headerName(key), env[key] as string);
  }
  if (env.CONTENT_TYPE) pairs.push('content-type', env.CONTENT_TYPE);
  // CONTENT_LENGTH is always present in SCGI (it is "0" for GET); an HTTP client would not send
  // a Content-Length for a body-less GET, and some frameworks read its presence as "has a body".
  const length = env.CONTENT_LENGTH;
  if (length !== undefined && (length !== '0' || methodCarriesBody(env.REQUEST_METHOD))) {
    pairs.push('content-length', length);
  }
  return pairs;
}

/**
 * The same dozen header names arrive with every request; converting each once saves three string
 * allocations per header per request. Bounded, so hostile clients cannot grow it without limit.
 */
const headerNames = new Map<string, string>();
const MAX_CACHED_HEADER_NAMES = 512;

function headerName(variable: string): string {
  let name = headerNames.get(variable);
  if (name === undefined) {
    name = variable.slice(5).toLowerCase().replaceAll('_', '-');
    if (headerNames.size < MAX_CACHED_HEADER_NAMES) headerNames.set(variable, name);
  }
  return name;
}

function methodCarriesBody(method: string | undefined): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH';
}

export function isHttps(env: ScgiEnv): boolean {
  const https = env.HTTPS;
  return (https !== undefined && https !== '' && https.toLowerCase() !== 'off') || env.REQUEST_SCHEME === 'https';
}
