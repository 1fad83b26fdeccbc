/**
 * @module guard
 * The onRequest hook every dashboard request passes, in this order:
 *
 *   security headers ─► Host check (421) ─► public route? ─► throttle (429) ─► token or
 *   session (401) ─► Origin check (403)
 *
 * Headers come first so that even refusals carry them. Public routes are the login exchange and
 * the static assets (no data in them); everything else, the page included, needs the token or a
 * live session. A client that sent too many wrong tokens is refused before its token is compared.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../../shared/errors.js';
import type { AuthFailureLog } from './auth-failure-log.js';
import type { AuthThrottle } from './auth-throttle.js';
import { SECURITY_HEADERS } from './headers.js';
import { isAllowedHost, type HostPolicy } from './host-check.js';
import { isStateChanging, originRefusal, type AuthKind } from './origin-check.js';
import type { SessionStore } from './sessions.js';
import { safeEqual } from './token.js';

export const SESSION_COOKIE = 'dow_session';

declare module 'fastify' {
  interface FastifyRequest {
    /** How the request proved it holds the token; set by the guard on protected routes. */
    authKind?: AuthKind;
  }
}

/** What checks a credential: the token, the live sessions, and the throttle on wrong tokens. */
export interface Credentials {
  token: string;
  sessions: SessionStore;
  throttle: AuthThrottle;
  failures: AuthFailureLog;
}

export interface GuardOptions {
  credentials: Credentials;
  hostPolicy: () => HostPolicy;
  /** Route patterns (as registered) served without the token. */
  publicRoutes: ReadonlySet<string>;
  /** Answers an unauthenticated request for the page itself (HTML rather than JSON). */
  onPageUnauthorized: (reply: FastifyReply) => FastifyReply;
}

/**
 * Compares a presented token, unless its sender is throttled (429, not compared at all, so a
 * guess made while throttled teaches nothing). Wrong tokens are counted and logged; while the
 * global bucket is full they get 429, but a right one still gets in (auth-throttle.ts).
 */
export function checkToken(request: FastifyRequest, reply: FastifyReply, given: string, where: 'login' | 'bearer', credentials: Credentials): boolean {
  const { clientMs, globalMs } = credentials.throttle.wait(request.ip);
  if (clientMs > 0) {
    credentials.failures.record(request.ip, where, true);
    tooManyAttempts(reply, clientMs);
  }
  if (tokenMatches(given, credentials.token, where)) return true;
  credentials.throttle.fail(request.ip);
  credentials.failures.record(request.ip, where, false);
  if (globalMs > 0) tooManyAttempts(reply, globalMs);
  return false;
}

function tooManyAttempts(reply: FastifyReply, waitMs: number): never {
  reply.header('retry-after', String(Math.ceil(waitMs / 1000)));
  throw new errors.DOW_ERR_TOO_MANY_ATTEMPTS(Math.ceil(waitMs / 1000));
}

/**
 * A base64 token pasted into `/login?token=` unencoded arrives with each `+` read as a space
 * (form encoding), so there a space also matches a `+`. Both forms are always compared, each in
 * constant time. (`%2B` and other percent-encoding arrive decoded already.)
 */
function tokenMatches(given: string, token: string, where: 'login' | 'bearer'): boolean {
  const exact = safeEqual(given, token);
  if (where !== 'login') return exact;
  const asPlus = safeEqual(given.replaceAll(' ', '+'), token);
  return exact || asPlus;
}

export function authenticate(request: FastifyRequest, reply: FastifyReply, credentials: Credentials): AuthKind | null {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    // A wrong or malformed Authorization header fails even when a good cookie is present:
    // a client that sends a bad token should hear about it, not be rescued by ambient state.
    return checkToken(request, reply, match?.[1] ?? header, 'bearer', credentials) && match ? 'bearer' : null;
  }
  // Session ids are 256 random bits: an unknown one is an expired or revoked session (or a
  // restart), not a guess, so it is neither throttled nor logged.
  const cookie = request.cookies[SESSION_COOKIE];
  if (cookie !== undefined && credentials.sessions.check(cookie)) return 'cookie';
  return null;
}

/**
 * Who asked, for the audit log and the runtime's event log: the page (cookie) or an API client
 * (Bearer), and the peer, e.g. `dashboard 127.0.0.1`.
 */
export function requestSource(request: FastifyRequest): string {
  return `${request.authKind === 'cookie' ? 'dashboard' : 'api'} ${request.ip}`;
}

export function registerGuard(app: FastifyInstance, options: GuardOptions): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.headers(SECURITY_HEADERS);
    const host = request.headers.host;
    if (!isAllowedHost(host, options.hostPolicy())) throw new errors.DOW_ERR_FORBIDDEN_HOST(host ?? '(none)');

    const route = request.routeOptions.url;
    if (route !== undefined && options.publicRoutes.has(route)) return;

    const kind = authenticate(request, reply, options.credentials);
    if (kind === null) {
      reply.header('www-authenticate', 'Bearer realm="dragon-on-wheels dashboard"');
      if (route === '/' && request.method === 'GET') return options.onPageUnauthorized(reply);
      const why = request.headers.authorization === undefined ? 'send the admin token as a Bearer header or log in' : 'bad token';
      throw new errors.DOW_ERR_UNAUTHORIZED(why);
    }
    request.authKind = kind;

    if (isStateChanging(request.method)) {
      const refusal = originRefusal(request.headers.origin, host ?? '', kind, options.hostPolicy().allowedHosts);
      if (refusal !== null) throw new errors.DOW_ERR_FORBIDDEN_ORIGIN(refusal);
    }
  });
}
