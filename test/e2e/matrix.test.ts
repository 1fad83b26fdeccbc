/**
 * The compatibility matrix: {nginx, lighttpd, Apache} × {TCP, Unix socket} ×
 * {SCGI, HTTP} in front of {Express 5, Koa 3, Fastify 5, Hono 4, node:http}, every cell checked
 * through a real front end started from the docs/frontends.md `site*` blocks (SCGI) or
 * `http-site*` blocks (`protocol: 'http'` apps, proxied with keep-alive). Writes test/artifacts/matrix-results.json,
 * which scripts/matrix-table.ts turns into the tables in docs/frontends.md and docs/frameworks.md.
 *
 * One Server and one front end per variant; each app gets its own virtual host, with `/app/` on a
 * listener mounted at /app and `/` on a second, root-mounted listener of the same app:
 *
 *   client ──Host: express.test──▶ nginx ─/app/…─▶ listener nginx_tcp_express       (mount /app)
 *     (from 127.0.0.2)                   └─ /… ──▶ listener nginx_tcp_express_root  (mount '')
 *          ──Host: https.express.test──▶ /app/… (HTTPS=on) ──▶ nginx_tcp_express
 */
import { after, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ListenerSpec } from '../../server/listener.js';
import { Server } from '../../server/server.js';
import type { AppHandler } from '../../server/adapters/app-handler.js';
import { toAppHandler } from '../../server/app-loader.js';
import { loadConfigFile } from '../../server/config.js';
import { parseStats } from '../../shared/stats-format.js';
import { makeTempDir, removeTempDir } from '../helpers/free-port.js';
import { docTemplate, fillPlaceholders } from '../helpers/frontends/doc-configs.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { startLighttpd } from '../helpers/frontends/lighttpd.js';
import { startApache } from '../helpers/frontends/apache.js';
import { withFrontendLogs, type FrontendHandle } from '../helpers/frontends/process.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { scaledMs, waitUntil } from '../helpers/wait.js';
import {
  CACHED_BODY,
  COOKIE_EXPIRES,
  DOWNLOAD_BYTES,
  MATRIX_APP_NAMES,
  REDIRECT_TARGET,
  SSE_EVENTS,
  SSE_INTERVAL_MS,
  buildMatrixApp,
  expectedDownloadSha256,
  type MatrixAppName,
} from '../helpers/matrix-apps.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS_PATH = join(ROOT, 'test/artifacts/matrix-results.json');
const FRAMEWORKS_DOC_PATH = join(ROOT, 'docs/frameworks.md');

/**
 * The client connects from 127.0.0.2 while every front end reaches the backend from 127.0.0.1,
 * so an app that reports 127.0.0.2 read REMOTE_ADDR, not the front end's socket.
 */
const CLIENT_ADDRESS = '127.0.0.2';
/**
 * Socket idle time before a request counts as stalled: generous, and stretched by
 * DOW_TEST_SLOWDOWN, since a front end that buffers a 5 MB upload and an app under
 * AddressSanitizer on a busy machine can leave the client's socket quiet for many seconds.
 */
const REQUEST_TIMEOUT_MS = scaledMs(60_000);
const UPLOAD_BYTES = 5 * 1000 * 1000;
const QUERY_NAME = 'Grüße, 東京 & ü=1 ✓';
const JSON_BODY = { text: 'héllo ✓', list: [1, 2, 3], nested: { ok: true } };

type FrontendName = 'nginx' | 'lighttpd' | 'apache';
type Transport = 'tcp' | 'unix';
type Protocol = 'scgi' | 'http';
type Values = Record<string, string | number>;

interface Variant {
  /** `nginx_tcp` (SCGI), `nginx_tcp_http`: also the app-name prefix on the stats port. */
  id: string;
  frontend: FrontendName;
  transport: Transport;
  protocol: Protocol;
}

const VARIANTS: Variant[] = (['scgi', 'http'] as const).flatMap((protocol) =>
  (['nginx', 'lighttpd', 'apache'] as const).flatMap((frontend) =>
    (['tcp', 'unix'] as const).map((transport) => ({
      id: `${frontend}_${transport}${protocol === 'http' ? '_http' : ''}`,
      frontend,
      transport,
      protocol,
    })),
  ),
);

/**
 * Whose X-Forwarded-* an `http` app believes: the front end's address only. The default,
 * ['loopback'], would also trust the client (127.0.0.2 is loopback too), and then the forged
 * X-Forwarded-For the client-ip check sends would name the client behind lighttpd and Apache,
 * which append to it. A Unix socket peer is trusted whatever the list holds.
 */
const HTTP_TRUST_PROXY = ['127.0.0.1'];
/** What the client-ip and https checks send as their own X-Forwarded-For / X-Real-IP: never believed. */
const FORGED_ADDRESS = '198.51.100.7';
/** The client behind a TLS proxy, which that proxy (played by the client) names in X-Forwarded-For. */
const BEHIND_TLS_PROXY = '203.0.113.10';

const MATRIX_CHECKS = [
  'mount',
  'root',
  'query',
  'json',
  'upload',
  'download',
  'cookies',
  'head',
  'no-content',
  'not-modified',
  'redirect',
  'client-ip',
  'https',
  'sse',
  'disconnect',
  'error',
] as const;
type Check = (typeof MATRIX_CHECKS)[number];

type CellResult = { result: 'pass' } | { result: 'fail' | 'todo'; error: string; note?: string };

/**
 * Cells that fail because of a server bug, not a front end: reported as todo (the suite stays
 * green, the table shows them) until server/ is fixed. Keyed `<app>/<check>`.
 */
/** Cells that fail because of a known server bug, marked todo until fixed; empty when none. */
const SERVER_BUGS: Record<string, string> = {};
const results: Record<string, Record<string, Partial<Record<Check, CellResult>>>> = {};
const startedAt = Date.now();

// ── the front end of one variant, assembled from docs/frontends.md blocks ────────────────────

interface AppAddresses {
  mount: string;
  root: string;
}

const siteName = (app: MatrixAppName): string => `${app}.test`;
const httpsSiteName = (app: MatrixAppName): string => `https.${app}.test`;

function backendValues(address: string, prefix: '' | 'root_'): Values {
  if (address.startsWith('unix:')) return { [`${prefix}socket`]: address.slice(5) };
  const colon = address.lastIndexOf(':');
  return prefix === '' ? { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) } : { root_port: Number(address.slice(colon + 1)) };
}

/** Every app's `site` and `site-https` block, filled; nginx's `{{listen}}` is left to its harness. */
function frontendConfig(variant: Variant, addresses: Map<MatrixAppName, AppAddresses>): string {
  if (variant.protocol === 'http') return httpFrontendConfig(variant, addresses);
  const unix = variant.transport === 'unix' ? '-unix' : '';
  const keepListen: Values = variant.frontend === 'nginx' ? { listen: '{{listen}}' } : {};
  let config = variant.frontend === 'lighttpd' ? docTemplate('lighttpd', 'site-globals') : '';
  for (const [app, { mount, root }] of addresses) {
    const mountValues = backendValues(mount, '');
    config += fillPlaceholders(docTemplate(variant.frontend, `site${unix}`), {
      ...keepListen,
      server_name: siteName(app),
      ...mountValues,
      ...backendValues(root, 'root_'),
    });
    config += fillPlaceholders(docTemplate(variant.frontend, `site-https${unix}`), {
      ...keepListen,
      server_name: httpsSiteName(app),
      ...mountValues,
    });
  }
  return config;
}

/**
 * The same for `protocol: 'http'` apps, from the `http-site*` blocks. nginx's TLS block proxies to
 * the site's own upstream pool, so it has no Unix socket variant; lighttpd's believes the client
 * (playing the TLS proxy) through mod_extforward.
 */
function httpFrontendConfig(variant: Variant, addresses: Map<MatrixAppName, AppAddresses>): string {
  const unix = variant.transport === 'unix' ? '-unix' : '';
  const keepListen: Values = variant.frontend === 'nginx' ? { listen: '{{listen}}' } : {};
  let config = variant.frontend === 'lighttpd' ? docTemplate('lighttpd', 'http-site-globals') : '';
  for (const [app, { mount, root }] of addresses) {
    const mountValues = backendValues(mount, '');
    const pools: Values = variant.frontend === 'nginx' ? { upstream: `${app}_app`, root_upstream: `${app}_root` } : {};
    config += fillPlaceholders(docTemplate(variant.frontend, `http-site${unix}`), {
      ...keepListen,
      ...pools,
      server_name: siteName(app),
      ...mountValues,
      ...backendValues(root, 'root_'),
    });
    const httpsValues: Values = variant.frontend === 'nginx'
      ? { ...keepListen, upstream: `${app}_app` }
      : { ...mountValues, ...(variant.frontend === 'lighttpd' ? { tls_proxy: CLIENT_ADDRESS } : {}) };
    const httpsTitle = variant.frontend === 'nginx' ? 'http-site-https' : `http-site-https${unix}`;
    config += fillPlaceholders(docTemplate(variant.frontend, httpsTitle), { ...httpsValues, server_name: httpsSiteName(app) });
  }
  return config;
}

function startFrontend(variant: Variant, config: string): Promise<FrontendHandle> {
  if (variant.frontend === 'nginx') return startNginx({ config });
  if (variant.frontend === 'lighttpd') return startLighttpd({ config });
  return startApache({ config });
}

/** One Server with two listeners per app (mounted at /app, and at the root). */
async function startBackend(variant: Variant, socketDir: string): Promise<{ server: Server; addresses: Map<MatrixAppName, AppAddresses> }> {
  const listeners: ListenerSpec[] = [];
  for (const app of MATRIX_APP_NAMES) {
    const name = `${variant.id}_${app}`;
    const handler = await toAppHandler(buildMatrixApp(app), 'auto', name);
    for (const [suffix, mount] of [['', '/app'], ['_root', '']] as const) {
      listeners.push({
        listen: variant.transport === 'unix' ? `unix:${join(socketDir, `${app}${suffix}.sock`)}` : '127.0.0.1:0',
        // Apache's workers run as nobody (docs/frontends.md, quirk 15).
        socketMode: 0o666,
        processor: {
          app: {
            name: name + suffix, handler, threads: 16, queue: 100, queueTimeoutMs: 10_000, requestTimeoutMs: 60_000, mount,
            ...(variant.protocol === 'http' ? { protocol: 'http', trustProxy: HTTP_TRUST_PROXY } : {}),
          },
        },
      });
    }
  }
  const server = new Server({ listeners });
  await server.listen();
  const addresses = new Map<MatrixAppName, AppAddresses>();
  MATRIX_APP_NAMES.forEach((app, i) => {
    addresses.set(app, { mount: server.addresses[2 * i] as string, root: server.addresses[2 * i + 1] as string });
  });
  return { server, addresses };
}

// ── a small HTTP client (node:http: it may set Host, and it streams) ─────────────────────────

interface RequestOptions {
  method?: string;
  host: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function open(base: string, path: string, options: RequestOptions, onResponse: (res: http.IncomingMessage, req: http.ClientRequest) => void, onError: (err: Error) => void): http.ClientRequest {
  const req = http.request(base + path, {
    method: options.method ?? 'GET',
    headers: { host: options.host, ...options.headers },
    agent: false,
    localAddress: CLIENT_ADDRESS,
  }, (res) => onResponse(res, req));
  req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms: ${path}`)));
  req.on('error', onError);
  req.end(options.body);
  return req;
}

function request(base: string, path: string, options: RequestOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    open(base, path, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }, reject);
  });
}

/** Hashes the body as it streams in, never holding it. */
function requestHash(base: string, path: string, options: RequestOptions): Promise<{ status: number; bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    open(base, path, options, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash.update(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest('hex') }));
      res.on('error', reject);
    }, reject);
  });
}

/** Times each SSE event's arrival, and the end, in ms since the request was sent. */
function requestEvents(base: string, path: string, options: RequestOptions): Promise<{ status: number; headers: http.IncomingHttpHeaders; events: Array<{ data: string; atMs: number }>; endMs: number }> {
  const sentAt = Date.now();
  return new Promise((resolve, reject) => {
    open(base, path, options, (res) => {
      const events: Array<{ data: string; atMs: number }> = [];
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = /^data: ?(.*)$/m.exec(block)?.[1];
          if (data !== undefined) events.push({ data, atMs: Date.now() - sentAt });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, events, endMs: Date.now() - sentAt }));
      res.on('error', reject);
    }, reject);
  });
}

/**
 * Sends the request and hangs up once the app is handling it (`inApp`), whatever has arrived by
 * then: a fixed delay raced the front end on a slow machine (under AddressSanitizer the client
 * could leave before the request reached the app, and there was nothing to abort).
 */
async function requestAndLeave(base: string, path: string, options: RequestOptions, inApp: () => boolean): Promise<void> {
  const req = open(base, path, options, (res) => res.on('data', () => {}).on('error', () => {}), () => {});
  try {
    await waitUntil('the request inside the app', inApp, { intervalMs: 20 });
  } finally {
    req.destroy();
  }
}

const json = (reply: Reply): Record<string, unknown> => JSON.parse(reply.body.toString('utf8')) as Record<string, unknown>;

function uploadBody(): Buffer {
  // Deterministic, not compressible into a pattern a front end could special-case.
  const body = Buffer.alloc(UPLOAD_BYTES);
  let seed = createHash('sha256').update('matrix upload').digest();
  for (let at = 0; at < UPLOAD_BYTES; at += seed.length) {
    seed = createHash('sha256').update(seed).digest();
    seed.copy(body, at);
  }
  return body;
}

// ── the checks of one cell ───────────────────────────────────────────────────────────────────

interface Cell {
  variant: Variant;
  app: MatrixAppName;
  base: string;
  server: Server;
  upload: Buffer;
  uploadSha256: string;
  downloadSha256: string;
}

/** One of the app's figures on the stats port: `aborted`, `online` (requests in the app now). */
function appFigure(server: Server, appName: string, key: 'aborted' | 'online'): number {
  return Number(parseStats(server.statsText()).get(`${appName}_${key}`) ?? NaN);
}

const CHECKS: Record<Check, (cell: Cell) => Promise<void>> = {
  async mount({ app, base }) {
    const reply = await request(base, '/app/', { host: siteName(app) });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), `${app} root\n`);
  },
  async root({ app, base }) {
    const reply = await request(base, '/', { host: siteName(app) });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), `${app} root\n`);
    const hello = await request(base, '/hello?name=root', { host: siteName(app) });
    assert.equal(hello.status, 200);
    assert.deepEqual(json(hello), { hello: 'root' });
  },
  async query({ app, base }) {
    const reply = await request(base, `/app/hello?name=${encodeURIComponent(QUERY_NAME)}`, { host: siteName(app) });
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /^application\/json/);
    assert.deepEqual(json(reply), { hello: QUERY_NAME });
  },
  async json({ app, base }) {
    const reply = await request(base, '/app/json', {
      method: 'POST',
      host: siteName(app),
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(JSON_BODY),
    });
    assert.equal(reply.status, 200);
    assert.deepEqual(json(reply), { received: JSON_BODY });
  },
  async upload({ app, base, upload, uploadSha256 }) {
    const reply = await request(base, '/app/upload', {
      method: 'POST',
      host: siteName(app),
      headers: { 'content-type': 'application/octet-stream' },
      body: upload,
    });
    assert.equal(reply.status, 200, reply.body.toString().slice(0, 200));
    assert.deepEqual(json(reply), { sha256: uploadSha256 });
  },
  async download({ app, base, downloadSha256 }) {
    const reply = await requestHash(base, '/app/download', { host: siteName(app) });
    assert.equal(reply.status, 200);
    assert.equal(reply.bytes, DOWNLOAD_BYTES);
    assert.equal(reply.sha256, downloadSha256);
  },
  async cookies({ app, base }) {
    const reply = await request(base, '/app/cookies', { host: siteName(app) });
    assert.equal(reply.status, 200);
    const cookies = reply.headers['set-cookie'] ?? [];
    assert.equal(cookies.length, 2, JSON.stringify(cookies));
    assert.match(cookies[0] ?? '', /^session=abc123;.*HttpOnly/i);
    assert.match(cookies[1] ?? '', /^theme=dark;/);
    assert.ok((cookies[1] ?? '').includes(COOKIE_EXPIRES.toUTCString()), cookies[1]);
  },
  async head({ app, base }) {
    const reply = await request(base, '/app/hello?name=head', { method: 'HEAD', host: siteName(app) });
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /^application\/json/);
    assert.equal(reply.body.length, 0);
  },
  async 'no-content'({ app, base }) {
    const reply = await request(base, '/app/empty', { host: siteName(app) });
    assert.equal(reply.status, 204);
    assert.equal(reply.body.length, 0);
  },
  async 'not-modified'({ app, base }) {
    const first = await request(base, '/app/cached', { host: siteName(app) });
    assert.equal(first.status, 200);
    assert.equal(first.body.toString(), CACHED_BODY);
    const tag = first.headers.etag;
    assert.ok(tag, 'an ETag on the 200');
    const second = await request(base, '/app/cached', { host: siteName(app), headers: { 'if-none-match': tag } });
    assert.equal(second.status, 304);
    assert.equal(second.body.length, 0);
  },
  async redirect({ app, base }) {
    // A 3xx passes through all three front ends unchanged, Apache included: its internal
    // redirect applies only to a 200 with a local Location (quirk 12). No front end rewrites
    // Location for SCGI, so an app under a mount must prefix its own Location.
    const reply = await request(base, '/app/redirect', { host: siteName(app) });
    assert.equal(reply.status, 302);
    assert.equal(reply.headers.location, REDIRECT_TARGET);
    const atRoot = await request(base, '/redirect', { host: siteName(app) });
    assert.equal(atRoot.status, 302);
    const followed = await request(base, String(atRoot.headers.location), { host: siteName(app) });
    assert.equal(followed.status, 200);
    assert.equal(typeof json(followed), 'object');
  },
  async 'client-ip'({ app, base }) {
    // The client's own X-Forwarded-For and X-Real-IP must not decide: over SCGI the apps read
    // REMOTE_ADDR; over HTTP the front end overwrites them (nginx) or appends the client (lighttpd,
    // Apache), and the server believes only its trustProxy peers.
    const forged = { 'x-forwarded-for': FORGED_ADDRESS, 'x-real-ip': FORGED_ADDRESS };
    const reply = await request(base, '/app/ip', { host: siteName(app), headers: forged });
    assert.equal(reply.status, 200);
    assert.equal(json(reply).ip, CLIENT_ADDRESS);
  },
  async https({ app, base }) {
    // A client's own X-Forwarded-Proto: https on the plain site must not make it https.
    const plain = await request(base, '/app/proto', { host: siteName(app), headers: { 'x-forwarded-proto': 'https' } });
    assert.equal(String(json(plain).protocol).replace(/:$/, ''), 'http');
    // The TLS site: what a TLS proxy in front of the front end sends (lighttpd's http-site-https
    // believes the client as that proxy; the other blocks set https themselves).
    const secure = await request(base, '/app/proto', {
      host: httpsSiteName(app),
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': BEHIND_TLS_PROXY },
    });
    assert.equal(secure.status, 200);
    assert.equal(String(json(secure).protocol).replace(/:$/, ''), 'https');
  },
  async sse({ app, base }) {
    const reply = await requestEvents(base, '/app/events', { host: siteName(app) });
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /^text\/event-stream/);
    assert.deepEqual(reply.events.map((event) => event.data), ['tick 1', 'tick 2', 'tick 3']);
    const first = reply.events[0]?.atMs ?? Infinity;
    // The app spends (SSE_EVENTS - 1) intervals after the first event; a buffering front end
    // delivers the first event together with the end.
    const lead = reply.endMs - first;
    assert.ok(lead >= (SSE_EVENTS - 1) * SSE_INTERVAL_MS * 0.75, `first event ${first} ms, end ${reply.endMs} ms`);
  },
  async disconnect({ app, base, server, variant }) {
    const appName = `${variant.id}_${app}`;
    const before = appFigure(server, appName, 'aborted');
    const onlineBefore = appFigure(server, appName, 'online');
    await requestAndLeave(base, '/app/slow', { host: siteName(app) }, () => appFigure(server, appName, 'online') > onlineBefore);
    await waitUntil(`${appName}_aborted after the client left`, () => appFigure(server, appName, 'aborted') > before, { intervalMs: 50 });
    assert.equal(appFigure(server, appName, 'aborted'), before + 1, `${appName}_aborted after the client left`);
    const next = await request(base, '/app/hello?name=after', { host: siteName(app) });
    assert.equal(next.status, 200);
    assert.deepEqual(json(next), { hello: 'after' });
  },
  async error({ app, base }) {
    const reply = await request(base, '/app/boom', { host: siteName(app) });
    assert.equal(reply.status, 500);
    const next = await request(base, '/app/', { host: siteName(app) });
    assert.equal(next.status, 200);
  },
};

async function runCheck(t: TestContext, cell: Cell, check: Check): Promise<void> {
  const row = ((results[cell.variant.id] ??= {})[cell.app] ??= {});
  const bug = SERVER_BUGS[`${cell.app}/${check}`];
  await t.test(check, bug === undefined ? {} : { todo: bug }, async () => {
    try {
      await CHECKS[check](cell);
      row[check] = { result: 'pass' };
    } catch (error) {
      const message = error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error);
      row[check] = bug === undefined ? { result: 'fail', error: message } : { result: 'todo', error: message, note: bug };
      throw error;
    }
  });
}

// ── the run ──────────────────────────────────────────────────────────────────────────────────

const upload = uploadBody();
const uploadSha256 = createHash('sha256').update(upload).digest('hex');
const downloadSha256 = expectedDownloadSha256();

describe('compatibility matrix', { concurrency: true }, () => {
  after(() => writeResults());

  for (const variant of VARIANTS) {
    it(`${variant.frontend} over ${variant.transport}${variant.protocol === 'http' ? ', HTTP' : ''}`, { concurrency: true }, async (t) => {
      const socketDir = await makeTempDir('matrix');
      t.after(() => removeTempDir(socketDir));
      const { server, addresses } = await startBackend(variant, socketDir);
      t.after(() => server.close(500));
      const frontend = await startFrontend(variant, frontendConfig(variant, addresses));
      t.after(() => frontend.stop());
      await withFrontendLogs([frontend], async () => {
        await Promise.all(
          MATRIX_APP_NAMES.map((app) =>
            t.test(app, async (t) => {
              const cell: Cell = { variant, app, base: frontend.url, server, upload, uploadSha256, downloadSha256 };
              for (const check of MATRIX_CHECKS) await runCheck(t, cell, check);
            }),
          ),
        );
      });
    });
  }
});

// ── Apache's internal redirect, asserted as it really happens ────────────────────────────────

/**
 * Quirk 12 of docs/frontends.md: mod_proxy_scgi turns a 200 whose Location starts with `/` into
 * an internal GET of that path, but the SCGI request it sends for the new path still carries the
 * *original* REQUEST_URI. dragon-on-wheels routes on REQUEST_URI, so the app answers the original
 * URL again, Apache redirects again, and after LimitInternalRecursion (10) it gives up with 500.
 * `ProxySCGIInternalRedirect Off` (the `no-internal-redirect` block) passes the 200 through;
 * nginx and lighttpd always do. A 3xx is never touched (the matrix's redirect check).
 */
describe('a 200 with a local Location (CGI local redirect)', { concurrency: true }, () => {
  const cases = [
    { frontend: 'apache', title: 'tcp', expect: 500 },
    { frontend: 'apache', title: 'no-internal-redirect', expect: 200 },
    { frontend: 'nginx', title: 'mount', expect: 200 },
    { frontend: 'lighttpd', title: 'tcp', expect: 200 },
  ] as const;
  for (const { frontend, title, expect } of cases) {
    it(`${frontend} (${title} block) answers ${expect}`, async (t) => {
      const server = new Server({
        listeners: [{
          listen: '127.0.0.1:0',
          processor: { app: { name: 'local_redirect', threads: 4, queue: 10, queueTimeoutMs: 5000, requestTimeoutMs: 10_000, mount: '/app', handler: {
            type: 'node',
            listener: (req, res) => {
              if (req.url === '/moved') res.writeHead(200, { location: '/app/hello', 'content-type': 'text/plain' }).end('moved\n');
              else res.writeHead(200, { 'content-type': 'text/plain' }).end(`at ${req.url}\n`);
            },
          } } },
        }],
      });
      await server.listen();
      t.after(() => server.close(500));
      const address = server.addresses[0] as string;
      const values = { host: '127.0.0.1', port: Number(address.slice(address.lastIndexOf(':') + 1)) };
      const config = docTemplate(frontend, title);
      const handle = frontend === 'nginx' ? await startNginx({ config, values }) : frontend === 'lighttpd' ? await startLighttpd({ config, values }) : await startApache({ config, values });
      t.after(() => handle.stop());
      await withFrontendLogs([handle], async () => {
        const reply = await request(handle.url, '/app/moved', { host: '127.0.0.1' });
        assert.equal(reply.status, expect);
        if (expect === 200) {
          assert.equal(reply.headers.location, '/app/hello');
          assert.equal(reply.body.toString(), 'moved\n');
        } else {
          assert.match(await handle.readLogs(), /internal redirects|LimitInternalRecursion/);
        }
      });
    });
  }
});

// ── docs/frameworks.md: every example, loaded through a config file ──────────────────────────

const EXAMPLE_FENCE = /^```(?:js|json) file=([\w-]+)\/([\w.-]+)\n([\s\S]*?)^```\s*$/gm;

describe('docs/frameworks.md examples', { concurrency: true }, async () => {
  const files = new Map<string, Map<string, string>>();
  for (const match of (await readFile(FRAMEWORKS_DOC_PATH, 'utf8')).matchAll(EXAMPLE_FENCE)) {
    const [, framework = '', file = '', text = ''] = match;
    if (!files.has(framework)) files.set(framework, new Map());
    files.get(framework)?.set(file, text);
  }
  it('has an example per framework', () => {
    assert.deepEqual([...files.keys()].sort(), ['express', 'fastify', 'fetch', 'hono', 'koa', 'node']);
  });
  for (const [framework, example] of files) {
    it(`${framework}: the config loads the app and it answers under its mount`, async (t) => {
      const dir = await makeTempDir(`example-${framework}`);
      t.after(() => removeTempDir(dir));
      // The examples import their framework by name, as a user's project would.
      await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
      for (const [file, text] of example) {
        if (file !== 'dragon.config.json') await writeFile(join(dir, file), text);
      }
      const config = JSON.parse(example.get('dragon.config.json') ?? 'null') as { apps: Array<{ listen: string }> } & Record<string, unknown>;
      // In-process (workers: 0), so the test can hold the Server; worker processes have their own tests.
      for (const app of config.apps) Object.assign(app, { listen: '127.0.0.1:0', workers: 0 });
      Object.assign(config, { stats: false, store: false, dashboard: false });
      await writeFile(join(dir, 'dragon.config.json'), JSON.stringify(config));
      const settings = await loadConfigFile(join(dir, 'dragon.config.json'));
      const server = new Server({ listeners: settings.apps.map((app) => ({ listen: app.listen, processor: { app: { ...app.options, handler: app.options.handler as AppHandler } } })) });
      await server.listen();
      t.after(() => server.close(500));
      const address = server.addresses[0] as string;
      const target = { host: '127.0.0.1', port: Number(address.slice(address.lastIndexOf(':') + 1)) };
      const root = await scgiRequest(target, { uri: '/app/' });
      assert.equal(root.status, 200);
      assert.match(root.body.toString(), /^hello from /);
      const hello = await scgiRequest(target, {
        uri: `/app/hello?name=${encodeURIComponent(QUERY_NAME)}`,
        env: { REMOTE_ADDR: '203.0.113.9', HTTPS: 'on' },
      });
      assert.equal(hello.status, 200);
      assert.deepEqual(JSON.parse(hello.body.toString()), { hello: QUERY_NAME, ip: '203.0.113.9', protocol: 'https' });
    });
  }
});

// ── results for scripts/matrix-table.ts ──────────────────────────────────────────────────────

/** nginx and lighttpd print their version on stderr, Apache on stdout. */
function versionOf(command: string, args: string[], pattern: RegExp): string {
  const out = spawnSync(command, args, { encoding: 'utf8' });
  return pattern.exec(`${out.stdout ?? ''}${out.stderr ?? ''}`)?.[1] ?? 'unknown';
}

async function packageVersion(name: string): Promise<string> {
  const text = await readFile(join(ROOT, 'node_modules', name, 'package.json'), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

async function writeResults(): Promise<void> {
  const document = {
    generatedAt: new Date().toISOString(),
    durationMs: Date.now() - startedAt,
    versions: {
      node: process.versions.node,
      nginx: versionOf('/usr/sbin/nginx', ['-v'], /nginx\/([\d.]+)/),
      lighttpd: versionOf('/usr/sbin/lighttpd', ['-v'], /lighttpd\/([\d.]+)/),
      apache: versionOf('/usr/sbin/apache2', ['-v'], /Apache\/([\d.]+)/),
      express: await packageVersion('express'),
      koa: await packageVersion('koa'),
      fastify: await packageVersion('fastify'),
      hono: await packageVersion('hono'),
    },
    variants: VARIANTS.map(({ id, frontend, transport, protocol }) => ({ id, frontend, transport, protocol })),
    apps: [...MATRIX_APP_NAMES],
    checks: [...MATRIX_CHECKS],
    results,
  };
  await mkdir(join(ROOT, 'test/artifacts'), { recursive: true });
  await writeFile(RESULTS_PATH, `${JSON.stringify(document, null, 2)}\n`);
}
