// Socket activation's variables (sd_listen_fds(3)): read only when LISTEN_PID is ours, removed
// from the environment either way, and a missing name says which names were passed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listenFd, takeListenFds, useListenFds } from '../../server/systemd/listen-fds.js';
import { createServer, type AddressInfo } from 'node:net';
import { parseListenAddress } from '../../shared/listen-address.js';
import { spawn } from 'node:child_process';
import { settingsFromConfig } from '../../server/config/config.js';

test('LISTEN_FDS/LISTEN_FDNAMES map names to fds from 3; the variables are removed', () => {
  const env: NodeJS.ProcessEnv = { LISTEN_PID: '42', LISTEN_FDS: '3', LISTEN_FDNAMES: 'shop:blog:shop', OTHER: 'x' };
  assert.deepEqual([...takeListenFds(env, 42)], [['shop', 3], ['blog', 4]]);
  assert.deepEqual(env, { OTHER: 'x' });
  // Without names, systemd calls every socket "unknown".
  assert.deepEqual([...takeListenFds({ LISTEN_PID: '42', LISTEN_FDS: '1' }, 42)], [['unknown', 3]]);
});

test('LISTEN_* meant for another process (LISTEN_PID not ours) are ignored, and still removed', () => {
  const env: NodeJS.ProcessEnv = { LISTEN_PID: '41', LISTEN_FDS: '1', LISTEN_FDNAMES: 'shop' };
  assert.equal(takeListenFds(env, 42).size, 0);
  assert.deepEqual(env, {});
  assert.equal(takeListenFds({ LISTEN_FDS: '1' }, 42).size, 0);
  assert.equal(takeListenFds({ LISTEN_PID: '42', LISTEN_FDS: 'two' }, 42).size, 0);
});

test('a name that was not passed: DOW_ERR_LISTEN naming the passed names, or saying none were', (t) => {
  t.after(() => useListenFds(new Map()));
  useListenFds(new Map());
  assert.throws(() => listenFd('shop'), { code: 'DOW_ERR_LISTEN', message: /systemd:shop: no sockets were passed \(LISTEN_FDS for this process is unset/ });
  useListenFds(new Map([['blog', 3], ['api', 4]]));
  assert.equal(listenFd('api'), 4);
  assert.throws(() => listenFd('shop'), { code: 'DOW_ERR_LISTEN', message: /systemd:shop: no socket of that name was passed \(names passed: blog, api;/ });
});

test('systemd:<name> parses; names with ":" or control characters do not, and the config says what listen takes', async () => {
  assert.deepEqual(parseListenAddress('systemd:shop'), { kind: 'systemd', name: 'shop' });
  assert.throws(() => parseListenAddress('systemd:'), { code: 'DOW_ERR_ADDRESS' });
  assert.throws(() => parseListenAddress('systemd:a b'), { code: 'DOW_ERR_ADDRESS' });
  await assert.rejects(settingsFromConfig({ apps: [{ name: 'a', listen: 'systemd:a:b', module: 'x.mjs' }] }, '/'),
    { code: 'DOW_ERR_CONFIG', message: /apps\[0\]\.listen: must be host:port or unix:\/path\.sock \(for example "127\.0\.0\.1:9002"\) or systemd:<name>/ });
});

test('a passed TCP socket is wrapped by its fd, and its port is known (hung workers\' connections are counted by it)', async (t) => {
  // As systemd does: a listening socket as fd 3 of a new process (the fd already lives in this
  // process's event loop, where libuv would refuse a second handle for it).
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address() as AddressInfo;
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  const script = `
    import { useListenFds } from ${JSON.stringify(new URL('../../server/systemd/listen-fds.ts', import.meta.url).href)};
    import { bindListeningSocket } from ${JSON.stringify(new URL('../../server/supervisor/listen-handle.ts', import.meta.url).href)};
    useListenFds(new Map([['shop', 3]]));
    const bound = await bindListeningSocket({ kind: 'systemd', name: 'shop' }, 0o660);
    process.stdout.write(JSON.stringify({ address: bound.address, local: bound.local }));
    await bound.close();`;
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit', fd] });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 0);
  assert.deepEqual(JSON.parse(out), { address: { kind: 'systemd', name: 'shop' }, local: { port } });
});
