/**
 * Routes through real nginx (docs/frontends.md's `original` block: /a and /b each passed to an
 * app over SCGI), worker processes and a real SQLite store, read back on the dashboard's routes
 * API: the templates Express, Fastify, Koa (@koa/router) and Hono matched under each app's mount,
 * and a plain listener's paths with ids folded. Three nginx instances of that block, since it
 * passes two locations each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { AppSettings } from '../../server/config/config.js';
import { docTemplate } from '../helpers/frontends/doc-configs.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { httpGet } from '../helpers/http-get.js';
import { poolApp } from '../helpers/supervisor.js';
import { waitUntil } from '../helpers/wait.js';
import { startDashboardRuntime } from '../helpers/dashboard-runtime.js';

const ROUTE_APPS = fileURLToPath(new URL('../fixtures/route-apps.mjs', import.meta.url));
const ADMIN_TOKEN = 'nginx-routes-test-Vb8kQ3zR7mW2pL5xT9nY4c';

function app(name: string, mount: string, count = 1): AppSettings {
  const settings = poolApp({ name, module: ROUTE_APPS, count });
  return { ...settings, source: { kind: 'module', path: ROUTE_APPS, export: name, type: 'auto' }, options: { ...settings.options, mount } };
}

/** The apps in runtime order, each behind the location of its mount. */
const APPS = [app('express', '/a', 2), app('plain', '/b', 2), app('fastify', '/a'), app('koa', '/b'), app('hono', '/a')];
/** Each nginx's two locations: indexes into APPS for /a and /b. */
const FRONTS: Array<[number, number]> = [[0, 1], [2, 3], [4, 1]];
/** By front: [uri, expected status]. */
const SENT: Array<Array<[string, number]>> = [
  [['/a/api/items/1', 200], ['/a/api/items/2', 200], ['/a/users/ann', 200], ['/a/nope/1', 404],
    ['/b/orders/12/lines/123e4567-e89b-12d3-a456-426614174000', 200], ['/b/orders/13/lines/99', 200], ['/b/missing/1', 404]],
  [['/a/items/7', 200], ['/a/items/8', 200], ['/a/api/orders/x', 200], ['/a/wp-login.php', 404],
    ['/b/api/tags/red', 200], ['/b/api/tags/blue', 200], ['/b/other', 404]],
  [['/a/tags/red', 200], ['/a/tags/blue', 200], ['/a/x/y', 404]],
];
/** "METHOD route" -> count, by app: the templates without the mount; 404s without one as one route. */
const EXPECTED: Record<string, Record<string, number>> = {
  express: { 'GET /api/items/:id': 2, 'GET /users/:user': 1, 'GET (unmatched)': 1 },
  plain: { 'GET /orders/:id/lines/:id': 2, 'GET (unmatched)': 1 },
  fastify: { 'GET /items/:id': 2, 'GET /api/orders/:order': 1, 'GET (unmatched)': 1 },
  koa: { 'GET /api/tags/:tag': 2, 'GET (unmatched)': 1 },
  hono: { 'GET /tags/:tag': 2, 'GET (unmatched)': 1 },
};

test('the four frameworks\' templates and a plain listener\'s folded paths through nginx reach the routes API', async (t) => {
  const runtime = await startDashboardRuntime(t, 'nginx-routes', APPS, { drainTimeoutMs: 500, flushIntervalMs: 20, token: ADMIN_TOKEN });
  const port = (i: number): number => Number((runtime.server.addresses[i] as string).split(':').pop());
  for (const [front, [a, b]] of FRONTS.entries()) {
    const nginx = await startNginx({ config: docTemplate('nginx', 'original'), values: { host: '127.0.0.1', port_a: port(a), port_b: port(b) } });
    t.after(() => nginx.stop());
    for (const [uri, status] of SENT[front]!) assert.equal((await httpGet(`${nginx.url}${uri}`)).status, status, uri);
  }

  const base = `http://${runtime.dashboard?.address}`;
  const routesOf = async (name: string): Promise<Record<string, number>> => {
    const res = await fetch(`${base}/api/apps/${name}/routes?window=15m`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { routes: Array<{ method: string; route: string; count: number }> };
    return Object.fromEntries(body.routes.map((r) => [`${r.method} ${r.route}`, r.count]));
  };
  for (const [name, want] of Object.entries(EXPECTED)) {
    const total = Object.values(want).reduce((a, b) => a + b, 0);
    const got = await waitUntil(`${name}'s routes in the store`, async () => {
      const routes = await routesOf(name);
      return Object.values(routes).reduce((a, b) => a + b, 0) === total ? routes : undefined;
    });
    assert.deepEqual(got, want, name);
  }
});
