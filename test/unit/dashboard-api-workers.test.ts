/**
 * Dashboard API through inject(): PUT /api/apps/:name/workers has the threads route's guard
 * (token, Origin, Host) and checks, refuses every malformed body without calling the runtime,
 * passes the runtime's refusals on as JSON, and without a store remembers the change as an event.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertErrorBody, bearer, harness, loginCookie, ORIGIN, TOKEN } from '../helpers/dashboard-api.js';

describe('dashboard API: PUT /api/apps/:name/workers', () => {
  const h = harness({ history: null });
  let cookie = '';
  before(async () => {
    cookie = await loginCookie(h);
  });
  after(() => h.app.close());
  const put = (app: string, headers: Record<string, string>, payload?: string) =>
    h.send({ method: 'PUT', url: `/api/apps/${app}/workers`, headers: { 'content-type': 'application/json', ...headers }, ...(payload !== undefined ? { payload } : {}) });

  it('refuses without the token, with a bad token, from a foreign Origin or Host, and scales nothing', async () => {
    const body = '{"workers": 3}';
    assertErrorBody(await put('shop', {}, body), 401, 'DOW_ERR_UNAUTHORIZED');
    assertErrorBody(await put('shop', { authorization: 'Bearer wrong' }, body), 401, 'DOW_ERR_UNAUTHORIZED');
    assertErrorBody(await put('shop', { cookie: `dow_session=${TOKEN}` }, body), 401, 'DOW_ERR_UNAUTHORIZED');
    assertErrorBody(await put('shop', { cookie }, body), 403, 'DOW_ERR_FORBIDDEN_ORIGIN');
    assertErrorBody(await put('shop', { cookie, origin: 'http://evil.example' }, body), 403, 'DOW_ERR_FORBIDDEN_ORIGIN');
    assertErrorBody(await put('shop', { ...bearer, origin: 'http://evil.example' }, body), 403, 'DOW_ERR_FORBIDDEN_ORIGIN');
    const rebound = await h.app.inject({ method: 'PUT', url: '/api/apps/shop/workers', headers: { host: 'evil.example', origin: 'http://evil.example', cookie, 'content-type': 'application/json' }, payload: body });
    assertErrorBody(rebound, 421, 'DOW_ERR_FORBIDDEN_HOST');
    assert.deepEqual(h.runtime.scales, []);
  });

  const bad: Array<[string, string, string]> = [
    ['zero', '{"workers": 0}', 'DOW_ERR_WORKERS_RANGE'],
    ['257', '{"workers": 257}', 'DOW_ERR_WORKERS_RANGE'],
    ['non-integer', '{"workers": 1.5}', 'DOW_ERR_WORKERS_RANGE'],
    ['word', '{"workers": "many"}', 'DOW_ERR_WORKERS_RANGE'],
    ['missing field', '{}', 'DOW_ERR_BAD_REQUEST'],
    ['extra field', '{"workers": 2, "threads": 4}', 'DOW_ERR_BAD_REQUEST'],
    ['bad JSON', '{"workers": 2', 'DOW_ERR_BAD_REQUEST'],
  ];
  for (const [name, payload, code] of bad) {
    it(`refuses ${name} with 400 and scales nothing`, async () => {
      const res = await put('shop', bearer, payload);
      assertErrorBody(res, 400, code);
      if (code === 'DOW_ERR_WORKERS_RANGE') assert.match(res.json().message, /^workers must be an integer from 1 to 256, got /);
      assert.deepEqual(h.runtime.scales, []);
    });
  }

  it('answers 404 for an unknown app and 409 for an in-process one', async () => {
    assertErrorBody(await put('nope', bearer, '{"workers": 2}'), 404, 'DOW_ERR_UNKNOWN_APP');
    assert.deepEqual(h.runtime.scales, []);
    const inProcess = await put('blog_v2', bearer, '{"workers": 2}');
    assertErrorBody(inProcess, 409, 'DOW_ERR_SCALE');
    assert.match(inProcess.json().message, /^cannot scale blog_v2: it runs in-process/);
  });

  it('scales with the token or a session and its Origin, says who asked, and keeps a scale event without a store', async () => {
    h.runtime.scales.length = 0;
    const up = await put('shop', bearer, '{"workers": 3}');
    assert.equal(up.statusCode, 200, up.body);
    assert.deepEqual(up.json(), { app: 'shop', oldWorkers: 2, newWorkers: 3, startedPids: [6001], stoppedPids: [], tookMs: 850 });
    const down = await put('shop', { cookie, origin: ORIGIN }, '{"workers": 1}');
    assert.equal(down.statusCode, 200, down.body);
    assert.deepEqual(down.json().stoppedPids, [5002, 6001]);
    assert.deepEqual(h.runtime.scales, [{ app: 'shop', workers: 3, source: 'api 127.0.0.1' }, { app: 'shop', workers: 1, source: 'dashboard 127.0.0.1' }]);
    // The cards show the new count at once, not after the snapshot cache runs out.
    assert.equal((await h.send({ method: 'GET', url: '/api/apps', headers: bearer })).json().apps[0].workers, 1);
    const events = (await h.send({ method: 'GET', url: '/api/runtime-events', headers: bearer })).json();
    assert.deepEqual(events.entries.map((e: { kind: string; detail: string; source: string }) => [e.kind, e.detail, e.source]), [
      ['scale', 'workers 3 -> 1, drained 5002 6001', 'dashboard 127.0.0.1'],
      ['scale', 'workers 2 -> 3, started 6001', 'api 127.0.0.1'],
    ]);
  });
});
