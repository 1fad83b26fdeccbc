/**
 * @module login-route
 * `GET /login?token=…`: the printed login URL (as Jupyter prints one). It trades the token for a
 * session cookie and redirects to the page, so the token leaves the address bar and history.
 */
import type { FastifyInstance } from 'fastify';
import { errors } from '../../shared/errors.js';
import { commonErrors, loginQuery } from '../schemas.js';
import { SESSION_COOKIE } from '../security/guard.js';
import { safeEqual, sessionValue } from '../security/token.js';

/** A working day; the operator logs in again with the URL or the token after that. */
const SESSION_MAX_AGE_S = 12 * 3600;

export function registerLoginRoute(app: FastifyInstance, token: string): void {
  app.get<{ Querystring: { token: string } }>(
    '/login',
    { schema: { querystring: loginQuery, response: { ...commonErrors } } },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      if (!safeEqual(request.query.token, token)) throw new errors.DOW_ERR_UNAUTHORIZED('bad token in the login URL');
      // HttpOnly: page scripts never see it. SameSite=Strict: no other site's request carries it,
      // the first line of CSRF defence (the Origin check is the second). No Secure flag: the
      // dashboard is plain HTTP on loopback, where browsers would then refuse to store it.
      reply.setCookie(SESSION_COOKIE, sessionValue(token), {
        httpOnly: true,
        sameSite: 'strict',
        path: '/',
        maxAge: SESSION_MAX_AGE_S,
      });
      return reply.redirect('/', 303);
    },
  );
}
