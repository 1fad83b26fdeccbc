/**
 * Dashboard API through inject(): who may call it (token, login cookie), CSRF (Origin) and DNS
 * rebinding (Host) checks, and the security headers on every kind of response.
 */
import assert from 'node:assert/strict';
import { describe, it, before, after } from 'node:test';
import { assertErrorBody, bearer, harness, loginCookie, ORIGIN, PORT, TOKEN } from '../helpers/dashboard-api.js';

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
