/**
 * An app under a mount can learn its prefix. Express sees it as a mounted
 * sub-app does (req.baseUrl, req.originalUrl), every app reads `req.scgi.mount` (a fetch
 * handler: its context's `mount`), and a request outside the mount is logged at debug level.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import { Hono } from 'hono';
import type { ScgiRequestInfo } from '../../server/adapters/scgi-request-info.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { startRuntime } from '../helpers/runtime.js';

test("Express under a mount: req.baseUrl is the prefix (compounded by routers), originalUrl the full URL, and a redirect built on baseUrl stays under the mount", async (t) => {
  const app = express();
  app.get('/where', (req, res) => void res.json({ baseUrl: req.baseUrl, originalUrl: req.originalUrl, url: req.url, mount: req.scgi?.mount }));
  app.get('/old', (req, res) => res.redirect(`${req.baseUrl}/where`));
  const api = express.Router();
  api.get('/items', (req, res) => void res.json({ baseUrl: req.baseUrl, originalUrl: req.originalUrl }));
  app.use('/api', api);
  const rt = await startRuntime(t, [{ name: 'shop', mount: '/shop', node: app }]);
  const target = rt.targets.get('shop')!;

  const where = await scgiRequest(target, { uri: '/shop/where?x=1' });
  assert.deepEqual(JSON.parse(where.body.toString()), { baseUrl: '/shop', originalUrl: '/shop/where?x=1', url: '/where?x=1', mount: '/shop' });
  const old = await scgiRequest(target, { uri: '/shop/old' });
  assert.equal(old.status, 302);
  assert.deepEqual(old.headers.get('location'), ['/shop/where']);
  const items = await scgiRequest(target, { uri: '/shop/api/items' });
  assert.deepEqual(JSON.parse(items.body.toString()), { baseUrl: '/shop/api', originalUrl: '/shop/api/items' });
});

test('without a mount nothing is added: baseUrl is empty and mount is an empty string', async (t) => {
  const app = express();
  app.get('/where', (req, res) => void res.json({ baseUrl: req.baseUrl, originalUrl: req.originalUrl, mount: req.scgi?.mount }));
  const rt = await startRuntime(t, [{ name: 'plain', node: app }]);
  const res = await scgiRequest(rt.targets.get('plain')!, { uri: '/where' });
  assert.deepEqual(JSON.parse(res.body.toString()), { baseUrl: '', originalUrl: '/where', mount: '' });
});

test("a fetch handler reads the mount from its context; a request outside the mount is served unstripped and logged at debug level", async (t) => {
  const app = new Hono<{ Bindings: ScgiRequestInfo }>();
  app.get('*', (c) => c.text(`${c.env.mount} ${new URL(c.req.url).pathname}`));
  const rt = await startRuntime(t, [{ name: 'hono', mount: '/h', fetch: app.fetch }]);
  const target = rt.targets.get('hono')!;
  assert.equal((await scgiRequest(target, { uri: '/h/page' })).body.toString(), '/h /page');
  assert.equal((await scgiRequest(target, { uri: '/elsewhere' })).body.toString(), ' /elsewhere');
  assert.ok(rt.logs.some((line) => line.level === 20 && line.app === 'hono' && /outside the mount \/h: \/elsewhere/.test(String(line.msg))));
});
