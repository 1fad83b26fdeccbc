// The metrics listener scraped by a real Prometheus (Debian's package): it starts on a free port
// with a scrape config pointing at a real Supervisor, and its HTTP API answers the docs' queries.
// Prometheus asks for OpenMetrics first in its Accept header, so the scrape reads that format;
// promtool (same package) lints our real output in the classic format and checks the alert rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getFreePort } from '../helpers/free-port.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { inlineApp, startMetricsSupervisor } from '../helpers/metrics.js';
import { waitUntil } from '../helpers/wait.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { withoutSanitizer } from '../helpers/sanitizer-env.js';

const ALERTS = fileURLToPath(new URL('../../docs/monitoring/alerts.yml', import.meta.url));
const DASHBOARD = fileURLToPath(new URL('../../docs/monitoring/grafana-dashboard.json', import.meta.url));
const GUIDE = fileURLToPath(new URL('../../docs/monitoring.md', import.meta.url));

interface VectorResult {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(base: string, promql: string): Promise<VectorResult[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: VectorResult[] } };
  assert.equal(body.status, 'success', `${promql}: ${body.error}`);
  return body.data?.result ?? [];
}

/** Polls a query until `accept` likes its result (the shared deadline); returns that result. */
function queryUntil(base: string, promql: string, accept: (r: VectorResult[]) => boolean): Promise<VectorResult[]> {
  return waitUntil(`${promql}: an acceptable result`, async () => {
    const result = await query(base, promql);
    if (!accept(result)) throw new Error(JSON.stringify(result));
    return result;
  }, { timeoutMs: 60_000, intervalMs: 250 });
}

async function startPrometheus(t: { after(fn: () => Promise<void>): void }, target: string): Promise<string> {
  const dir = await makeTempDir('prometheus');
  const port = await getFreePort();
  const config = join(dir, 'prometheus.yml');
  // The scrape config from docs/monitoring.md, with a short interval so the test is quick.
  await writeFile(config, [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: dragon',
    '    static_configs:',
    `      - targets: ['${target}']`,
    '',
  ].join('\n'));
  const child: ChildProcess = spawn('prometheus', [
    `--config.file=${config}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'], env: withoutSanitizer() });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()).length > 20_000 && (stderr = stderr.slice(-10_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
    await removeTempDir(dir);
  });
  const base = `http://127.0.0.1:${port}`;
  await waitUntil('prometheus ready', async () => {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    return (await fetch(`${base}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok;
  }, { timeoutMs: 60_000, intervalMs: 100 }).catch((err: Error) => assert.fail(`${err.message}: ${stderr}`));
  return base;
}

test('a real Prometheus scrapes /metrics: a series, rates and histogram_quantile per app', async (t) => {
  const rt = await startMetricsSupervisor(t, [{ name: 'shop', count: 2, threads: 8 }, inlineApp('blog')]);
  const shop = rt.targets.get('shop')!;
  const blog = rt.targets.get('blog')!;
  // Requests of about 20 ms before the first scrape.
  for (let round = 0; round < 5; round++) {
    await Promise.all(Array.from({ length: 8 }, () => scgiRequest(shop, { uri: '/hold?ms=20' })));
  }
  await Promise.all([scgiRequest(shop, { uri: '/status?code=404' }), scgiRequest(blog, { uri: '/?code=500' })]);
  const prom = await startPrometheus(t, rt.supervisor.metricsAddress as string);

  const up = await queryUntil(prom, 'up{job="dragon"}', (r) => r[0]?.value[1] === '1');
  assert.equal(up.length, 1);
  const twoxx = await queryUntil(prom, 'dragon_requests_total{job="dragon",app="shop",code="2xx"}', (r) => r.length === 1);
  assert.equal(twoxx[0]!.value[1], '40');
  assert.equal((await query(prom, 'dragon_requests_total{app="shop",code="4xx"}'))[0]!.value[1], '1');
  assert.equal((await query(prom, 'dragon_requests_total{app="blog",code="5xx"}'))[0]!.value[1], '1');
  // Summed over codes: the stats port's shop_requests.
  const figures = await rt.figures();
  assert.equal((await query(prom, 'sum(dragon_requests_total{app="shop"})'))[0]!.value[1], figures.get('shop_requests'));

  // Holds of 20 ms: the median lands in the bucket from 10.24 to 25.6 ms (51.2 ms on a busy
  // machine); the tail may wait for a slot, so p95 is only bounded loosely.
  const quantile = async (q: number): Promise<number> =>
    Number((await query(prom, `histogram_quantile(${q}, sum by (le) (dragon_request_duration_seconds_bucket{app="shop"}))`))[0]!.value[1]);
  const p50 = await quantile(0.5);
  assert.ok(p50 > 0.01024 && p50 <= 0.0512, `p50 of 20 ms requests: ${p50}`);
  const p95 = await quantile(0.95);
  assert.ok(p95 >= p50 && p95 <= 1.024, `p95 of 20 ms requests: ${p95}`);
  // Workers by slot, and the supervisor's own process metrics.
  const workers = await query(prom, 'dragon_worker_resident_memory_bytes{app="shop"}');
  assert.deepEqual(workers.map((r) => r.metric.worker).sort(), ['0', '1']);
  assert.equal((await query(prom, 'process_resident_memory_bytes{job="dragon"}')).length, 1);

  // The docs' rate-based queries, over traffic that keeps coming for a few scrapes.
  let sending = true;
  const traffic = (async () => {
    for (let i = 0; sending && i < 2000; i++) await scgiRequest(shop, { uri: '/hold?ms=20' });
  })();
  t.after(async () => {
    sending = false;
    await traffic;
  });
  const rate = await queryUntil(prom, 'sum by (app) (rate(dragon_requests_total{app="shop"}[15s]))', (r) => Number(r[0]?.value[1]) > 1);
  assert.equal(rate[0]!.metric.app, 'shop');
  const p99 = await queryUntil(prom, 'histogram_quantile(0.99, sum by (app, le) (rate(dragon_request_duration_seconds_bucket[15s])))', (r) => r.some((x) => x.metric.app === 'shop' && Number(x.value[1]) > 0));
  const shopP99 = Number(p99.find((x) => x.metric.app === 'shop')!.value[1]);
  assert.ok(shopP99 > 0.01024 && shopP99 < 1.024, `p99 of 20 ms requests: ${shopP99}`);
  const saturation = await query(prom, 'dragon_in_flight_requests{app="shop"} / dragon_thread_limit{app="shop"}');
  assert.ok(Number(saturation[0]!.value[1]) >= 0 && Number(saturation[0]!.value[1]) <= 1);

  // Every PromQL block of docs/monitoring.md (over 15 s windows) and every query of the Grafana
  // dashboard (variables set to .*) is valid and finds shop's series.
  const guide = await readFile(GUIDE, 'utf8');
  const fromGuide = [...guide.matchAll(/```promql\n([\s\S]*?)```/g)].map((m) => m[1]!.replaceAll('[5m]', '[15s]'));
  assert.ok(fromGuide.length >= 8, `${fromGuide.length} PromQL blocks in the guide`);
  const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
  const fromDashboard = dashboard.panels.flatMap((p) => p.targets.map((x) => x.expr.replaceAll('$instance', '.*').replaceAll('$app', '.*').replaceAll('$__rate_interval', '15s')));
  assert.ok(fromDashboard.length >= 13);
  for (const promql of [...fromGuide, ...fromDashboard]) {
    const result = await query(prom, promql);
    if (/store|hangs|restarts|rejected|code="5xx"/.test(promql)) continue;
    assert.ok(result.length > 0, `no series for ${promql}`);
  }
  sending = false;
  await traffic;
});

test('promtool check metrics passes on our real output (Prometheus text format)', async (t) => {
  const rt = await startMetricsSupervisor(t, [{ name: 'shop', count: 1 }, inlineApp('blog')]);
  await scgiRequest(rt.targets.get('shop')!, { uri: '/status?code=503' });
  await scgiRequest(rt.targets.get('blog')!, { uri: '/' });
  const body = await (await fetch(`${rt.base}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  assert.match(body, /^dragon_request_duration_seconds_bucket\{app="shop",le="0.00512"\} /m);
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8', timeout: 30_000 });
  assert.equal(lint.status, 0, `promtool: ${lint.stdout}${lint.stderr}`);
});

test('the alert rules in docs/monitoring/alerts.yml pass promtool check rules, and fire as their unit tests expect', () => {
  const check = spawnSync('promtool', ['check', 'rules', ALERTS], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
  assert.match(check.stdout, /SUCCESS: \d+ rules found/);
  const unit = spawnSync('promtool', ['test', 'rules', ALERTS.replace(/alerts\.yml$/, 'alerts.test.yml')], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(unit.status, 0, `promtool test rules: ${unit.stdout}${unit.stderr}`);
});
