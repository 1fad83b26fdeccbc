/**
 * The end-to-end list through real nginx (`scgi_pass` over TCP and over a Unix socket, the
 * docs/frontends.md `mount` and `unix` blocks) for an Express app and a fetch-handler (Hono)
 * app: query, 5 MB upload, cookies, HEAD, 204, redirect, streaming, and the thread limit and
 * queue answering 503 with Retry-After where the original's silent close became a 502.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Server } from '../../server/listen/server.js';
import { toAppHandler } from '../../server/host/app-loader.js';
import type { AppHandler } from '../../server/adapters/app-handler.js';
import { testDir } from '../helpers/temp-dir.js';
import { docTemplate } from '../helpers/frontends/doc-configs.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { withFrontendLogs, type FrontendHandle } from '../helpers/frontends/process.js';
import { buildExpressApp, buildHonoApp } from '../helpers/matrix-apps.js';
import { openSseGate, sseGateOpened } from '../helpers/sse-gate.js';

const UPLOAD_BYTES = 5 * 1000 * 1000;
const SLOW_MS = 100;
const CONCURRENT = 20;
const REQUEST_TIMEOUT_MS = 15_000;

type Transport = 'tcp' | 'unix';
type AppKind = 'express' | 'fetch';

/** The matrix app plus `/wait?ms=N`, a request that holds its thread for N ms. */
async function buildHandler(kind: AppKind, name: string): Promise<AppHandler> {
  if (kind === 'express') {
    const app = buildExpressApp();
    app.get('/wait', async (req, res) => {
      await delay(Number(req.query.ms));
      res.type('text').send('waited\n');
    });
    return toAppHandler(app, 'auto', name);
  }
  const app = buildHonoApp();
  app.get('/wait', async (c) => {
    await delay(Number(c.req.query('ms')));
    return c.text('waited\n');
  });
  // The fetch handler itself, as `type: 'fetch'` hands a function to the server.
  return toAppHandler(app.fetch, 'fetch', name);
}

interface Setup {
  /** Base URL of nginx in front of the app (threads 2, queue 100), mounted at /app. */
  limited: string;
  /** Base URL of nginx in front of the same app with threads 1, queue 0. */
  refusing: string;
  frontends: FrontendHandle[];
}

async function setUp(t: TestContext, transport: Transport, kind: AppKind): Promise<Setup> {
  const dir = await testDir(t, 'nginx-runtime');
  const listen = (file: string): string => (transport === 'unix' ? `unix:${join(dir, file)}` : '127.0.0.1:0');
  const app = (name: string, threads: number, queue: number, handler: AppHandler) => ({
    app: { name, handler, threads, queue, queueTimeoutMs: 10_000, requestTimeoutMs: 30_000, mount: '/app' },
  });
  const server = new Server({
    listeners: [
      { listen: listen('limited.sock'), socketMode: 0o666, processor: app(`${kind}_limited`, 2, 100, await buildHandler(kind, `${kind}_limited`)) },
      { listen: listen('refusing.sock'), socketMode: 0o666, processor: app(`${kind}_refusing`, 1, 0, await buildHandler(kind, `${kind}_refusing`)) },
    ],
  });
  await server.listen();
  t.after(() => server.close(500));
  const frontends: FrontendHandle[] = await Promise.all(
    server.addresses.map((address) => {
      if (address.startsWith('unix:')) return startNginx({ config: docTemplate('nginx', 'unix'), values: { socket: address.slice(5) } });
      const colon = address.lastIndexOf(':');
      return startNginx({ config: docTemplate('nginx', 'mount'), values: { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) } });
    }),
  );
  for (const frontend of frontends) t.after(() => frontend.stop());
  return { limited: (frontends[0] as FrontendHandle).url, refusing: (frontends[1] as FrontendHandle).url, frontends };
}

const get = (url: string, init: RequestInit = {}): Promise<Response> =>
  fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), ...init });

for (const transport of ['tcp', 'unix'] as const) {
  for (const kind of ['express', 'fetch'] as const) {
    describe(`nginx over ${transport}, ${kind} app`, () => {
      it('serves the end-to-end list', async (t) => {
        const { limited, refusing, frontends } = await setUp(t, transport, kind);
        const app = `${limited}/app`;
        // A failing step prints nginx's error log, so the failure shows nginx's own reason.
        const step = (name: string, body: () => Promise<void>): Promise<void> =>
          t.test(name, () => withFrontendLogs(frontends, body));

        await step('GET with a query', async () => {
          const res = await get(`${app}/hello?name=${encodeURIComponent('Grüße ✓')}`);
          assert.equal(res.status, 200);
          assert.deepEqual(await res.json(), { hello: 'Grüße ✓' });
        });

        await step('POST of 5 MB, SHA-256 echoed', async () => {
          const body = randomBytes(UPLOAD_BYTES);
          const res = await get(`${app}/upload`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body });
          assert.equal(res.status, 200);
          assert.deepEqual(await res.json(), { sha256: createHash('sha256').update(body).digest('hex') });
        });

        await step('two Set-Cookie headers', async () => {
          const res = await get(`${app}/cookies`);
          assert.equal(res.status, 200);
          const cookies = res.headers.getSetCookie();
          assert.equal(cookies.length, 2, JSON.stringify(cookies));
          assert.match(cookies[0] ?? '', /^session=abc123;/);
          assert.match(cookies[1] ?? '', /^theme=dark;.*Expires=\w{3}, \d\d \w{3} \d{4}/);
        });

        await step('HEAD: headers, no body', async () => {
          const res = await get(`${app}/hello?name=head`, { method: 'HEAD' });
          assert.equal(res.status, 200);
          assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
          assert.equal((await res.arrayBuffer()).byteLength, 0);
        });

        await step('204', async () => {
          const res = await get(`${app}/empty`);
          assert.equal(res.status, 204);
          assert.equal((await res.arrayBuffer()).byteLength, 0);
        });

        await step('a redirect', async () => {
          const res = await get(`${app}/redirect`);
          assert.equal(res.status, 302);
          assert.equal(res.headers.get('location'), '/hello');
          await res.body?.cancel();
        });

        await step('a streamed response: the first chunk arrives before the app ends', async () => {
          // /events sends X-Accel-Buffering: no, which nginx honours with buffering on. The app
          // sends the rest only once this client has the first event (see sseEvents).
          const gate = randomUUID();
          const res = await get(`${app}/events?gate=${gate}`);
          assert.equal(res.status, 200);
          const reader = (res.body as ReadableStream<Uint8Array>).getReader();
          const first = await reader.read();
          assert.match(Buffer.from(first.value ?? []).toString(), /data: tick 1/);
          openSseGate(gate);
          while (!(await reader.read()).done);
          assert.ok(sseGateOpened(gate), 'the first event came only with the rest: the stream was buffered');
        });

        await step(`threads: 2 with ${CONCURRENT} concurrent slow requests: all 200, no 502`, async () => {
          const startedAt = Date.now();
          const statuses = await Promise.all(
            Array.from({ length: CONCURRENT }, async () => {
              const res = await get(`${app}/wait?ms=${SLOW_MS}`);
              await res.arrayBuffer();
              return res.status;
            }),
          );
          assert.deepEqual(statuses, Array(CONCURRENT).fill(200));
          // Two at a time: the requests really queued rather than running all at once.
          assert.ok(Date.now() - startedAt >= (CONCURRENT / 2) * SLOW_MS * 0.9, `took ${Date.now() - startedAt} ms`);
        });

        await step('queue: 0 with concurrent requests: 503 with Retry-After, never 502', async () => {
          const replies = await Promise.all(
            Array.from({ length: 10 }, async () => {
              const res = await get(`${refusing}/app/wait?ms=${SLOW_MS * 3}`);
              await res.arrayBuffer();
              return { status: res.status, retryAfter: res.headers.get('retry-after') };
            }),
          );
          const statuses = replies.map((reply) => reply.status);
          assert.ok(!statuses.includes(502), JSON.stringify(statuses));
          assert.ok(statuses.includes(200), JSON.stringify(statuses));
          assert.ok(statuses.includes(503), JSON.stringify(statuses));
          assert.ok(statuses.every((status) => status === 200 || status === 503), JSON.stringify(statuses));
          for (const reply of replies.filter((r) => r.status === 503)) assert.equal(reply.retryAfter, '1');
        });
      });
    });
  }
}
