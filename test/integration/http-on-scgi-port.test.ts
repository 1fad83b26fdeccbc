/**
 * A newcomer's first move: `curl http://127.0.0.1:9002/` on an SCGI port was
 * logged as "bad netstring length: byte 0x47" and answered with a CGI head curl refuses. Now an
 * HTTP 400 the client can read, and a log line saying what happened; and a front end that sends
 * no CGI variables (nginx without `include scgi_params;`) gets a hint naming it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpGet } from '../helpers/http-get.js';
import { encodeNetstringEnv, scgiRequest, sendRaw } from '../helpers/scgi-client.js';
import { startRuntime } from '../helpers/runtime.js';
import { waitUntil } from '../helpers/wait.js';

test('an HTTP request on an SCGI port gets an HTTP 400 that says so, and a log line naming the request line', async (t) => {
  const rt = await startRuntime(t, [{ name: 'shop', node: (_req, res) => res.end('app') }]);
  const target = rt.targets.get('shop') as { port: number };
  const res = await httpGet(`http://127.0.0.1:${target.port}/hello`, { timeoutMs: 5000 });
  assert.equal(res.status, 400);
  assert.match(res.body, /an HTTP request \("GET \/hello HTTP\/1\.1"\) arrived on an SCGI port/);
  assert.match(res.body, /point the browser or curl at the front end/);
  await waitUntil('DOW_ERR_HTTP_ON_SCGI_PORT logged', () => rt.logs.some((l) => l.code === 'DOW_ERR_HTTP_ON_SCGI_PORT'));
  const line = rt.logs.find((l) => l.code === 'DOW_ERR_HTTP_ON_SCGI_PORT') as { msg: string };
  assert.match(line.msg, /GET \/hello HTTP\/1\.1/);
  assert.doesNotMatch(line.msg, /netstring/);
  // The port still serves SCGI.
  assert.equal((await scgiRequest(target, { uri: '/' })).status, 200);
});

test('a front end that sends no REQUEST_METHOD or REQUEST_URI gets a hint to include scgi_params', async (t) => {
  const rt = await startRuntime(t, [{ name: 'shop', node: (_req, res) => res.end('app') }]);
  const target = rt.targets.get('shop') as { port: number };
  // What nginx sends from a location with scgi_pass but no `include scgi_params;`.
  const raw = await sendRaw(target, encodeNetstringEnv({ CONTENT_LENGTH: '0', SCGI: '1', HTTP_HOST: 'example.org', HTTP_USER_AGENT: 'curl/8' }));
  assert.match(raw.toString('latin1'), /^Status: 200/);
  await waitUntil('DOW_NO_CGI_VARIABLES logged', () => rt.logs.some((l) => l.code === 'DOW_NO_CGI_VARIABLES'));
  const line = rt.logs.find((l) => l.code === 'DOW_NO_CGI_VARIABLES') as { msg: string; level: number };
  assert.match(line.msg, /no REQUEST_METHOD or REQUEST_URI .*`include scgi_params;` missing from the nginx location/);
});
