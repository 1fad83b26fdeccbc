/**
 * @module login-route
 * `GET /login?token=…`: the printed login URL (as Jupyter prints one). It trades the token for a
 * session cookie and redirects to the page, so the token leaves the address bar and history.
 * `POST /logout` ends that session on the server and clears the cookie.
 */
import type { FastifyInstance } from 'fastify';
import { errors } from '../../shared/errors.js';
import { commonErrors, loginQuery } from '../schemas.js';
import { checkToken, SESSION_COOKIE, type Credentials } from '../security/guard.js';
import { SESSION_MAX_AGE_MS } from '../security/sessions.js';

export function registerLoginRoute(app: FastifyInstance, credentials: Credentials): void {
  app.get<{ Querystring: { token: string } }>(
    '/login',
    { schema: { querystring: loginQuery, response: { ...commonErrors } } },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      if (!checkToken(request, reply, request.query.token, 'login', credentials)) throw new errors.DOW_ERR_UNAUTHORIZED('bad token in the login URL');
      // A fresh random id per login: nothing in the cookie is derived from the token, no two
      // logins share one, and it is valid only while the server keeps it (logout, expiry,
      // restart end it). An old session sent along is ended, not carried over (fixation).
      const previous = request.cookies[SESSION_COOKIE];
      if (previous !== undefined) credentials.sessions.revoke(previous);
      // HttpOnly: page scripts never see it. SameSite=Strict: no other site's request carries it,
      // the first line of CSRF defence (the Origin check is the second). Secure only behind a
      // TLS proxy that says so (X-Forwarded-Proto from a trustedProxies address): on plain HTTP
      // loopback browsers would refuse to store a Secure cookie.
      reply.setCookie(SESSION_COOKIE, credentials.sessions.create(), {
        httpOnly: true,
        sameSite: 'strict',
        path: '/',
        maxAge: SESSION_MAX_AGE_MS / 1000,
        secure: request.protocol === 'https',
      });
      return reply.redirect('/', 303);
    },
  );

  // Guarded like every state change (session or token, then Origin), so no other site can sign
  // the operator out.
  app.post('/logout', { schema: { response: { ...commonErrors } } }, async (request, reply) => {
    const id = request.cookies[SESSION_COOKIE];
    if (id !== undefined) credentials.sessions.revoke(id);
    reply.header('cache-control', 'no-store');
    reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict' });
    return reply.redirect('/', 303);
  });
}
