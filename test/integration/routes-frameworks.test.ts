// Route templates from real Express, Fastify, Koa and Hono apps and a plain listener, served by
// worker processes of a real supervisor, reach a real SQLite store and its per-route reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { AppSettings } from '../../server/config/config.js';
import { createTimingStore } from '../../server/store/timing-store.js';
import { openHistoryReader } from '../../shared/store/history-reader.js';
import { httpGet } from '../helpers/http-get.js';
import { scgiRequest, type Target } from '../helpers/scgi-client.js';
import { poolApp, startSupervisor } from '../helpers/supervisor.js';
import { testDir } from '../helpers/temp-dir.js';

const ROUTE_APPS = fileURLToPath(new URL('../fixtures/route-apps.mjs', import.meta.url));

function app(name: string, exportName: string, extra: Partial<AppSettings['options']> = {}): AppSettings {
  const settings = poolApp({ name, module: ROUTE_APPS });
  return { ...settings, source: { kind: 'module', path: ROUTE_APPS, export: exportName, type: 'auto' }, options: { ...settings.options, ...extra } };
}

/** Every request sent, by app: [method, uri, expected status]. */
const SENT: Record<string, Array<[string, string, number]>> = {
  express: [['GET', '/m/api/items/1', 200], ['GET', '/m/api/items/2', 200], ['GET', '/m/users/ann', 200], ['GET', '/m/nope/1', 404], ['GET', '/m/nope/2', 404]],
  fastify: [['GET', '/items/7', 200], ['GET', '/items/8', 200], ['GET', '/api/orders/x', 200], ['GET', '/wp-login.php', 404]],
  koa: [['GET', '/api/tags/red', 200], ['GET', '/api/tags/blue', 200], ['GET', '/other', 404]],
  hono: [['GET', '/tags/red', 200], ['GET', '/tags/blue', 200], ['POST', '/items', 201], ['GET', '/x/y', 404]],
  plain: [['GET', '/orders/12/lines/123e4567-e89b-12d3-a456-426614174000', 200], ['GET', '/orders/13/lines/99', 200], ['GET', '/missing/1', 404], ['GET', '/missing/2', 404]],
  http: [['GET', '/api/items/1', 200], ['GET', '/users/bo', 200]],
};

/** What the store should hold: "METHOD route" -> count. The templates' parameters are not ids, so a fold would differ. */
const EXPECTED: Record<string, Record<string, number>> = {
  express: { 'GET /api/items/:id': 2, 'GET /users/:user': 1, 'GET (unmatched)': 2 },
  fastify: { 'GET /items/:id': 2, 'GET /api/orders/:order': 1, 'GET (unmatched)': 1 },
  koa: { 'GET /api/tags/:tag': 2, 'GET (unmatched)': 1 },
  hono: { 'GET /tags/:tag': 2, 'POST /items': 1, 'GET (unmatched)': 1 },
  plain: { 'GET /orders/:id/lines/:id': 2, 'GET (unmatched)': 2 },
  http: { 'GET /api/items/:id': 1, 'GET /users/:user': 1 },
};

test('each framework\'s route template (the path with ids folded for a plain listener) is stored and read back per route', async (t) => {
  const path = join(await testDir(t, 'routes-frameworks'), 'timing.db');
  const store = createTimingStore({ path, flushIntervalMs: 20 });
  const rt = await startSupervisor(t, [
    app('express', 'express', { mount: '/m' }),
    app('fastify', 'fastify'),
    app('koa', 'koa'),
    app('hono', 'hono'),
    app('plain', 'plain'),
    app('http', 'express', { protocol: 'http' }),
  ], { recorder: store });
  const started = Date.now();
  for (const [name, requests] of Object.entries(SENT)) {
    const target = rt.targets.get(name) as Target & { port: number };
    for (const [method, uri, status] of requests) {
      const got = name === 'http'
        ? (await httpGet(`http://127.0.0.1:${target.port}${uri}`)).status
        : (await scgiRequest(target, { method, uri })).status;
      assert.equal(got, status, `${name} ${method} ${uri}`);
    }
  }
  await rt.supervisor.stop(5000);
  await store.close();

  const reader = openHistoryReader(path);
  t.after(() => reader.close());
  for (const [name, expected] of Object.entries(EXPECTED)) {
    const routes = reader.routes(name, started - 60_000, Date.now() + 1);
    assert.deepEqual(Object.fromEntries(routes.map((r) => [`${r.method} ${r.route}`, r.count])), expected, name);
  }
  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  assert.deepEqual(
    db.prepare("SELECT path, route FROM requests WHERE app = 'express' AND status = 200 ORDER BY id").all(),
    [{ path: '/api/items/1', route: '/api/items/:id' }, { path: '/api/items/2', route: '/api/items/:id' }, { path: '/users/ann', route: '/users/:user' }],
    'raw rows keep the path (mount stripped) beside the route',
  );
});
