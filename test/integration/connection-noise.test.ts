/**
 * Log noise that hides real errors: a connection that sends nothing is not a bad request, and a
 * refusal says what it got.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadNative } from '../../server/native/native-binding.js';
import { startRuntime } from '../helpers/runtime.js';
import { parseScgiResponse, scgiRequest, sendRaw, type Target } from '../helpers/scgi-client.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';

const native = loadNative();
const paths = native.binding === null ? (['node'] as const) : (['native', 'node'] as const);

function connectAndClose(target: Target): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = 'path' in target ? connect(target.path) : connect(target.port, target.host ?? '127.0.0.1');
    socket.on('error', reject);
    socket.on('connect', () => socket.end());
    socket.on('close', () => resolve());
  });
}

for (const io of paths) {
  test(`io ${io}: a connection closed before its first byte (a health check, a probe of a live socket) is no bad request and no WARN`, async (t) => {
    const dir = await testDir(t, 'noise');
    const rt = await startRuntime(t, [{ name: 'app', io, listen: `unix:${join(dir, 'app.sock')}`, node: (_req, res) => res.end('ok') }]);
    const target = rt.targets.get('app') as Target;
    for (let i = 0; i < 3; i++) await connectAndClose(target);
    await waitUntil('each empty connection seen', () => rt.logs.filter((l) => /closed without sending a request/.test(String(l.msg))).length === 3);
    assert.equal((await scgiRequest(target)).status, 200);
    assert.equal(rt.figures().get('app_bad_requests'), '0');
    assert.deepEqual(rt.logs.filter((l) => (l.level as number) >= 40).map((l) => l.msg), []);

    // A head that stops halfway is still a bad request. (The native core keeps a partial head in
    // C and reports only the EOF, so there it cannot be told from an empty connection.)
    if (io === 'node') {
      await sendRaw(target, Buffer.from('70:CONTENT_LENGTH'), { halfClose: true });
      await waitUntil('the cut head counted', () => rt.figures().get('app_bad_requests') === '1');
    }
  });

  test(`io ${io}: a length prefix over the limit says what it got, not "NaN bytes"`, async (t) => {
    const rt = await startRuntime(t, [{ name: 'app', io, node: (_req, res) => res.end('ok') }]);
    const response = parseScgiResponse(await sendRaw(rt.targets.get('app') as Target, Buffer.from('99999999:')));
    assert.equal(response.status, 431);
    assert.equal(response.body.toString(), 'header block of at least 999999 bytes exceeds the limit of 65536\n');
  });
}
