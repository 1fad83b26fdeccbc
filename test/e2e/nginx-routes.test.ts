/**
 * Routes through real nginx (docs/frontends.md's `original` block: /a and /b each passed to an
 * app over SCGI), worker processes and a real SQLite store, read back on the dashboard's routes
 * API: an Express app's templates under its mount, and a plain listener's paths with ids folded.
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

function app(name: string, exportName: string, mount: string): AppSettings {
  const settings = poolApp({ name, module: ROUTE_APPS, count: 2 });
  return { ...settings, source: { kind: 'module', path: ROUTE_APPS, export: exportName, type: 'auto' }, options: { ...settings.options, mount } };
}

test('Express templates and a plain listener\'s folded paths through nginx reach the routes API', async (t) => {
  const runtime = await startDashboardRuntime(t, 'nginx-routes', [app('express', 'express', '/a'), app('plain', 'plain', '/b')], { drainTimeoutMs: 500, flushIntervalMs: 20, token: ADMIN_TOKEN });
  const port = (i: number): number => Number((runtime.server.addresses[i] as string).split(':').pop());
  const nginx = await startNginx({ config: docTemplate('nginx', 'original'), values: { host: '127.0.0.1', port_a: port(0), port_b: port(1) } });
  t.after(() => nginx.stop());

  const sent: Array<[string, number]> = [
    ['/a/api/items/1', 200], ['/a/api/items/2', 200], ['/a/users/ann', 200], ['/a/nope/1', 404],
    ['/b/orders/12/lines/123e4567-e89b-12d3-a456-426614174000', 200], ['/b/orders/13/lines/99', 200], ['/b/missing/1', 404],
  ];
  for (const [uri, status] of sent) assert.equal((await httpGet(`${nginx.url}${uri}`)).status, status, uri);

  const base = `http://${runtime.dashboard?.address}`;
  const routesOf = async (name: string): Promise<Record<string, number>> => {
    const res = await fetch(`${base}/api/apps/${name}/routes?window=15m`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { routes: Array<{ method: string; route: string; count: number }> };
    return Object.fromEntries(body.routes.map((r) => [`${r.method} ${r.route}`, r.count]));
  };
  const expected: Record<string, Record<string, number>> = {
    express: { 'GET /api/items/:id': 2, 'GET /users/:user': 1, 'GET (unmatched)': 1 },
    plain: { 'GET /orders/:id/lines/:id': 2, 'GET (unmatched)': 1 },
  };
  for (const [name, want] of Object.entries(expected)) {
    const total = Object.values(want).reduce((a, b) => a + b, 0);
    const got = await waitUntil(`${name}'s routes in the store`, async () => {
      const routes = await routesOf(name);
      return Object.values(routes).reduce((a, b) => a + b, 0) === total ? routes : undefined;
    });
    assert.deepEqual(got, want, name);
  }
});
