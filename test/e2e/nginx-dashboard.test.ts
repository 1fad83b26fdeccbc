/**
 * The admin dashboard behind a real nginx with TLS, configured by the `nginx title=dashboard-tls`
 * block of docs/frontends.md (the bug: every request was a 421 behind the proxy, or a
 * limit change a 403). Chromium logs in and changes a limit through nginx; wrong tokens from one
 * client address, seen through X-Forwarded-For, do not lock out another.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { request } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { chromium } from 'playwright-core';
import { startDashboard } from '../../dashboard/index.js';
import { CHROMIUM_PATH, setThreadsByKeyboard } from '../browser/dashboard-fixture.js';
import { createFakeRuntime } from '../browser/fake-runtime.js';
import { testDir } from '../helpers/temp-dir.js';
import { docTemplate } from '../helpers/frontends/doc-configs.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { withoutSanitizer } from '../helpers/sanitizer-env.js';

const TOKEN = 'nginx-dashboard-Zk3v9QpL2mX8rT4wB6yN1cJ5';
const NAME = 'dash.test';

/** GET through nginx over TLS from a chosen loopback address (Linux routes all of 127/8 to lo). */
function httpsGet(port: number, path: string, headers: Record<string, string>, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, servername: NAME, rejectUnauthorized: false, localAddress, headers: { host: `${NAME}:${port}`, ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

test('the dashboard behind nginx with TLS: login, a limit change, the live stream, per-client throttling', async (t) => {
  const dir = await testDir(t, 'nginx-dash');
  const [certificate, key] = [join(dir, 'dash.pem'), join(dir, 'dash.key')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${NAME}`, '-addext', `subjectAltName=DNS:${NAME}`, '-keyout', key, '-out', certificate], { stdio: 'ignore' });

  const runtime = createFakeRuntime();
  const dashboard = await startDashboard({
    listen: '127.0.0.1:0',
    token: TOKEN,
    control: runtime,
    history: null,
    log: pino({ level: process.env.DOW_TEST_LOG ?? 'silent' }),
    allowedHosts: [NAME],
    trustedProxies: ['127.0.0.1'],
  });
  t.after(() => dashboard.close());
  const nginx = await startNginx({
    config: docTemplate('nginx', 'dashboard-tls'),
    values: { server_name: NAME, certificate, certificate_key: key, dashboard: dashboard.address },
  });
  t.after(() => nginx.stop());
  const base = `https://${NAME}:${nginx.port}`;

  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    env: withoutSanitizer(),
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', `--host-resolver-rules=MAP ${NAME} 127.0.0.1`],
  });
  t.after(() => browser.close());
  const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(msg.text());
  });

  const landed = await page.goto(`${base}/login?token=${TOKEN}`);
  assert.equal(landed?.status(), 200, 'the login redirected to the page, not a 421');
  assert.equal(page.url(), `${base}/`);
  const [cookie] = await page.context().cookies(base);
  assert.equal(cookie?.name, 'dow_session');
  assert.equal(cookie?.secure, true, 'behind TLS (X-Forwarded-Proto https from a trusted proxy) the cookie is Secure');
  await page.waitForSelector('article.app[data-app="shop"]');
  // proxy_buffering off: the event stream reaches the page as it is written.
  await page.waitForFunction(() => (globalThis as unknown as { document: { getElementById(id: string): { textContent: string | null } | null } }).document.getElementById('live-state')?.textContent === 'live', undefined, { timeout: 10_000 });

  const message = await setThreadsByKeyboard(page, 'shop', '9');
  assert.match(message, /Applied: 4 → 9/, 'the Origin https://dash.test:<port> is this dashboard (no 403)');
  assert.deepEqual(runtime.calls, [{ app: 'shop', threads: 9, source: 'dashboard 127.0.0.1' }]);
  assert.deepEqual(problems, []);

  // Wrong tokens from 127.0.0.2 throttle that address only: the dashboard sees the client in
  // X-Forwarded-For, not nginx's 127.0.0.1 for everyone.
  const statuses: number[] = [];
  for (let i = 0; i < 11; i += 1) statuses.push(await httpsGet(nginx.port, '/api/overview', { authorization: `Bearer wrong-${i}` }, '127.0.0.2'));
  assert.deepEqual(statuses, [...Array<number>(10).fill(401), 429]);
  assert.equal(await httpsGet(nginx.port, '/api/overview', { authorization: `Bearer ${TOKEN}` }, '127.0.0.3'), 200, 'another client is not locked out');
  // A Host that is neither loopback nor allowed is still refused through the proxy.
  const foreign = await new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: nginx.port, path: '/api/overview', servername: NAME, rejectUnauthorized: false, headers: { host: 'evil.example', authorization: `Bearer ${TOKEN}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(foreign, 421);
});

/** A request through nginx over TLS; resolves with the status, headers and body. */
function viaNginx(port: number, options: { method: string; path: string; headers: Record<string, string>; body?: string }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: options.method, path: options.path, servername: NAME, rejectUnauthorized: false, headers: { host: `${NAME}:${port}`, ...options.headers } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end(options.body);
  });
}

test('behind nginx that leaves Host as the upstream address, a page change is not refused for its Origin', async (t) => {
  const dir = await testDir(t, 'nginx-dash-host');
  const [certificate, key] = [join(dir, 'dash.pem'), join(dir, 'dash.key')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${NAME}`, '-keyout', key, '-out', certificate], { stdio: 'ignore' });
  const runtime = createFakeRuntime();
  const dashboard = await startDashboard({ listen: '127.0.0.1:0', token: TOKEN, control: runtime, history: null, log: pino({ level: 'silent' }), allowedHosts: [NAME] });
  t.after(() => dashboard.close());
  // The recipe without its Host line: nginx then sends `Host: 127.0.0.1:<dashboard port>`.
  const recipe = docTemplate('nginx', 'dashboard-tls');
  const config = recipe.replace(/^\s*proxy_set_header Host \$http_host;\n/m, '');
  assert.notEqual(config, recipe);
  const nginx = await startNginx({ config, values: { server_name: NAME, certificate, certificate_key: key, dashboard: dashboard.address } });
  t.after(() => nginx.stop());

  const login = await viaNginx(nginx.port, { method: 'GET', path: `/login?token=${TOKEN}`, headers: {} });
  assert.equal(login.status, 303);
  const cookie = String(login.headers['set-cookie']).split(';')[0] ?? '';
  const change = await viaNginx(nginx.port, {
    method: 'PUT',
    path: '/api/apps/shop/threads',
    headers: { cookie, origin: `https://${NAME}:${nginx.port}`, 'content-type': 'application/json' },
    body: JSON.stringify({ threads: 7 }),
  });
  assert.equal(change.status, 200, change.body);
  assert.equal(runtime.apps[0]?.threads, 7);
  const foreign = await viaNginx(nginx.port, {
    method: 'PUT',
    path: '/api/apps/shop/threads',
    headers: { cookie, origin: 'https://evil.example', 'content-type': 'application/json' },
    body: JSON.stringify({ threads: 3 }),
  });
  assert.equal(foreign.status, 403, 'another Origin is still refused');
});
