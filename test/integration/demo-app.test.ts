/**
 * The demo app, as the original's: a text/plain page with the welcome banner, the version, the
 * request environment sorted by name (`KEY = value`) and the time; and the demo's settings: the
 * original's names, ports and thread limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoSettings } from '../../bin/demo-settings.js';
import { createDemoApp } from '../../server/host/demo-app.js';
import { VERSION } from '../../server/core/version.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { startRuntime } from '../helpers/runtime.js';

test('the demo app prints the banner, version, sorted environment and time', async (t) => {
  const rt = await startRuntime(t, [{ name: 'Server_on_port_9002', node: createDemoApp('Server_on_port_9002') }]);
  const res = await scgiRequest(rt.targets.get('Server_on_port_9002')!, { uri: '/a?b=1', headers: { 'X-Zeta': 'z', Accept: 'x' } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.headers.get('content-type'), ['text/plain; charset=utf-8']);
  const lines = res.body.toString().split('\n');
  assert.match(lines[0]!, /^Welcome to Dragon on wheels! \(Server_on_port_9002\)$/);
  assert.equal(lines[1], `Version: ${VERSION}`);
  const envLines = lines.filter((line) => / = /.test(line));
  const keys = envLines.map((line) => line.split(' = ')[0]);
  assert.deepEqual(keys, [...keys].sort());
  assert.ok(envLines.includes('REQUEST_URI = /a?b=1'));
  assert.ok(envLines.includes('HTTP_X_ZETA = z'));
  assert.match(res.body.toString(), /\nTime: .+\d{4}/);
});

test('the demo app over HTTP shows the CGI-style environment an SCGI front end would have sent', async (t) => {
  const rt = await startRuntime(t, [{ name: 'Http_on_port_9005', protocol: 'http', node: createDemoApp('Http_on_port_9005') }]);
  const { port } = rt.targets.get('Http_on_port_9005') as { port: number };
  const response = await fetch(`http://127.0.0.1:${port}/a?b=1`, { headers: { 'X-Zeta': 'z' } });
  assert.equal(response.status, 200);
  const body = await response.text();
  assert.match(body, /^Welcome to Dragon on wheels! \(Http_on_port_9005\)\n/);
  for (const line of ['REQUEST_URI = /a?b=1', 'REQUEST_METHOD = GET', 'HTTP_X_ZETA = z', 'REMOTE_ADDR = 127.0.0.1', 'SERVER_PROTOCOL = HTTP/1.1']) assert.ok(body.includes(`\n${line}\n`), line);
});

test('demo settings: the original names, ports and limits, plus store and dashboard defaults', () => {
  const settings = demoSettings('/tmp/demo-cwd');
  assert.deepEqual(settings.apps.map((app) => [app.options.name, app.listen, app.options.threads]), [
    ['Server_on_port_9002', '127.0.0.1:9002', 10],
    ['Server_on_port_9003', '127.0.0.1:9003', 2],
    ['Http_on_port_9005', '127.0.0.1:9005', 10],
  ]);
  assert.deepEqual(settings.apps.map((app) => app.options.protocol ?? 'scgi'), ['scgi', 'scgi', 'http']);
  assert.equal(settings.stats, '127.0.0.1:9004');
  assert.equal(settings.store?.path, '/tmp/demo-cwd/dragon-on-wheels.db');
  assert.equal(settings.dashboard?.listen, '127.0.0.1:9100');
});
