/**
 * Dashboard API through inject(): POST /api/apps/:name/reload, its refusals (nothing reloaded)
 * and its answers.
 */
import assert from 'node:assert/strict';
import { describe, it, before, after } from 'node:test';
import { errors } from '../../shared/errors.js';
import { FAKE_RELOAD_MS } from '../browser/fake-runtime.js';
import { assertErrorBody, bearer, harness, loginCookie, ORIGIN, TOKEN } from '../helpers/dashboard-api.js';

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
    assert.match(String(first.headers['content-type']), /^application\/json/);
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
