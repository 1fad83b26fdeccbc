// The metrics listener against a real Supervisor: real worker processes and an in-process app,
// real sockets. /metrics agrees with the stats port, /readyz follows workers and the store, and
// the listener answers while an app's only worker hangs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DEFAULT_LIMITS } from '../../server/protocol/limits.js';
import { Supervisor } from '../../server/supervisor/supervisor.js';
import { createTimingStore } from '../../server/store/timing-store.js';
import { httpGet } from '../helpers/http-get.js';
import { inlineApp, parseSamples, sampleValue, startMetricsSupervisor } from '../helpers/metrics.js';
import { captureLogs } from '../helpers/runtime.js';
import { scgiRequest, sendRaw, encodeScgiRequest } from '../helpers/scgi-client.js';
import { WORKER_APP } from '../helpers/supervisor.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';

async function get(url: string, accept?: string): Promise<{ status: number; type: string; body: string }> {
  const reply = await httpGet(url, { headers: accept ? { accept } : {} });
  return { status: reply.status, type: reply.headers['content-type'] ?? '', body: reply.body };
}

test('/metrics counts what the stats port counts, by status class, for worker pools and an in-process app', async (t) => {
  const rt = await startMetricsSupervisor(t, [{ name: 'shop', count: 2, threads: 4 }, inlineApp('blog')]);
  const shop = rt.targets.get('shop')!;
  const blog = rt.targets.get('blog')!;
  const codes = [200, 200, 201, 301, 404, 404, 418, 500, 503, 204];
  for (let round = 0; round < 3; round++) {
    await Promise.all(codes.map((code) => scgiRequest(shop, { uri: `/status?code=${code}` })));
    await Promise.all(codes.slice(0, 4).map((code) => scgiRequest(blog, { uri: `/?code=${code}` })));
  }
  // A malformed request: counted as a bad request, not as a request.
  await sendRaw(shop, Buffer.from('5:abcde,'), { allowReset: true }).catch(() => undefined);

  const { status, type, body } = await get(`${rt.base}/metrics`);
  const figures = await rt.figures();
  assert.equal(status, 200);
  assert.match(type, /^text\/plain; version=0\.0\.4/);
  const samples = parseSamples(body);
  const byCode = (app: string, code: string): number => sampleValue(samples, 'dragon_requests_total', { app, code });
  assert.deepEqual(['1xx', '2xx', '3xx', '4xx', '5xx'].map((c) => byCode('shop', c)), [0, 12, 3, 9, 6]);
  assert.deepEqual(['1xx', '2xx', '3xx', '4xx', '5xx'].map((c) => byCode('blog', c)), [0, 9, 3, 0, 0]);
  for (const app of ['shop', 'blog']) {
    const sum = ['1xx', '2xx', '3xx', '4xx', '5xx'].reduce((n, c) => n + byCode(app, c), 0);
    assert.equal(sum, Number(figures.get(`${app}_requests`)), `${app}: sum over codes = stats port's requests`);
    assert.equal(sampleValue(samples, 'dragon_request_duration_seconds_count', { app }), sum);
    assert.equal(sampleValue(samples, 'dragon_queue_wait_seconds_count', { app }), sum);
    assert.equal(sampleValue(samples, 'dragon_request_errors_total', { app }), Number(figures.get(`${app}_errors`)));
    assert.equal(sampleValue(samples, 'dragon_thread_limit', { app }), Number(figures.get(`${app}_threads`)));
    assert.equal(sampleValue(samples, 'dragon_workers', { app }), Number(figures.get(`${app}_workers`)));
    const buckets = samples.filter((s) => s.name === 'dragon_request_duration_seconds_bucket' && s.labels.app === app);
    assert.equal(buckets.length, 18);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, 'cumulative');
    assert.equal(buckets.at(-1)!.labels.le, '+Inf');
    assert.equal(buckets.at(-1)!.value, sum);
  }
  assert.equal(sampleValue(samples, 'dragon_bad_requests_total', { app: 'shop' }), Number(figures.get('shop_bad_requests')));
  assert.equal(sampleValue(samples, 'dragon_bad_requests_total', { app: 'shop' }), 1);
  // Every process: two workers of shop, by slot, with the pids the stats port names; the
  // supervisor's own process metrics under prom-client's usual names.
  const pids = samples.filter((s) => s.name === 'dragon_worker_pid').map((s) => [s.labels.app, s.labels.worker, s.value]);
  assert.deepEqual(pids.map(([app, slot]) => `${app}/${slot}`).sort(), ['shop/0', 'shop/1']);
  assert.deepEqual(pids.map(([, , pid]) => String(pid)).sort(), figures.get('shop_worker_pids')!.split(' ').sort());
  for (const name of ['dragon_worker_cpu_seconds_total', 'dragon_worker_resident_memory_bytes', 'dragon_worker_open_fds']) {
    assert.ok(sampleValue(samples, name, { app: 'shop', worker: '0' }) > 0, name);
  }
  assert.ok(sampleValue(samples, 'process_resident_memory_bytes') > 0);
  assert.ok(sampleValue(samples, 'process_open_fds') > 0);
  assert.ok(samples.some((s) => s.name === 'nodejs_eventloop_lag_p99_seconds'));
});

test('OpenMetrics when the scraper asks for it through Accept', async (t) => {
  const rt = await startMetricsSupervisor(t, [inlineApp('om')]);
  await scgiRequest(rt.targets.get('om')!, { uri: '/' });
  const { status, type, body } = await get(`${rt.base}/metrics`, 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5');
  assert.equal(status, 200);
  assert.match(type, /^application\/openmetrics-text; version=1\.0\.0/);
  assert.ok(body.endsWith('# EOF\n'));
  assert.equal(body.indexOf('# EOF'), body.length - 6, 'one EOF, at the end');
  assert.match(body, /^# TYPE dragon_requests counter$/m);
  assert.match(body, /^dragon_requests_total\{app="om",code="2xx"\} 1$/m);
  assert.match(body, /^# TYPE dragon_build info$/m);
  // The classic format afterwards still names counters with _total (no renaming left behind).
  const plain = await get(`${rt.base}/metrics`);
  assert.match(plain.body, /^# TYPE dragon_requests_total counter$/m);
  assert.match(plain.body, /^# TYPE process_cpu_seconds_total counter$/m);
});

test('/healthz and /metrics answer while the only worker of an app hangs; /readyz turns 503 and names it', async (t) => {
  const rt = await startMetricsSupervisor(t, [{ name: 'stuck', count: 1, hangTimeoutMs: 60_000 }, inlineApp('fine')]);
  const ready = await get(`${rt.base}/readyz`);
  assert.equal(ready.status, 200, ready.body);
  assert.deepEqual(JSON.parse(ready.body), { status: 'ready', ready: true, reasons: [], apps: { stuck: { ready: true, readyWorkers: 1 }, fine: { ready: true, readyWorkers: null } }, store: 'off' });

  let hungEnded = false;
  const hung = sendRaw(rt.targets.get('stuck')!, encodeScgiRequest({ uri: '/hang' }), { timeoutMs: 30_000, allowReset: true })
    .catch(() => undefined)
    .finally(() => (hungEnded = true));
  t.after(() => hung);
  // Two heartbeats (1 s each) without an answer: not ready.
  const notReady = await waitUntil('/readyz 503 with the only worker hung', async () => {
    const r = await get(`${rt.base}/readyz`);
    return r.status === 503 ? r : undefined;
  });
  const reason = JSON.parse(notReady.body) as { ready: boolean; reasons: string[]; apps: Record<string, { ready: boolean }> };
  assert.equal(reason.ready, false);
  assert.deepEqual(reason.reasons, ['stuck: no ready worker (1 worker not answering heartbeats)']);
  assert.equal(reason.apps.fine?.ready, true);

  const [health, metrics] = await Promise.all([get(`${rt.base}/healthz`), get(`${rt.base}/metrics`)]);
  assert.equal(health.status, 200);
  assert.equal(JSON.parse(health.body).status, 'alive');
  assert.equal(metrics.status, 200);
  // Answered while the worker still hangs (its hangTimeout is a minute): nothing waited for it.
  assert.equal(hungEnded, false, 'the answers came only once the hung request had ended');
  // The hung worker is not waited for: its last heartbeat's figures stand.
  const samples = parseSamples(metrics.body);
  assert.equal(sampleValue(samples, 'dragon_workers', { app: 'stuck' }), 1);
  // What /readyz says, for alert rules.
  assert.equal(sampleValue(samples, 'dragon_app_ready', { app: 'stuck' }), 0);
  assert.equal(sampleValue(samples, 'dragon_app_ready', { app: 'fine' }), 1);
  assert.equal(sampleValue(samples, 'dragon_ready'), 0);
});

test('/readyz is 503 while the timing store cannot write, and names the store', async (t) => {
  const dir = await testDir(t, 'metrics-store');
  // A database inside a directory that does not exist: every open fails, and is retried.
  const store = createTimingStore({ path: join(dir, 'missing', 'x.db'), flushIntervalMs: 20, retryMaxMs: 200 });
  t.after(() => store.close());
  const rt = await startMetricsSupervisor(t, [inlineApp('rows')], { recorder: store });
  // Not ready from the start: a store that never opened is not one that writes until it fails.
  await store.started;
  await scgiRequest(rt.targets.get('rows')!, { uri: '/' });
  const r = await get(`${rt.base}/readyz`);
  assert.equal(r.status, 503);
  const body = JSON.parse(r.body) as { store: string; reasons: string[] };
  assert.equal(body.store, 'failing');
  assert.match(body.reasons[0] ?? '', /^timing store: writes failing \(open /);
  const samples = parseSamples((await get(`${rt.base}/metrics`)).body);
  assert.ok(sampleValue(samples, 'dragon_store_errors_total') >= 1);
  assert.equal(sampleValue(samples, 'dragon_store_writable'), 0);
});

test('other paths are 404 and other methods 405', async (t) => {
  const rt = await startMetricsSupervisor(t, [inlineApp('x')]);
  assert.equal((await get(`${rt.base}/`)).status, 404);
  const post = await fetch(`${rt.base}/metrics`, { method: 'POST', signal: AbortSignal.timeout(5000) });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
});

test('a worker\'s label is its slot: a crash replacement keeps it, a reload takes the next free ones', async (t) => {
  const rt = await startMetricsSupervisor(t, [{ name: 'slots', count: 2, module: WORKER_APP }]);
  const slotsAndPids = async (): Promise<Map<string, number>> => {
    const samples = parseSamples((await get(`${rt.base}/metrics`)).body).filter((s) => s.name === 'dragon_worker_pid');
    return new Map(samples.map((s) => [s.labels.worker as string, s.value]));
  };
  const before = await slotsAndPids();
  assert.deepEqual([...before.keys()].sort(), ['0', '1']);
  // One worker crashes (the kernel hands the connection to either): its slot comes back with a new pid.
  await sendRaw(rt.targets.get('slots')!, encodeScgiRequest({ uri: '/crash' }), { allowReset: true }).catch(() => undefined);
  const after = await waitUntil('the crashed slot back with a new pid', async () => {
    const now = await slotsAndPids();
    const changed = [...now].filter(([slot, pid]) => before.get(slot) !== pid);
    return now.size === 2 && changed.length === 1 ? now : undefined;
  });
  assert.deepEqual([...after.keys()].sort(), ['0', '1'], 'same slots after the restart');
  assert.equal([...after].filter(([slot, pid]) => before.get(slot) !== pid).length, 1, 'one slot has a new pid');
  assert.equal(sampleValue(parseSamples((await get(`${rt.base}/metrics`)).body), 'dragon_worker_restarts_total', { app: 'slots' }), 1);

  await rt.supervisor.reload('slots', 'test');
  // The old workers may still be listed while they drain.
  const reloaded = await waitUntil('two workers after the reload', async () => {
    const now = await slotsAndPids();
    return now.size === 2 ? now : undefined;
  });
  assert.deepEqual([...reloaded.keys()].sort(), ['2', '3'], 'the new workers took the next slots while the old ones drained');
});

test('a metrics address in use is the same start-up error as any listener, and nothing is left running', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const port = (blocker.address() as AddressInfo).port;
  const { logger } = captureLogs();
  const supervisor = new Supervisor({
    apps: [inlineApp('taken')], stats: '127.0.0.1:0', metrics: `127.0.0.1:${port}`, limits: { ...DEFAULT_LIMITS },
    drainTimeoutMs: 1000, log: { level: 'warn', format: 'json' }, store: null, dashboard: null, persistLimits: false,
  }, logger, null);
  await assert.rejects(supervisor.start(), { code: 'DOW_ERR_LISTEN', message: `cannot listen on 127.0.0.1:${port}: address already in use` });
  assert.equal(supervisor.metricsAddress, null);
  // The app's socket, opened before, was closed again.
  const appAddress = supervisor.addresses[0] as string;
  await assert.rejects(scgiRequest({ host: '127.0.0.1', port: Number(appAddress.split(':')[1]) }, { uri: '/' }), { code: 'ECONNREFUSED' });
});
