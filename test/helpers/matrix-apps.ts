/**
 * The compatibility matrix's app, written once per framework (Express 5, Koa 3, Fastify 5, Hono 4,
 * plain node:http), each in that framework's own idiom, as docs/frameworks.md shows them. Every
 * version answers the same routes, so the matrix can check them all with one client.
 *
 *   GET  /          "<app> root"              GET  /cookies   two Set-Cookie
 *   GET  /hello?name=…  {"hello": name}       GET  /empty     204
 *   POST /json      {"received": body}        GET  /cached    ETag, 304 on If-None-Match
 *   POST /upload    {"sha256": hex}, streamed GET  /redirect  302 Location: /hello
 *   GET  /download  50 MiB, streamed          GET  /ip, /proto  the framework's own view
 *   GET  /events    3 SSE events (?gate=id: the 2nd once the client has the 1st)
 *                                             GET  /slow     ~3 s of chunks
 *   GET  /boom      throws -> 500
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Readable, pipeline } from 'node:stream';
import { text } from 'node:stream/consumers';
import { setTimeout as delay } from 'node:timers/promises';
import express, { type Express } from 'express';
import Koa from 'koa';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import { Hono } from 'hono';
import { setCookie } from 'hono/cookie';
import { etag } from 'hono/etag';
import { stream, streamSSE } from 'hono/streaming';
import { beforeSseEvent } from './sse-gate.js';
import type { ScgiRequestInfo } from '../../server/adapters/scgi-request-info.js';

export const MATRIX_APP_NAMES = ['express', 'koa', 'fastify', 'hono', 'node'] as const;
export type MatrixAppName = (typeof MATRIX_APP_NAMES)[number];

// ── the shared contract: what every app sends, so the client can check it ──────────────────

const DOWNLOAD_CHUNK_BYTES = 64 * 1024;
const DOWNLOAD_CHUNKS = 800;
/** 50 MiB: large enough that no front end or adapter can quietly hold it all in memory. */
export const DOWNLOAD_BYTES = DOWNLOAD_CHUNK_BYTES * DOWNLOAD_CHUNKS;
export const SSE_EVENTS = 3;
export const SLOW_CHUNKS = 30;
export const SLOW_INTERVAL_MS = 100;
export const CACHED_BODY = 'cached body\n';
export const REDIRECT_TARGET = '/hello';
/**
 * A cookie whose Expires holds a comma: joining Set-Cookie values with ", " would break it.
 * 30 days ahead, whole seconds: hono/cookie throws for an Expires more than 400 days away
 * (RFC 6265bis caps cookie lifetime at 400 days).
 */
export const COOKIE_EXPIRES = new Date(Math.floor(Date.now() / 1000) * 1000 + 30 * 24 * 3600 * 1000);
const PLAIN_ETAG = '"matrix-v1"';

/**
 * Deterministic download bytes: chunk i is 64 KiB of the byte (i mod 251) with i in its first
 * four bytes, so a dropped, repeated or reordered chunk changes the hash. A fresh Buffer per
 * chunk: a write may still be queued when the next chunk is made.
 */
export function* downloadChunks(): Generator<Buffer> {
  for (let i = 0; i < DOWNLOAD_CHUNKS; i++) {
    const chunk = Buffer.alloc(DOWNLOAD_CHUNK_BYTES, i % 251);
    chunk.writeUInt32BE(i, 0);
    yield chunk;
  }
}

export function expectedDownloadSha256(): string {
  const hash = createHash('sha256');
  for (const chunk of downloadChunks()) hash.update(chunk);
  return hash.digest('hex');
}

export async function sha256Hex(body: AsyncIterable<Uint8Array>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of body) hash.update(chunk);
  return hash.digest('hex');
}

/** The gate id a request names, if it is a string. */
function gateOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** `id: n` / `data: tick n`, the first at once, then as beforeSseEvent says. */
export async function* sseEvents(gate?: string): AsyncGenerator<string> {
  for (let i = 1; i <= SSE_EVENTS; i++) {
    await beforeSseEvent(i, gate);
    yield `id: ${i}\ndata: tick ${i}\n\n`;
  }
}

/** ~3 s of small chunks: the client of the disconnect test leaves after the first one. */
export async function* slowChunks(): AsyncGenerator<string> {
  for (let i = 1; i <= SLOW_CHUNKS; i++) {
    if (i > 1) await delay(SLOW_INTERVAL_MS);
    yield `chunk ${i}\n`;
  }
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  // nginx honours this (and strips it) to stream one response with buffering on; lighttpd and
  // Apache pass it on unchanged (docs/frontends.md, quirks 4 and 8).
  'x-accel-buffering': 'no',
};

const rootText = (app: MatrixAppName): string => `${app} root\n`;
/** The stream ended early because the client left; the server counts it as aborted. */
const ignoreClose = (): void => {};

// ── Express 5 ────────────────────────────────────────────────────────────────────────────────

export function buildExpressApp(): Express {
  const app = express();
  app.get('/', (_req, res) => {
    res.type('text').send(rootText('express'));
  });
  app.get('/hello', (req, res) => {
    res.json({ hello: req.query.name });
  });
  app.post('/json', express.json(), (req, res) => {
    res.json({ received: req.body as unknown });
  });
  app.post('/upload', async (req, res) => {
    res.json({ sha256: await sha256Hex(req) });
  });
  app.get('/download', (_req, res) => {
    res.type('application/octet-stream').set('content-length', String(DOWNLOAD_BYTES));
    pipeline(Readable.from(downloadChunks()), res, ignoreClose);
  });
  app.get('/cookies', (_req, res) => {
    res.cookie('session', 'abc123', { httpOnly: true });
    res.cookie('theme', 'dark', { expires: COOKIE_EXPIRES });
    res.type('text').send('two cookies\n');
  });
  app.get('/empty', (_req, res) => {
    res.status(204).end();
  });
  app.get('/cached', (_req, res) => {
    // res.send answers 304 by itself when the request's If-None-Match is fresh.
    res.set('etag', PLAIN_ETAG).type('text').send(CACHED_BODY);
  });
  app.get('/redirect', (_req, res) => {
    res.redirect(302, REDIRECT_TARGET);
  });
  app.get('/ip', (req, res) => {
    res.json({ ip: req.ip });
  });
  app.get('/proto', (req, res) => {
    res.json({ protocol: req.protocol, secure: req.secure });
  });
  app.get('/events', (req, res) => {
    res.set(SSE_HEADERS).flushHeaders();
    pipeline(Readable.from(sseEvents(gateOf(req.query.gate))), res, ignoreClose);
  });
  app.get('/slow', (_req, res) => {
    res.type('text');
    pipeline(Readable.from(slowChunks()), res, ignoreClose);
  });
  app.get('/boom', () => {
    throw new Error('boom');
  });
  // Express's default handler would print the stack; a real app logs it here.
  app.use((_err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).type('text').send('Internal Server Error\n');
  });
  return app;
}

// ── Koa 3 (no router: a route table keyed by method and path) ────────────────────────────────

export function buildKoaApp(): Koa {
  const app = new Koa();
  const routes: Record<string, Koa.Middleware> = {
    'GET /': (ctx) => {
      ctx.body = rootText('koa');
    },
    'GET /hello': (ctx) => {
      ctx.body = { hello: ctx.query.name };
    },
    'POST /json': async (ctx) => {
      ctx.body = { received: JSON.parse(await text(ctx.req)) as unknown };
    },
    'POST /upload': async (ctx) => {
      ctx.body = { sha256: await sha256Hex(ctx.req) };
    },
    'GET /download': (ctx) => {
      ctx.type = 'application/octet-stream';
      ctx.length = DOWNLOAD_BYTES;
      ctx.body = Readable.from(downloadChunks());
    },
    'GET /cookies': (ctx) => {
      ctx.cookies.set('session', 'abc123', { httpOnly: true });
      ctx.cookies.set('theme', 'dark', { expires: COOKIE_EXPIRES, httpOnly: false });
      ctx.body = 'two cookies\n';
    },
    'GET /empty': (ctx) => {
      ctx.status = 204;
    },
    'GET /cached': (ctx) => {
      ctx.status = 200;
      ctx.set('ETag', PLAIN_ETAG);
      if (ctx.fresh) {
        ctx.status = 304;
        return;
      }
      ctx.body = CACHED_BODY;
    },
    'GET /redirect': (ctx) => {
      ctx.redirect(REDIRECT_TARGET);
    },
    'GET /ip': (ctx) => {
      ctx.body = { ip: ctx.ip };
    },
    'GET /proto': (ctx) => {
      ctx.body = { protocol: ctx.protocol, secure: ctx.secure };
    },
    'GET /events': (ctx) => {
      ctx.set(SSE_HEADERS);
      ctx.body = Readable.from(sseEvents(gateOf(ctx.query.gate)));
    },
    'GET /slow': (ctx) => {
      ctx.type = 'text';
      ctx.body = Readable.from(slowChunks());
    },
    'GET /boom': () => {
      throw new Error('boom');
    },
  };
  app.use(async (ctx, next) => {
    // Koa answers HEAD with the GET route's headers and no body.
    const route = routes[`${ctx.method === 'HEAD' ? 'GET' : ctx.method} ${ctx.path}`];
    if (route === undefined) return next();
    return route(ctx, next);
  });
  // With an 'error' listener Koa does not print the stack itself; a real app logs it here.
  app.on('error', ignoreClose);
  return app;
}

// ── Fastify 5 (handed over as the instance: the server calls ready(), never listen()) ────────

export function buildFastifyApp(): FastifyInstance {
  const app = Fastify();
  void app.register(fastifyCookie);
  // Stream uploads instead of buffering them: the parser hands the raw request on as the body.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
  app.get('/', async (_request, reply) => reply.type('text/plain').send(rootText('fastify')));
  app.get<{ Querystring: { name?: string } }>('/hello', async (request) => ({ hello: request.query.name }));
  app.post('/json', async (request) => ({ received: request.body }));
  app.post('/upload', async (request) => ({ sha256: await sha256Hex(request.body as IncomingMessage) }));
  app.get('/download', async (_request, reply) =>
    reply.type('application/octet-stream').header('content-length', DOWNLOAD_BYTES).send(Readable.from(downloadChunks())),
  );
  app.get('/cookies', async (_request, reply) =>
    reply
      .setCookie('session', 'abc123', { httpOnly: true, path: '/' })
      .setCookie('theme', 'dark', { expires: COOKIE_EXPIRES, path: '/' })
      .type('text/plain')
      .send('two cookies\n'),
  );
  app.get('/empty', async (_request, reply) => reply.code(204).send());
  app.get('/cached', async (request, reply) => {
    reply.header('etag', PLAIN_ETAG);
    if (request.headers['if-none-match'] === PLAIN_ETAG) return reply.code(304).send();
    return reply.type('text/plain').send(CACHED_BODY);
  });
  app.get('/redirect', async (_request, reply) => reply.redirect(REDIRECT_TARGET, 302));
  app.get('/ip', async (request) => ({ ip: request.ip }));
  app.get('/proto', async (request) => ({ protocol: request.protocol }));
  app.get('/events', async (request, reply) => reply.headers(SSE_HEADERS).send(Readable.from(sseEvents(gateOf((request.query as { gate?: unknown }).gate)))));
  app.get('/slow', async (_request, reply) => reply.type('text/plain').send(Readable.from(slowChunks())));
  app.get('/boom', async () => {
    throw new Error('boom');
  });
  return app;
}

// ── Hono 4 (a fetch handler; the second argument to fetch is the SCGI request info) ──────────

export function buildHonoApp(): Hono<{ Bindings: ScgiRequestInfo }> {
  const app = new Hono<{ Bindings: ScgiRequestInfo }>();
  app.get('/', (c) => c.text(rootText('hono')));
  app.get('/hello', (c) => c.json({ hello: c.req.query('name') }));
  app.post('/json', async (c) => c.json({ received: await c.req.json<unknown>() }));
  app.post('/upload', async (c) => c.json({ sha256: await sha256Hex(c.req.raw.body ?? Readable.from([])) }));
  app.get('/download', (c) => {
    c.header('content-type', 'application/octet-stream');
    c.header('content-length', String(DOWNLOAD_BYTES));
    return stream(c, async (out) => {
      for (const chunk of downloadChunks()) await out.write(chunk);
    });
  });
  app.get('/cookies', (c) => {
    setCookie(c, 'session', 'abc123', { httpOnly: true, path: '/' });
    setCookie(c, 'theme', 'dark', { expires: COOKIE_EXPIRES, path: '/' });
    return c.text('two cookies\n');
  });
  app.get('/empty', (c) => c.body(null, 204));
  // hono/etag hashes the body into an ETag and answers 304 when If-None-Match matches it.
  app.get('/cached', etag(), (c) => c.text(CACHED_BODY));
  app.get('/redirect', (c) => c.redirect(REDIRECT_TARGET, 302));
  // Hono has no socket: the raw SCGI environment carries the client (REMOTE_ADDR).
  app.get('/ip', (c) => c.json({ ip: c.env.env.REMOTE_ADDR }));
  app.get('/proto', (c) => c.json({ protocol: new URL(c.req.url).protocol }));
  app.get('/events', (c) => {
    c.header('x-accel-buffering', 'no');
    return streamSSE(c, async (out) => {
      const gate = c.req.query('gate');
      for (let i = 1; i <= SSE_EVENTS; i++) {
        await beforeSseEvent(i, gate);
        await out.writeSSE({ id: String(i), data: `tick ${i}` });
      }
    });
  });
  app.get('/slow', (c) =>
    stream(c, async (out) => {
      for await (const chunk of slowChunks()) {
        if (out.aborted) return;
        await out.write(chunk);
      }
    }),
  );
  app.get('/boom', () => {
    throw new Error('boom');
  });
  // Hono's default onError prints the stack; a real app logs it here.
  app.onError((_err, c) => c.text('Internal Server Error\n', 500));
  return app;
}

// ── plain node:http listener ─────────────────────────────────────────────────────────────────

type PlainRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => unknown;

function sendJson(res: ServerResponse, value: unknown, status = 200): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export function buildNodeListener(): RequestListener {
  const routes: Record<string, PlainRoute> = {
    'GET /': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(rootText('node'));
    },
    'GET /hello': (_req, res, url) => sendJson(res, { hello: url.searchParams.get('name') }),
    'POST /json': async (req, res) => sendJson(res, { received: JSON.parse(await text(req)) as unknown }),
    'POST /upload': async (req, res) => sendJson(res, { sha256: await sha256Hex(req) }),
    'GET /download': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': DOWNLOAD_BYTES });
      pipeline(Readable.from(downloadChunks()), res, ignoreClose);
    },
    'GET /cookies': (_req, res) => {
      res.setHeader('set-cookie', ['session=abc123; Path=/; HttpOnly', `theme=dark; Path=/; Expires=${COOKIE_EXPIRES.toUTCString()}`]);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('two cookies\n');
    },
    'GET /empty': (_req, res) => {
      res.writeHead(204).end();
    },
    'GET /cached': (req, res) => {
      if (req.headers['if-none-match'] === PLAIN_ETAG) res.writeHead(304, { etag: PLAIN_ETAG }).end();
      else res.writeHead(200, { etag: PLAIN_ETAG, 'content-type': 'text/plain' }).end(CACHED_BODY);
    },
    'GET /redirect': (_req, res) => {
      res.writeHead(302, { location: REDIRECT_TARGET }).end();
    },
    'GET /ip': (req, res) => sendJson(res, { ip: req.socket.remoteAddress }),
    'GET /proto': (req, res) => {
      const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
      sendJson(res, { protocol: encrypted ? 'https' : 'http' });
    },
    'GET /events': (req, res) => {
      res.writeHead(200, SSE_HEADERS);
      pipeline(Readable.from(sseEvents(gateOf(new URL(req.url ?? '/', 'http://x').searchParams.get('gate')))), res, ignoreClose);
    },
    'GET /slow': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      pipeline(Readable.from(slowChunks()), res, ignoreClose);
    },
    'GET /boom': () => {
      // Thrown synchronously, and nothing catches it: the server itself must answer 500.
      throw new Error('boom');
    },
  };
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://app.invalid');
    // node:http leaves out the body of a HEAD response itself.
    const route = routes[`${req.method === 'HEAD' ? 'GET' : req.method} ${url.pathname}`];
    if (route === undefined) return sendJson(res, { error: 'not found' }, 404);
    return route(req, res, url);
  };
}

/** The value a user would export, per framework; `toAppHandler(value, 'auto', name)` adapts it. */
export function buildMatrixApp(name: MatrixAppName): unknown {
  switch (name) {
    case 'express':
      return buildExpressApp();
    case 'koa':
      return buildKoaApp();
    case 'fastify':
      return buildFastifyApp();
    case 'hono':
      return buildHonoApp();
    case 'node':
      return buildNodeListener();
  }
}
