/**
 * Dashboard JSON API through inject(): authentication, validation (nothing changes on a bad
 * request), CSRF and Host checks, security headers, and every response against its schema.
 */
import assert from 'node:assert/strict';
import { describe, it, before, after } from 'node:test';
import { Ajv } from 'ajv';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildDashboard } from '../../dashboard/app.js';
import * as schemas from '../../dashboard/schemas.js';
import { errors } from '../../shared/errors.js';
import type { AuditEntry, EventEntry, HistoryReader, SeriesPoint } from '../../shared/history.js';
import { createFakeRuntime, FAKE_RELOAD_MS, type FakeRuntime } from '../browser/fake-runtime.js';
import { waitUntil } from '../helpers/wait.js';

const TOKEN = 'test-token-0123456789';
const PORT = 9100;
const HOST = `127.0.0.1:${PORT}`;
const ORIGIN = `http://${HOST}`;
const NOW = 1_700_000_000_000;
const bearer = { authorization: `Bearer ${TOKEN}` };

/** API-shape stub: real history is exercised by the browser and end-to-end tests. */
function stubHistory(audit: AuditEntry[] = [], events: EventEntry[] = []): HistoryReader {
  const p = { p50: 12.5, p95: 40, p99: null };
  const point = (t: number): SeriesPoint => ({
    t,
    count: 10,
    status: { '1xx': 0, '2xx': 8, '3xx': 0, '4xx': 1, '5xx': 1 },
    rejected: 1,
    timeouts: 0,
    aborted: 0,
    service: p,
    queue: { p50: 0.1, p95: 0.5, p99: 1 },
  });
  return {
    series: (app, fromMs, toMs) => ({ app, fromMs, toMs, stepMs: 10_000, points: [point(fromMs), point(fromMs + 10_000)] }),
    summary: (app, fromMs, toMs) => ({
      app, fromMs, toMs, count: 20, errorRate: 0.05, reqPerS: 0.07, recordedMs: 300_000, runs: 1, rejected: 1, timeouts: 0, aborted: 0, service: p, queue: p,
    }),
    audit: ({ app, sinceMs, limit } = {}) =>
      audit.filter((e) => (app === undefined || e.app === app) && (sinceMs === undefined || e.atMs >= sinceMs)).slice(0, limit),
    events: ({ app, sinceMs, untilMs, limit } = {}) =>
      events
        .filter((e) => (app === undefined || e.app === app) && e.atMs >= (sinceMs ?? 0) && e.atMs < (untilMs ?? Infinity))
        .slice(0, limit ?? 100),
    close() {},
  };
}

const ajv = new Ajv({ strict: false });
function assertSchema(schema: object, body: unknown): void {
  const validate = ajv.compile(schema);
  assert.ok(validate(body), `${JSON.stringify(validate.errors)} in ${JSON.stringify(body)}`);
}

function assertErrorBody(res: LightMyRequestResponse, status: number, code: string): void {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json();
  assertSchema(schemas.errorBody, body);
  assert.equal(body.statusCode, status);
  assert.equal(body.code, code);
}

interface Harness {
  app: FastifyInstance;
  runtime: FakeRuntime;
  send(options: InjectOptions): Promise<LightMyRequestResponse>;
}

function harness(options: { history?: HistoryReader | null; allowedHosts?: string[] } = {}): Harness {
  const runtime = createFakeRuntime();
  const app = buildDashboard({
    control: runtime,
    history: options.history === undefined ? stubHistory() : options.history,
    token: TOKEN,
    port: PORT,
    allowedHosts: options.allowedHosts ?? [],
    now: () => NOW,
  });
  return {
    app,
    runtime,
    send: (o) => app.inject({ ...o, headers: { host: HOST, ...(o.headers ?? {}) } }),
  };
}

async function loginCookie(h: Harness): Promise<string> {
  const res = await h.send({ method: 'GET', url: `/login?token=${TOKEN}` });
  const cookie = res.cookies[0];
  assert.ok(cookie);
  return `${cookie.name}=${cookie.value}`;
}

describe('dashboard API: authentication', () => {
  const h = harness();
  after(() => h.app.close());

  it('refuses /api without a token with 401 JSON and a Bearer challenge', async () => {
    for (const url of ['/api/overview', '/api/apps', '/api/audit', '/api/runtime-events', '/api/apps/shop/series', '/api/events']) {
      const res = await h.send({ method: 'GET', url });
      assertErrorBody(res, 401, 'DOW_ERR_UNAUTHORIZED');
      assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    }
  });

  it('refuses a bad or malformed Bearer token, even alongside a good cookie', async () => {
    const cookie = await loginCookie(h);
    for (const authorization of ['Bearer wrong', `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, TOKEN, 'Bearer ']) {
      const res = await h.send({ method: 'GET', url: '/api/overview', headers: { authorization, cookie } });
      assertErrorBody(res, 401, 'DOW_ERR_UNAUTHORIZED');
    }
  });

  it('accepts the Bearer token', async () => {
    const res = await h.send({ method: 'GET', url: '/api/overview', headers: bearer });
    assert.equal(res.statusCode, 200);
  });

  it('login exchanges the token for an HttpOnly SameSite=Strict cookie and redirects to /', async () => {
    const res = await h.send({ method: 'GET', url: `/login?token=${TOKEN}` });
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/');
    assert.equal(res.headers['cache-control'], 'no-store');
    const setCookie = String(res.headers['set-cookie']);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.match(setCookie, /Path=\//);
    assert.ok(!setCookie.includes(TOKEN), 'the cookie carries a derived session value, not the token');
  });

  it('the login cookie authenticates the API and the page', async () => {
    const cookie = await loginCookie(h);
    assert.equal((await h.send({ method: 'GET', url: '/api/apps', headers: { cookie } })).statusCode, 200);
    const page = await h.send({ method: 'GET', url: '/', headers: { cookie } });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<script type="module" src="\/assets\/app.js">/);
  });

  it('login with a bad token is 401 and sets no cookie', async () => {
    const res = await h.send({ method: 'GET', url: '/login?token=nope' });
    assertErrorBody(res, 401, 'DOW_ERR_UNAUTHORIZED');
    assert.equal(res.headers['set-cookie'], undefined);
    assertErrorBody(await h.send({ method: 'GET', url: '/login' }), 400, 'DOW_ERR_BAD_REQUEST');
  });

  it('a forged cookie is refused', async () => {
    const res = await h.send({ method: 'GET', url: '/api/overview', headers: { cookie: `dow_session=${TOKEN}` } });
    assertErrorBody(res, 401, 'DOW_ERR_UNAUTHORIZED');
  });

  it('the page without a session is a 401 sign-in page, not the dashboard', async () => {
    const res = await h.send({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 401);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.match(res.body, /Sign in/);
    assert.doesNotMatch(res.body, /app\.js/);
  });

  it('static assets and chart.js are public; page files are not served as assets', async () => {
    for (const url of ['/assets/app.js', '/assets/style.css', '/assets/duration.js', '/vendor/chart.js/chart.umd.min.js']) {
      const res = await h.send({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
    }
    assert.equal((await h.send({ method: 'GET', url: '/assets/index.html' })).statusCode, 404);
    const traversal = await h.send({ method: 'GET', url: '/assets/../app.ts' });
    assert.notEqual(traversal.statusCode, 200);
    assert.doesNotMatch(traversal.body, /buildDashboard/);
  });

  it('unknown routes need the token, then answer a JSON 404', async () => {
    assertErrorBody(await h.send({ method: 'GET', url: '/nope' }), 401, 'DOW_ERR_UNAUTHORIZED');
    assertErrorBody(await h.send({ method: 'GET', url: '/nope', headers: bearer }), 404, 'DOW_ERR_ROUTE_NOT_FOUND');
  });
});

describe('dashboard API: PUT /api/apps/:name/threads validation', () => {
  const h = harness();
  after(() => h.app.close());

  const bad: Array<[string, string | undefined, string]> = [
    ['non-integer', '{"threads": 2.5}', 'DOW_ERR_THREADS_RANGE'],
    ['zero', '{"threads": 0}', 'DOW_ERR_THREADS_RANGE'],
    ['negative', '{"threads": -3}', 'DOW_ERR_THREADS_RANGE'],
    ['1025', '{"threads": 1025}', 'DOW_ERR_THREADS_RANGE'],
    ['numeric string', '{"threads": "8"}', 'DOW_ERR_THREADS_RANGE'],
    ['word', '{"threads": "many"}', 'DOW_ERR_THREADS_RANGE'],
    ['null', '{"threads": null}', 'DOW_ERR_THREADS_RANGE'],
    ['boolean', '{"threads": true}', 'DOW_ERR_THREADS_RANGE'],
    ['missing field', '{}', 'DOW_ERR_BAD_REQUEST'],
    ['extra field', '{"threads": 8, "persist": true}', 'DOW_ERR_BAD_REQUEST'],
    ['array body', '[8]', 'DOW_ERR_BAD_REQUEST'],
    ['bad JSON', '{"threads": 8', 'DOW_ERR_BAD_REQUEST'],
    ['empty JSON body', '', 'DOW_ERR_BAD_REQUEST'],
    ['missing body', undefined, 'DOW_ERR_BAD_REQUEST'],
  ];
  for (const [name, payload, code] of bad) {
    it(`refuses ${name} with 400 and changes nothing`, async () => {
      const headers: Record<string, string> = { ...bearer };
      if (payload !== undefined) headers['content-type'] = 'application/json';
      const res = await h.send({ method: 'PUT', url: '/api/apps/shop/threads', headers, ...(payload !== undefined ? { payload } : {}) });
      assertErrorBody(res, 400, code);
      if (code === 'DOW_ERR_THREADS_RANGE') assert.match(res.json().message, /^threads must be an integer from 1 to 1024, got /);
      assert.deepEqual(h.runtime.calls, []);
      assert.equal(h.runtime.apps[0]?.threads, 4);
    });
  }

  it('refuses a form post (text/plain, the classic CSRF body) with 415', async () => {
    const res = await h.send({ method: 'PUT', url: '/api/apps/shop/threads', headers: { ...bearer, 'content-type': 'text/plain' }, payload: 'threads=8' });
    assertErrorBody(res, 415, 'DOW_ERR_BAD_REQUEST');
    assert.deepEqual(h.runtime.calls, []);
  });

  it('answers 404 JSON for an unknown app and changes nothing', async () => {
    const res = await h.send({ method: 'PUT', url: '/api/apps/nope/threads', headers: bearer, payload: { threads: 8 } });
    assertErrorBody(res, 404, 'DOW_ERR_UNKNOWN_APP');
    assert.deepEqual(h.runtime.calls, []);
  });

  it('answers 503 when the runtime is unreachable', async () => {
    h.runtime.down = true;
    try {
      const res = await h.send({ method: 'PUT', url: '/api/apps/shop/threads', headers: bearer, payload: { threads: 8 } });
      assertErrorBody(res, 503, 'DOW_ERR_RUNTIME_UNREACHABLE');
    } finally {
      h.runtime.down = false;
    }
    assert.deepEqual(h.runtime.calls, []);
  });

  it('applies 1 and 1024 (the bounds) and reports the old value', async () => {
    for (const [threads, old] of [[1, 4], [1024, 1]] as const) {
      const res = await h.send({ method: 'PUT', url: '/api/apps/shop/threads', headers: bearer, payload: { threads } });
      assert.equal(res.statusCode, 200, res.body);
      assertSchema(schemas.threadsBody, res.json());
      assert.deepEqual(res.json(), { app: 'shop', oldThreads: old, newThreads: threads });
    }
    assert.deepEqual(h.runtime.calls.map((c) => c.threads), [1, 1024]);
    assert.equal(h.runtime.calls[0]?.source, 'api 127.0.0.1');
  });
});

describe('dashboard API: CSRF (Origin) and DNS rebinding (Host)', () => {
  const h = harness({ allowedHosts: ['dash.internal:8443'] });
  let cookie = '';
  before(async () => {
    cookie = await loginCookie(h);
  });
  after(() => h.app.close());
  const put = (headers: Record<string, string>) =>
    h.send({ method: 'PUT', url: '/api/apps/shop/threads', headers: { 'content-type': 'application/json', ...headers }, payload: '{"threads": 6}' });

  it('refuses a cookie PUT from a foreign Origin with 403', async () => {
    for (const origin of ['http://evil.example', `http://evil.example:${PORT}`, 'https://127.0.0.1:9101', 'null', 'file://']) {
      assertErrorBody(await put({ cookie, origin }), 403, 'DOW_ERR_FORBIDDEN_ORIGIN');
    }
    assert.deepEqual(h.runtime.calls, []);
  });

  it('refuses a cookie PUT without an Origin (a cookie alone proves nothing)', async () => {
    assertErrorBody(await put({ cookie }), 403, 'DOW_ERR_FORBIDDEN_ORIGIN');
    assert.deepEqual(h.runtime.calls, []);
  });

  it('refuses a Bearer PUT from a foreign Origin too', async () => {
    assertErrorBody(await put({ ...bearer, origin: 'http://evil.example' }), 403, 'DOW_ERR_FORBIDDEN_ORIGIN');
    assert.deepEqual(h.runtime.calls, []);
  });

  it('accepts a same-origin cookie PUT (the page) and a Bearer PUT without Origin (curl)', async () => {
    assert.equal((await put({ cookie, origin: ORIGIN })).statusCode, 200);
    assert.equal((await put({ ...bearer })).statusCode, 200);
    assert.deepEqual(h.runtime.calls.map((c) => c.source), ['dashboard 127.0.0.1', 'api 127.0.0.1']);
  });

  it('refuses a foreign Host on every route, authenticated or not (421)', async () => {
    for (const host of ['evil.example', `evil.example:${PORT}`, `127.0.0.1:${PORT + 1}`, '127.0.0.2:9100', `localhost.evil.example:${PORT}`, '']) {
      for (const url of ['/api/overview', '/', '/login?token=' + TOKEN, '/assets/app.js']) {
        const res = await h.app.inject({ method: 'GET', url, headers: { host, ...bearer } });
        assertErrorBody(res, 421, 'DOW_ERR_FORBIDDEN_HOST');
      }
    }
    const res = await h.app.inject({ method: 'PUT', url: '/api/apps/shop/threads', headers: { host: 'evil.example', origin: 'http://evil.example', cookie }, payload: { threads: 9 } });
    assertErrorBody(res, 421, 'DOW_ERR_FORBIDDEN_HOST');
    assert.equal(h.runtime.calls.length, 2);
  });

  it('accepts loopback names on the dashboard port and configured hosts', async () => {
    for (const host of [`localhost:${PORT}`, `[::1]:${PORT}`, `LOCALHOST:${PORT}`, 'dash.internal:8443']) {
      const res = await h.app.inject({ method: 'GET', url: '/api/overview', headers: { host, ...bearer } });
      assert.equal(res.statusCode, 200, host);
    }
    const res = await h.app.inject({
      method: 'PUT',
      url: '/api/apps/shop/threads',
      headers: { host: 'dash.internal:8443', origin: 'https://dash.internal:8443', cookie },
      payload: { threads: 7 },
    });
    assert.equal(res.statusCode, 200, res.body);
  });
});

describe('dashboard API: POST /api/apps/:name/reload', () => {
  const h = harness({ allowedHosts: ['dash.internal:8443'] });
  let cookie = '';
  before(async () => {
    cookie = await loginCookie(h);
  });
  after(() => h.app.close());
  const reload = (app: string, headers: Record<string, string> = {}, payload?: string) =>
    h.send({ method: 'POST', url: `/api/apps/${app}/reload`, headers, ...(payload !== undefined ? { payload } : {}) });

  it('refuses without the token, with a bad token, from a foreign Origin or Host, and reloads nothing', async () => {
    assertErrorBody(await reload('shop'), 401, 'DOW_ERR_UNAUTHORIZED');
    assertErrorBody(await reload('shop', { authorization: 'Bearer wrong' }), 401, 'DOW_ERR_UNAUTHORIZED');
    assertErrorBody(await reload('shop', { cookie: `dow_session=${TOKEN}` }), 401, 'DOW_ERR_UNAUTHORIZED');
    // A cookie alone proves nothing about who built the request: Origin is required with it.
    assertErrorBody(await reload('shop', { cookie }), 403, 'DOW_ERR_FORBIDDEN_ORIGIN');
    assertErrorBody(await reload('shop', { cookie, origin: 'http://evil.example' }), 403, 'DOW_ERR_FORBIDDEN_ORIGIN');
    assertErrorBody(await reload('shop', { ...bearer, origin: 'http://evil.example' }), 403, 'DOW_ERR_FORBIDDEN_ORIGIN');
    const rebound = await h.app.inject({ method: 'POST', url: '/api/apps/shop/reload', headers: { host: 'evil.example', origin: 'http://evil.example', cookie } });
    assertErrorBody(rebound, 421, 'DOW_ERR_FORBIDDEN_HOST');
    assert.deepEqual(h.runtime.reloads, []);
  });

  it('refuses a body with fields, a form post, bad JSON and a non-object, and reloads nothing', async () => {
    const json = { ...bearer, 'content-type': 'application/json' };
    for (const payload of ['{"force": true}', '[]', '"now"', '{"x"', '']) {
      assertErrorBody(await reload('shop', json, payload), 400, 'DOW_ERR_BAD_REQUEST');
    }
    assertErrorBody(await reload('shop', { ...bearer, 'content-type': 'text/plain' }, 'go'), 415, 'DOW_ERR_BAD_REQUEST');
    assert.deepEqual(h.runtime.reloads, []);
  });

  it('answers 404 for an unknown app and 503 while the runtime is down, without calling reload', async () => {
    assertErrorBody(await reload('nope', bearer), 404, 'DOW_ERR_UNKNOWN_APP');
    h.runtime.down = true;
    try {
      assertErrorBody(await reload('shop', bearer), 503, 'DOW_ERR_RUNTIME_UNREACHABLE');
    } finally {
      h.runtime.down = false;
    }
    assert.deepEqual(h.runtime.reloads, []);
  });

  it('reloads with no body (curl) or {} and answers old pids, new pids and the time it took', async () => {
    const first = await reload('shop', bearer);
    assert.equal(first.statusCode, 200, first.body);
    assertSchema(schemas.reloadBody, first.json());
    assert.deepEqual(first.json(), { app: 'shop', oldPids: [5001, 5002], newPids: [6001, 6002], tookMs: FAKE_RELOAD_MS });
    const second = await reload('shop', { cookie, origin: ORIGIN, 'content-type': 'application/json' }, '{}');
    assert.equal(second.statusCode, 200, second.body);
    assert.deepEqual(second.json().oldPids, [6001, 6002]);
    // The same "from where" convention as thread-limit changes.
    assert.deepEqual(h.runtime.reloads, [{ app: 'shop', source: 'api 127.0.0.1' }, { app: 'shop', source: 'dashboard 127.0.0.1' }]);
    // The cards show the new workers at once, not after the snapshot cache runs out.
    const apps = (await h.send({ method: 'GET', url: '/api/apps', headers: bearer })).json();
    assert.deepEqual(apps.apps[0].workerPids, second.json().newPids);
  });

  it('an in-process app is refused with 409 DOW_ERR_RELOAD and a message that says why', async () => {
    const res = await reload('blog_v2', bearer);
    assertErrorBody(res, 409, 'DOW_ERR_RELOAD');
    assert.match(res.json().message, /^cannot reload blog_v2: it runs in-process/);
  });

  it('new code that fails to load comes back as a JSON error; the runtime\'s own codes keep their status', async () => {
    h.runtime.reloadError = new SyntaxError("Unexpected token '}' in /srv/shop/app.mjs");
    try {
      const res = await reload('shop', bearer);
      assertErrorBody(res, 409, 'DOW_ERR_RELOAD');
      assert.equal(res.json().message, "cannot reload shop: Unexpected token '}' in /srv/shop/app.mjs");
      h.runtime.reloadError = new errors.DOW_ERR_APP_MODULE('shop', 'Cannot find module ./routes.mjs');
      const typed = await reload('shop', bearer);
      assertErrorBody(typed, 500, 'DOW_ERR_APP_MODULE');
      assert.equal(typed.json().message, 'app shop: Cannot find module ./routes.mjs');
    } finally {
      h.runtime.reloadError = null;
    }
  });
});

describe('dashboard API: security headers', () => {
  const h = harness();
  after(() => h.app.close());

  it('sends CSP, frame denial, nosniff and no-referrer on every kind of response', async () => {
    const cookie = await loginCookie(h);
    const responses = [
      await h.send({ method: 'GET', url: '/', headers: { cookie } }),
      await h.send({ method: 'GET', url: '/' }),
      await h.send({ method: 'GET', url: '/api/apps', headers: bearer }),
      await h.send({ method: 'GET', url: '/api/apps' }),
      await h.send({ method: 'GET', url: '/assets/app.js' }),
      await h.send({ method: 'GET', url: '/vendor/chart.js/chart.umd.min.js' }),
      await h.send({ method: 'GET', url: `/login?token=${TOKEN}` }),
      await h.send({ method: 'PUT', url: '/api/apps/shop/threads', headers: bearer, payload: { threads: 0 } }),
      await h.send({ method: 'GET', url: '/missing', headers: bearer }),
      await h.app.inject({ method: 'GET', url: '/', headers: { host: 'evil.example' } }),
    ];
    for (const res of responses) {
      const csp = String(res.headers['content-security-policy']);
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /script-src 'self'(;|$)/, 'no unsafe-inline script');
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.equal(res.headers['x-frame-options'], 'DENY');
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
    }
  });

  it('the page itself has no inline script or style', async () => {
    const cookie = await loginCookie(h);
    const html = (await h.send({ method: 'GET', url: '/', headers: { cookie } })).body;
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script has a src');
    assert.doesNotMatch(html, /\sstyle=|<style/);
    assert.doesNotMatch(html, /\son[a-z]+=/, 'no inline event handlers');
    assert.doesNotMatch(html, /https?:\/\//, 'nothing from a CDN');
  });
});

describe('dashboard API: responses and their schemas', () => {
  const audit: AuditEntry[] = [
    { id: 3, atMs: NOW - 60_000, app: 'shop', oldThreads: 4, newThreads: 8, source: 'dashboard 127.0.0.1' },
    { id: 2, atMs: NOW - 120_000, app: 'blog_v2', oldThreads: 2, newThreads: 1, source: 'api 127.0.0.1' },
    { id: 1, atMs: NOW - 2 * 3_600_000, app: 'shop', oldThreads: 2, newThreads: 4, source: 'api 127.0.0.1' },
  ];
  const events: EventEntry[] = [
    { id: 12, atMs: NOW - 30_000, app: 'shop', kind: 'reload', pid: 0, detail: 'pids 5001 5002 → 6001 6002 in 850 ms', source: 'dashboard 127.0.0.1' },
    { id: 11, atMs: NOW - 90_000, app: 'shop', kind: 'hang', pid: 5003, detail: 'stuck for 30012 ms', source: 'supervisor' },
    { id: 10, atMs: NOW - 100_000, app: 'blog_v2', kind: 'recycle', pid: 7001, detail: 'after 10000 requests', source: 'supervisor' },
    { id: 9, atMs: NOW - 3 * 3_600_000, app: 'shop', kind: 'restart', pid: 4999, detail: 'exit code 1', source: 'supervisor' },
  ];
  const h = harness({ history: stubHistory(audit, events) });
  after(() => h.app.close());
  const get = async (url: string) => {
    const res = await h.send({ method: 'GET', url, headers: bearer });
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    return res.json();
  };

  it('GET /api/overview', async () => {
    const body = await get('/api/overview');
    assertSchema(schemas.overviewBody, body);
    assert.equal(body.reachable, true);
    assert.equal(body.pid, 4242);
    assert.equal(body.version, '2.0.0');
    assert.match(body.uptimeStr, /^1d 02h 03m 0\ds$/);
    assert.equal(body.requests, 2468);
    assert.equal(body.history, true);
  });

  it('GET /api/apps: snapshot figures plus the last 5 minutes', async () => {
    const body = await get('/api/apps');
    assertSchema(schemas.appsBody, body);
    assert.deepEqual(body.apps.map((a: { name: string }) => a.name), ['shop', 'blog_v2']);
    const shop = body.apps[0];
    assert.equal(shop.listen, '127.0.0.1:9000');
    assert.equal(shop.threads, 4);
    assert.equal(shop.recent.windowMs, 300_000);
    assert.equal(shop.recent.errorRate, 0.05);
    assert.deepEqual(shop.recent.service, { p50: 12.5, p95: 40, p99: null });
    // Worker figures survive the response schema's serializer (it drops undeclared fields).
    assert.deepEqual([shop.workers, shop.restarts, shop.hangs, shop.workerPids, shop.backoffMs], [2, 0, 0, [5001, 5002], 0]);
    assert.deepEqual([body.apps[1].workers, body.apps[1].workerPids], [0, []]);
  });

  it('GET /api/apps shows a crash loop held back: backoffMs', async () => {
    Object.assign(h.runtime.apps[0]!, { workers: 0, workerPids: [], restarts: 7, backoffMs: 4000 });
    try {
      // Shown once the snapshot cache has let the earlier state go.
      const shop = await waitUntil('the crash loop on /api/apps', async () => {
        const app = (await get('/api/apps')).apps[0];
        return app.backoffMs === 4000 ? app : undefined;
      });
      assert.deepEqual([shop.workers, shop.restarts, shop.backoffMs], [0, 7, 4000]);
    } finally {
      Object.assign(h.runtime.apps[0]!, { workers: 2, workerPids: [5001, 5002], restarts: 0, backoffMs: 0 });
      await waitUntil('the app restored on /api/apps', async () => (await get('/api/apps')).apps[0].backoffMs === 0);
    }
  });

  it('GET /api/apps/:name/series with markers from the window, oldest first', async () => {
    const body = await get('/api/apps/shop/series?window=1h');
    assertSchema(schemas.seriesBody, body);
    assert.equal(body.window, '1h');
    assert.equal(body.toMs - body.fromMs, 3_600_000);
    assert.equal(body.points.length, 2);
    assert.deepEqual(body.markers.map((m: AuditEntry) => m.id), [3]);
    assert.deepEqual(body.events.map((e: EventEntry) => [e.id, e.kind]), [[11, 'hang'], [12, 'reload']], 'this app, oldest first');
    assert.deepEqual(body.events[0], events[1]);
    const week = await get('/api/apps/shop/series?window=7d');
    assert.deepEqual(week.markers.map((m: AuditEntry) => m.id), [1, 3]);
    assert.deepEqual(week.events.map((e: EventEntry) => e.id), [9, 11, 12]);
    assert.equal((await get('/api/apps/shop/series')).window, '1h');
  });

  it('series refuses an unknown window or app', async () => {
    assertErrorBody(await h.send({ method: 'GET', url: '/api/apps/shop/series?window=2h', headers: bearer }), 400, 'DOW_ERR_BAD_REQUEST');
    assertErrorBody(await h.send({ method: 'GET', url: '/api/apps/nope/series?window=1h', headers: bearer }), 404, 'DOW_ERR_UNKNOWN_APP');
  });

  it('GET /api/audit, newest first, filtered and limited', async () => {
    const body = await get('/api/audit');
    assertSchema(schemas.auditBody, body);
    assert.deepEqual(body.entries.map((e: AuditEntry) => e.id), [3, 2, 1]);
    assert.deepEqual((await get('/api/audit?app=shop&limit=1')).entries.map((e: AuditEntry) => e.id), [3]);
    assertErrorBody(await h.send({ method: 'GET', url: '/api/audit?limit=0', headers: bearer }), 400, 'DOW_ERR_BAD_REQUEST');
  });

  it('GET /api/runtime-events, newest first, filtered by app and time, limited', async () => {
    const body = await get('/api/runtime-events');
    assertSchema(schemas.runtimeEventsBody, body);
    assert.equal(body.history, true);
    assert.deepEqual(body.entries.map((e: EventEntry) => e.id), [12, 11, 10, 9]);
    assert.deepEqual(body.entries[2], events[2]);
    assert.deepEqual((await get('/api/runtime-events?app=shop&limit=2')).entries.map((e: EventEntry) => e.id), [12, 11]);
    assert.deepEqual((await get(`/api/runtime-events?sinceMs=${NOW - 100_000}&untilMs=${NOW - 30_000}`)).entries.map((e: EventEntry) => e.id), [11, 10]);
    for (const query of ['limit=0', 'limit=1001', 'sinceMs=-1', 'untilMs=soon']) {
      assertErrorBody(await h.send({ method: 'GET', url: `/api/runtime-events?${query}`, headers: bearer }), 400, 'DOW_ERR_BAD_REQUEST');
    }
  });

  it('an unreachable runtime is reachable:false with the reason, not an error', async () => {
    h.runtime.down = true;
    try {
      // Shown once the snapshot cache's reuse window has passed.
      const overview = await waitUntil('the runtime unreachable on /api/overview', async () => {
        const body = await get('/api/overview');
        return body.reachable === false ? body : undefined;
      });
      assertSchema(schemas.overviewBody, overview);
      assert.equal(overview.reachable, false);
      assert.match(overview.error, /ECONNREFUSED/);
      assert.doesNotMatch(overview.error, /runtime unreachable/i, 'the page says that part itself');
      assert.equal(overview.pid, null);
      const apps = await get('/api/apps');
      assertSchema(schemas.appsBody, apps);
      // The apps last seen stay, with the timing store's figures, so the page keeps their charts.
      assert.equal(apps.reachable, false);
      assert.deepEqual(apps.apps.map((a: { name: string }) => a.name), ['shop', 'blog_v2']);
      assert.equal(apps.apps[0].recent.count, 20);
      // History still answers while the runtime is down.
      assertSchema(schemas.seriesBody, await get('/api/apps/shop/series?window=15m'));
    } finally {
      h.runtime.down = false;
    }
  });
});

describe('dashboard API: without a timing store', () => {
  const h = harness({ history: null });
  after(() => h.app.close());

  it('cards have no recent figures, series are empty, and changes are audited in memory', async () => {
    const apps = (await h.send({ method: 'GET', url: '/api/apps', headers: bearer })).json();
    assertSchema(schemas.appsBody, apps);
    assert.equal(apps.apps[0].recent, null);
    const put = await h.send({ method: 'PUT', url: '/api/apps/blog_v2/threads', headers: bearer, payload: { threads: 3 } });
    assert.equal(put.statusCode, 200);
    const audit = (await h.send({ method: 'GET', url: '/api/audit', headers: bearer })).json();
    assertSchema(schemas.auditBody, audit);
    assert.equal(audit.history, false);
    assert.deepEqual(
      audit.entries.map((e: AuditEntry) => [e.app, e.oldThreads, e.newThreads, e.source]),
      [['blog_v2', 2, 3, 'api 127.0.0.1']],
    );
    const series = (await h.send({ method: 'GET', url: '/api/apps/blog_v2/series?window=15m', headers: bearer })).json();
    assertSchema(schemas.seriesBody, series);
    assert.deepEqual(series.points, []);
    assert.equal(series.markers.length, 1);
  });

  it('reloads made here are kept in memory for the events table and the chart markers', async () => {
    const res = await h.send({ method: 'POST', url: '/api/apps/shop/reload', headers: bearer });
    assert.equal(res.statusCode, 200, res.body);
    const events = (await h.send({ method: 'GET', url: '/api/runtime-events', headers: bearer })).json();
    assertSchema(schemas.runtimeEventsBody, events);
    assert.equal(events.history, false);
    assert.deepEqual(
      events.entries.map((e: EventEntry) => [e.atMs, e.app, e.kind, e.pid, e.detail, e.source]),
      [[NOW, 'shop', 'reload', 0, `pids 5001 5002 → 6001 6002 in ${FAKE_RELOAD_MS} ms`, 'api 127.0.0.1']],
    );
    const series = (await h.send({ method: 'GET', url: '/api/apps/shop/series?window=15m', headers: bearer })).json();
    assertSchema(schemas.seriesBody, series);
    assert.equal(series.events.length, 1);
    const refused = await h.send({ method: 'POST', url: '/api/apps/blog_v2/reload', headers: bearer });
    assert.equal(refused.statusCode, 409);
    assert.equal((await h.send({ method: 'GET', url: '/api/runtime-events', headers: bearer })).json().entries.length, 1, 'a refused reload is no event');
  });
});
