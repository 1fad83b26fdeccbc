/**
 * What a front end forwards is checked as an HTTP parser would check it, on both SCGI I/O paths,
 * and HTTP listeners build `req.scgi.env` as the SCGI path does.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { test } from 'node:test';
import { loadNative } from '../../server/native/native-binding.js';
import { RawHttpConnection } from '../helpers/http-client.js';
import { startRuntime } from '../helpers/runtime.js';
import { encodeNetstringEnv, parseScgiResponse, sendRaw, type Target } from '../helpers/scgi-client.js';
import { waitUntil } from '../helpers/wait.js';

const native = loadNative();
const paths = native.binding === null ? (['node'] as const) : (['native', 'node'] as const);

function echo(req: IncomingMessage, res: ServerResponse): void {
  res.end(JSON.stringify({ method: req.method, headers: req.headers }));
}

const HEAD = { CONTENT_LENGTH: '0', SCGI: '1', REQUEST_URI: '/', SERVER_PROTOCOL: 'HTTP/1.1' };

for (const io of paths) {
  test(`io ${io}: CR/LF in REQUEST_METHOD or an HTTP_* name is refused with 400 and never reaches the app`, async (t) => {
    let calls = 0;
    const rt = await startRuntime(t, [{ name: 'app', io, node: (req, res) => { calls++; echo(req, res); } }]);
    const target = rt.targets.get('app') as Target;
    const bad: Array<Record<string, string>> = [
      { ...HEAD, REQUEST_METHOD: 'GET\r\nX-Injected: 1' },
      { ...HEAD, REQUEST_METHOD: 'GET', 'HTTP_X_A\r\nX_INJECTED': '1' },
      { ...HEAD, REQUEST_METHOD: 'GET', 'HTTP_X A': '1' },
      { ...HEAD, REQUEST_METHOD: 'GE T' },
    ];
    // Twice each: a refused name must not be remembered as a known one (header-block's name cache).
    for (const env of [...bad, ...bad]) {
      const response = parseScgiResponse(await sendRaw(target, encodeNetstringEnv(env)));
      assert.equal(response.status, 400, JSON.stringify(env));
      assert.match(response.body.toString(), /^the request is not valid HTTP: .* is not an HTTP token/);
    }
    assert.equal(calls, 0);
    await waitUntil('bad requests counted', () => rt.figures().get('app_bad_requests') === String(bad.length * 2));
    assert.ok(rt.logs.some((l) => l.code === 'DOW_ERR_REQUEST_INVALID'), 'logged with its code');

    // Valid tokens, the unusual characters included, still pass.
    const good = parseScgiResponse(await sendRaw(target, encodeNetstringEnv({ ...HEAD, REQUEST_METHOD: 'M-SEARCH', "HTTP_X_ODD!#$%&'*+.^`|~": 'v' })));
    assert.equal(good.status, 200);
    const seen = JSON.parse(good.body.toString()) as { method: string; headers: Record<string, string> };
    assert.equal(seen.method, 'M-SEARCH');
    assert.equal(seen.headers["x-odd!#$%&'*+.^`|~"], 'v');
  });
}

test('an HTTP listener joins repeated Cookie headers with "; " in HTTP_COOKIE, as the SCGI path and Node do', async (t) => {
  const rt = await startRuntime(t, [{
    name: 'web', protocol: 'http',
    node: (req, res) => res.end(JSON.stringify({ env: req.scgi?.env.HTTP_COOKIE, node: req.headers.cookie, accept: req.scgi?.env.HTTP_ACCEPT })),
  }]);
  const conn = new RawHttpConnection((rt.targets.get('web') as { port: number }).port);
  await conn.opened;
  t.after(() => conn.destroy());
  conn.send('GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nAccept: text/html\r\nCookie: b=2\r\nAccept: */*\r\n\r\n');
  assert.deepEqual(JSON.parse((await conn.read()).body), { env: 'a=1; b=2', node: 'a=1; b=2', accept: 'text/html, */*' });
});
