/**
 * A real nginx location with `scgi_pass` but no `include scgi_params;`: nginx
 * then sends only CONTENT_LENGTH and the HTTP_* headers, not even SCGI=1. The 400 and the log
 * line name the missing include; the same location with the include is served.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startNginx } from '../helpers/frontends/nginx.js';
import { startRuntime } from '../helpers/runtime.js';
import { waitUntil } from '../helpers/wait.js';

const location = (port: number, include: boolean): string => `server {
    listen {{listen}};
    location / {
        ${include ? 'include scgi_params;' : '# no include scgi_params'}
        scgi_pass 127.0.0.1:${port};
    }
}`;

test('nginx without include scgi_params: the 400 and the log name the missing include; with it, served', async (t) => {
  const rt = await startRuntime(t, [{ name: 'shop', node: (req, res) => res.end(`${req.method} ${req.url}`) }]);
  const port = (rt.targets.get('shop') as { port: number }).port;

  const bare = await startNginx({ config: location(port, false), values: {} });
  t.after(() => bare.stop());
  const res = await fetch(`${bare.url}/cart?id=7`, { method: 'POST', body: 'x' });
  assert.equal(res.status, 400);
  assert.match(await res.text(), /`include scgi_params;` missing from the nginx location/);
  await waitUntil('DOW_ERR_SCGI_MISSING logged', () => rt.logs.some((l) => l.code === 'DOW_ERR_SCGI_MISSING'));
  assert.match(String(rt.logs.find((l) => l.code === 'DOW_ERR_SCGI_MISSING')?.msg), /header SCGI with value "1" is missing \(absent, and so is REQUEST_METHOD: is `include scgi_params;` missing from the nginx location\?\)/);

  const before = rt.logs.length;
  const full = await startNginx({ config: location(port, true), values: {} });
  t.after(() => full.stop());
  const ok = await fetch(`${full.url}/cart?id=7`, { method: 'POST', body: 'x' });
  assert.equal(await ok.text(), 'POST /cart?id=7');
  assert.equal(rt.logs.slice(before).some((l) => l.level === 40), false, 'no warning');
});
