/**
 * @module matrix-checks
 * The checks of one compatibility-matrix cell (a framework behind a variant's front end): what
 * each sends through the front end and what it expects back.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import type { Server } from '../../server/listen/server.js';
import { parseStats } from '../../shared/stats-format.js';
import {
  CACHED_BODY,
  COOKIE_EXPIRES,
  DOWNLOAD_BYTES,
  REDIRECT_TARGET,
  type MatrixAppName,
} from './matrix-apps.js';
import { openSseGate, sseGateOpened } from './sse-gate.js';
import { CLIENT_ADDRESS, json, request, requestAndLeave, requestEvents, requestHash } from './matrix-client.js';
import { httpsSiteName, siteName, type Variant } from './matrix-variants.js';
import { waitUntil } from './wait.js';

const UPLOAD_BYTES = 5 * 1000 * 1000;
export const QUERY_NAME = 'Grüße, 東京 & ü=1 ✓';
const JSON_BODY = { text: 'héllo ✓', list: [1, 2, 3], nested: { ok: true } };

/** What the client-ip and https checks send as their own X-Forwarded-For / X-Real-IP: never believed. */
const FORGED_ADDRESS = '198.51.100.7';
/** The client behind a TLS proxy, which that proxy (played by the client) names in X-Forwarded-For. */
const BEHIND_TLS_PROXY = '203.0.113.10';

export const MATRIX_CHECKS = [
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
export type Check = (typeof MATRIX_CHECKS)[number];

export function uploadBody(): Buffer {
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

export interface Cell {
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

export const CHECKS: Record<Check, (cell: Cell) => Promise<void>> = {
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
    // The app sends the rest only once this client has the first event (see sseEvents).
    const gate = randomUUID();
    const reply = await requestEvents(base, `/app/events?gate=${gate}`, { host: siteName(app) }, (data) => {
      if (data === 'tick 1') openSseGate(gate);
    });
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /^text\/event-stream/);
    assert.deepEqual(reply.events.map((event) => event.data), ['tick 1', 'tick 2', 'tick 3']);
    const first = reply.events[0]?.atMs;
    assert.ok(sseGateOpened(gate), `the first event came only with the rest (at ${first} ms, end ${reply.endMs} ms): the stream was buffered`);
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
