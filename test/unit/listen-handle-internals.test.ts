/**
 * Pins what the supervisor's listen-handle takes from Node's internal `net._createServerHandle`
 * (no public API binds a socket without accepting on it), so that a Node line that changes it
 * fails here, by name; `npm run test:node-lines` runs this on Node 22, 24 and 26.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { bindListeningSocket } from '../../server/supervisor/listen-handle.js';
import { isDragonError } from '../../shared/errors.js';
import { testDir } from '../helpers/temp-dir.js';

test(`net._createServerHandle exists on this Node (${process.version})`, () => {
  assert.equal(typeof (net as unknown as { _createServerHandle?: unknown })._createServerHandle, 'function');
});

test('a TCP socket bound in the supervisor reports its port and serves through a net.Server given the handle', async (t) => {
  const bound = await bindListeningSocket({ kind: 'tcp', host: '127.0.0.1', port: 0 }, 0o660);
  t.after(() => bound.close());
  assert.equal(bound.address.kind, 'tcp');
  const port = bound.address.kind === 'tcp' ? bound.address.port : 0;
  assert.ok(port > 0, 'port 0 resolved to the port the kernel chose');
  // As a worker does with its copy: listen on the handle, then accept a real connection.
  const server = net.createServer((socket) => socket.end('hello'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bound.handle, resolve);
  });
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const reply = await new Promise<string>((resolve, reject) => {
    let data = '';
    const client = net.connect(port, '127.0.0.1');
    client.setTimeout(5_000, () => client.destroy(new Error('no reply within 5 s')));
    client.on('data', (c: Buffer) => (data += c.toString()));
    client.on('end', () => resolve(data));
    client.on('error', reject);
  });
  assert.equal(reply, 'hello');
});

test('a TCP port already in use is DOW_ERR_LISTEN "address already in use", not a socket on another port', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const port = (blocker.address() as net.AddressInfo).port;
  await assert.rejects(bindListeningSocket({ kind: 'tcp', host: '127.0.0.1', port }, 0o660), (err: unknown) => {
    assert.ok(isDragonError(err, 'DOW_ERR_LISTEN'), String(err));
    assert.match(err.message, /address already in use/);
    return true;
  });
});

test('a Unix socket is created with its file, and closing the handle removes the file', async (t) => {
  const dir = await testDir(t, 'handle');
  const path = join(dir, 'app.sock');
  const bound = await bindListeningSocket({ kind: 'unix', path }, 0o660);
  assert.ok(existsSync(path));
  await bound.close();
  assert.ok(!existsSync(path), 'libuv unlinks the file of the handle that bound it');
});
