/**
 * Regression (found by hand with curl): nginx 1.22, Debian's, forwards every repeated request
 * header as its own HTTP_* pair, so a strict "no duplicate names" parser answered 400 to a client
 * that sent two X-Forwarded-For lines. And the duplicate-host block of docs/frontends.md (quirk 2)
 * sends HTTP_HOST twice. The app must see joined values and the later host.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { docTemplate } from '../helpers/frontends/doc-configs.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { httpGet, type HttpReply } from '../helpers/http-get.js';
import { startRuntime } from '../helpers/runtime.js';

// A flat raw header list keeps the repeated lines apart on the wire.
const get = (port: number, path: string, headers: Array<[string, string]>): Promise<HttpReply> =>
  httpGet(`http://127.0.0.1:${port}${path}`, { headers: [['Host', `127.0.0.1:${port}`], ...headers].flat() });

test('repeated request headers through nginx reach the app joined; the later HTTP_HOST wins', async (t) => {
  const rt = await startRuntime(t, [{
    name: 'echo',
    node: (req, res) => res.end(JSON.stringify({ headers: req.headers, host: req.scgi?.env.HTTP_HOST })),
  }]);
  const backend = rt.targets.get('echo') as { host: string; port: number };
  const nginx = await startNginx({ config: docTemplate('nginx', 'duplicate-host'), values: { host: backend.host, port: String(backend.port) } });
  t.after(() => nginx.stop());
  const res = await get(nginx.port, '/app/x', [['X-Forwarded-For', '198.51.100.1'], ['X-Forwarded-For', '198.51.100.2'], ['Cookie', 'a=1'], ['Cookie', 'b=2'], ['Accept', 'text/html'], ['Accept', 'text/plain']]);
  assert.equal(res.status, 200, res.body);
  const seen = JSON.parse(res.body) as { headers: Record<string, string>; host: string };
  assert.equal(seen.headers['x-forwarded-for'], '198.51.100.1, 198.51.100.2');
  assert.equal(seen.headers.cookie, 'a=1; b=2');
  assert.equal(seen.headers.accept, 'text/html, text/plain');
  assert.equal(seen.host, `127.0.0.1:${nginx.port}`, 'the second scgi_param HTTP_HOST ($http_host, with the port) wins');
  assert.equal(rt.figures().get('echo_bad_requests'), '0');
});
