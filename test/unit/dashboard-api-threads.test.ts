/**
 * Dashboard API through inject(): PUT /api/apps/:name/threads refuses every malformed request
 * without changing anything, and applies the bounds.
 */
import assert from 'node:assert/strict';
import { describe, it, after } from 'node:test';
import { assertErrorBody, bearer, harness } from '../helpers/dashboard-api.js';

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
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.deepEqual(res.json(), { app: 'shop', oldThreads: old, newThreads: threads });
    }
    assert.deepEqual(h.runtime.calls.map((c) => c.threads), [1, 1024]);
    assert.equal(h.runtime.calls[0]?.source, 'api 127.0.0.1');
  });
});
