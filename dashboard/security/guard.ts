/**
 * @module guard
 * The onRequest hook every dashboard request passes, in this order:
 *
 *   security headers ─► Host check (421) ─► public route? ─► token (401) ─► Origin check (403)
 *
 * Headers come first so that even refusals carry them. Public routes are the login exchange and
 * the static assets (no data in them); everything else, the page included, needs the token.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../../shared/errors.js';
import { SECURITY_HEADERS } from './headers.js';
import { isAllowedHost, type HostPolicy } from './host-check.js';
import { isStateChanging, originRefusal, type AuthKind } from './origin-check.js';
import { safeEqual, sessionValue } from './token.js';

export const SESSION_COOKIE = 'dow_session';

declare module 'fastify' {
  interface FastifyRequest {
    /** How the request proved it holds the token; set by the guard on protected routes. */
    authKind?: AuthKind;
  }
}

export interface GuardOptions {
  token: string;
  hostPolicy: () => HostPolicy;
  /** Route patterns (as registered) served without the token. */
  publicRoutes: ReadonlySet<string>;
  /** Answers an unauthenticated request for the page itself (HTML rather than JSON). */
  onPageUnauthorized: (reply: FastifyReply) => FastifyReply;
}

export function authenticate(request: FastifyRequest, token: string): AuthKind | null {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    // A wrong or malformed Authorization header fails even when a good cookie is present:
    // a client that sends a bad token should hear about it, not be rescued by ambient state.
    return match && safeEqual(match[1] ?? '', token) ? 'bearer' : null;
  }
  const cookie = request.cookies[SESSION_COOKIE];
  if (cookie !== undefined && safeEqual(cookie, sessionValue(token))) return 'cookie';
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

    const kind = authenticate(request, options.token);
    if (kind === null) {
      reply.header('www-authenticate', 'Bearer realm="dragon-on-wheels dashboard"');
      if (route === '/' && request.method === 'GET') return options.onPageUnauthorized(reply);
      const why = request.headers.authorization === undefined ? 'send the admin token as a Bearer header or log in' : 'bad token';
      throw new errors.DOW_ERR_UNAUTHORIZED(why);
    }
    request.authKind = kind;

    if (isStateChanging(request.method)) {
      const refusal = originRefusal(request.headers.origin, host ?? '', kind);
      if (refusal !== null) throw new errors.DOW_ERR_FORBIDDEN_ORIGIN(refusal);
    }
  });
}
