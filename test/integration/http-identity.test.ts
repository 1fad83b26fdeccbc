/**
 * Behind a proxy over HTTP, apps see the real client as they do over SCGI: Express
 * `req.ip`/`req.protocol`, Koa `ctx.ip`/`ctx.protocol`, Fastify `request.ip`/`request.protocol`,
 * from a trusted peer's X-Forwarded-For / X-Forwarded-Proto, and never from anyone else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import Koa from 'koa';
import Fastify from 'fastify';
import { toAppHandler } from '../../server/host/app-loader.js';
import { startRuntime, type RunningRuntime } from '../helpers/runtime.js';
import { RawHttpConnection } from '../helpers/http-client.js';

const FORWARDED = { 'X-Forwarded-For': '203.0.113.9', 'X-Forwarded-Proto': 'https' };

function expressApp() {
  const app = express();
  app.get('/who', (req, res) => res.send(`${req.ip} ${req.protocol}`));
  return app;
}

function koaApp() {
  const app = new Koa();
  app.use((ctx) => {
    ctx.body = `${ctx.ip} ${ctx.protocol}`;
  });
  return app;
}

function fastifyApp() {
  const app = Fastify();
  app.get('/who', async (request) => `${request.ip} ${request.protocol}`);
  return app;
}

async function ask(rt: RunningRuntime, app: string, headers: Record<string, string>, from = '127.0.0.1', conn?: RawHttpConnection): Promise<string> {
  const c = conn ?? new RawHttpConnection((rt.targets.get(app) as { port: number }).port, '127.0.0.1', from);
  await c.opened;
  c.get('/who', headers);
  const response = await c.read();
  if (conn === undefined) c.destroy();
  assert.equal(response.status, 200);
  return response.body;
}

test('Express, Koa and Fastify see the forwarded client and scheme from a trusted proxy, and the socket peer otherwise', async (t) => {
  const apps = [
    { name: 'express', handler: await toAppHandler(expressApp(), 'auto', 'express') },
    { name: 'koa', handler: await toAppHandler(koaApp(), 'auto', 'koa') },
    { name: 'fastify', handler: await toAppHandler(fastifyApp(), 'auto', 'fastify') },
  ];
  const rt = await startRuntime(t, [
    ...apps.map((app) => ({ ...app, protocol: 'http' as const })),
    // Only 127.0.0.1 is a proxy here: a client connecting from 127.0.0.2 is not believed.
    ...apps.map((app) => ({ ...app, name: `${app.name}_strict`, protocol: 'http' as const, trustProxy: ['127.0.0.1'] })),
    ...apps.map((app) => ({ ...app, name: `${app.name}_off`, protocol: 'http' as const, trustProxy: false as const })),
  ]);
  for (const { name } of apps) {
    assert.equal(await ask(rt, name, FORWARDED), '203.0.113.9 https', name);
    assert.equal(await ask(rt, name, {}), '127.0.0.1 http', `${name} without headers`);
    assert.equal(await ask(rt, `${name}_strict`, FORWARDED, '127.0.0.2'), '127.0.0.2 http', `${name}: an untrusted peer's claim`);
    assert.equal(await ask(rt, `${name}_strict`, FORWARDED, '127.0.0.1'), '203.0.113.9 https', `${name}: the listed proxy`);
    assert.equal(await ask(rt, `${name}_off`, FORWARDED), '127.0.0.1 http', `${name}: trustProxy false`);
  }
});

test('on a kept-alive connection each request has its own client: a pooled proxy connection carries many clients', async (t) => {
  const rt = await startRuntime(t, [{ name: 'express', protocol: 'http', handler: await toAppHandler(expressApp(), 'auto', 'express') }]);
  const conn = new RawHttpConnection((rt.targets.get('express') as { port: number }).port);
  t.after(() => conn.destroy());
  assert.equal(await ask(rt, 'express', FORWARDED, undefined, conn), '203.0.113.9 https');
  assert.equal(await ask(rt, 'express', { 'X-Forwarded-For': '198.51.100.4' }, undefined, conn), '198.51.100.4 http');
  assert.equal(await ask(rt, 'express', {}, undefined, conn), '127.0.0.1 http', 'the real peer is back when nothing is forwarded');
  assert.equal(await ask(rt, 'express', { 'X-Real-IP': '192.0.2.77' }, undefined, conn), '192.0.2.77 http');
});
