/**
 * PUT /api/apps/:name/threads-mode against a real supervisor with an adaptive app in-process:
 * a manual limit through the API fixes it, the mode route resumes it; bad bodies, a missing token
 * and an app without `adaptive` change nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDashboard } from '../../dashboard/app.js';
import type { AppSettings } from '../../server/config/config.js';
import { assertErrorBody, bearer, harness, HOST, PORT, stubHistory, TOKEN } from '../helpers/dashboard-api.js';
import { parseSamples, sampleValue } from '../helpers/metrics.js';
import { readFigures } from '../helpers/stats.js';
import { poolApp, startSupervisor } from '../helpers/supervisor.js';

const adaptiveApp: AppSettings = {
  listen: '127.0.0.1:0',
  adaptive: { min: 1, max: 16, tolerance: 0.5, windowMs: 1000 },
  options: { name: 'shop', handler: { type: 'node', listener: (_req, res) => res.end('ok') }, threads: 4, queue: 10, queueTimeoutMs: 1000, requestTimeoutMs: 0, mount: '' },
};

test('threads-mode: a manual limit fixes an adaptive app, the mode route resumes it, each through the guard', async (t) => {
  const rt = await startSupervisor(t, [adaptiveApp, poolApp({ name: 'plain' })], { metrics: true });
  const adaptiveGauge = async (app: string): Promise<number> => {
    const text = await (await fetch(`http://${rt.supervisor.metricsAddress}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    return sampleValue(parseSamples(text), 'dragon_thread_limit_adaptive', { app });
  };
  assert.equal(await adaptiveGauge('shop'), 1);
  assert.equal(await adaptiveGauge('plain'), 0);
  const stats = (rt.stats as { port: number }).port;
  const app = buildDashboard({ control: rt.supervisor, history: stubHistory(), token: TOKEN, port: PORT, allowedHosts: [], now: () => Date.now() });
  t.after(() => app.close());
  const send = (url: string, payload: unknown, headers: Record<string, string> = bearer) => app.inject({ method: 'PUT', url, payload: payload as string, headers: { host: HOST, ...headers } });

  const apps = (await app.inject({ method: 'GET', url: '/api/apps', headers: { host: HOST, ...bearer } })).json() as { apps: Array<{ name: string; threadsMode?: string; threadsReason?: string }> };
  assert.equal(apps.apps.find((a) => a.name === 'shop')?.threadsMode, 'adaptive');
  assert.equal(typeof apps.apps.find((a) => a.name === 'shop')?.threadsReason, 'string');
  assert.equal(apps.apps.find((a) => a.name === 'plain')?.threadsMode, undefined);

  const manual = await send('/api/apps/shop/threads', { threads: 7 });
  assert.equal(manual.statusCode, 200);
  assert.equal((await readFigures(stats)).get('shop_threads_mode'), 'fixed');
  assert.equal(await adaptiveGauge('shop'), 0);

  assertErrorBody(await send('/api/apps/shop/threads-mode', { mode: 'adaptive' }, {}), 401, 'DOW_ERR_UNAUTHORIZED');
  assertErrorBody(await send('/api/apps/shop/threads-mode', { mode: 'auto' }), 400, 'DOW_ERR_THREADS_MODE');
  assertErrorBody(await send('/api/apps/nope/threads-mode', { mode: 'adaptive' }), 404, 'DOW_ERR_UNKNOWN_APP');
  assertErrorBody(await send('/api/apps/plain/threads-mode', { mode: 'adaptive' }), 409, 'DOW_ERR_NOT_ADAPTIVE');
  assert.equal((await readFigures(stats)).get('shop_threads_mode'), 'fixed', 'refused requests changed nothing');

  const resumed = await send('/api/apps/shop/threads-mode', { mode: 'adaptive' });
  assert.equal(resumed.statusCode, 200);
  assert.deepEqual(resumed.json(), { app: 'shop', mode: 'adaptive', threads: 1 });
  const figures = await readFigures(stats);
  assert.equal(figures.get('shop_threads_mode'), 'adaptive');
  assert.match(figures.get('shop_threads_reason') ?? '', /^probe/);
});

test('threads-mode from a dashboard whose control cannot change modes (a separate process): 409 naming why', async () => {
  const h = harness();
  try {
    const res = await h.send({ method: 'PUT', url: '/api/apps/shop/threads-mode', headers: bearer, payload: { mode: 'adaptive' } });
    assertErrorBody(res, 409, 'DOW_ERR_THREADS_MODE_REMOTE');
    assert.match(res.json().message, /from a dashboard in another process/);
  } finally {
    await h.app.close();
  }
});
