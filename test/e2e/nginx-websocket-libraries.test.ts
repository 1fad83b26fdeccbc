/**
 * The WebSocket library fixtures of docs/websockets.md (ws in both modes, socket.io,
 * @fastify/websocket, @hono/node-ws), unchanged, each an app with two workers under a mount, served
 * by the real command line behind a real nginx with the docs/frontends.md `websocket` block: the
 * libraries' own clients talk both ways through nginx, a plain request is answered beside the open
 * socket with one thread per worker (threads: 2), and `<app>_websockets` goes up and back down.
 * Then a reload: `ws`'s client sees 1012, socket.io's reconnects by itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { getFreePorts } from '../helpers/free-port.js';
import { testDir } from '../helpers/temp-dir.js';
import { docTemplate } from '../helpers/frontends/doc-configs.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { withFrontendLogs, type FrontendHandle } from '../helpers/frontends/process.js';
import { serveConfig } from '../helpers/cli-process.js';
import { readFigures, waitForFigure } from '../helpers/stats.js';
import { chat, checkWsEcho, ioConnect, plainAnswered, websocketFixture } from '../helpers/ws-libraries.js';

/** App name, fixture, and the path its WebSocket listens on (socket.io: its own client). */
const APPS = [
  ['wsnoserver', 'ws-noserver.mjs', '/chat'],
  ['wsserver', 'ws-server.mjs', '/'],
  ['fastify', 'fastify-websocket.mjs', '/ws'],
  ['hono', 'hono-node-ws.mjs', '/ws'],
  ['socketio', 'socket-io.mjs', ''],
] as const;
/** How long a replaced worker keeps its WebSockets (else a reload waits drainTimeout for them). */
const DRAIN_MS = 1000;

test('each WebSocket library, unchanged, through nginx with two workers per app', { timeout: 600_000 }, async (t) => {
  const dir = await testDir(t, 'nginx-websocket-libraries');
  const [statsPort = 0, ...ports] = await getFreePorts(APPS.length + 1);
  const server = await serveConfig(t, dir, {
    stats: `127.0.0.1:${statsPort}`,
    apps: APPS.map(([name, file], i) => ({
      name, listen: `127.0.0.1:${ports[i]}`, module: websocketFixture(file), protocol: 'http', mount: '/app', workers: 2, threads: 2, upgradeDrainTimeout: DRAIN_MS,
    })),
    store: false,
    dashboard: false,
  });
  await server.waitFor(/UP on .*\(stats\)/, 120_000);
  const fronts = new Map<string, FrontendHandle>();
  for (const [i, [name, , path]] of APPS.entries()) {
    const nginx = await startNginx({ config: docTemplate('nginx', 'websocket'), values: { host: '127.0.0.1', port: ports[i] as number } });
    t.after(() => nginx.stop());
    fronts.set(name, nginx);
    const served = { url: `${nginx.url}/app`, statsPort, app: name };
    await withFrontendLogs([nginx], async () => {
      if (name !== 'socketio') return checkWsEcho(served, path);
      // Two workers: socket.io's clients skip polling (docs/websockets.md).
      const sockets = [];
      for (let n = 0; n < 4; n++) sockets.push(await ioConnect(nginx.url, { path: '/app/socket.io/', transports: ['websocket'] }));
      await waitForFigure(statsPort, 'socketio_websockets', '4');
      for (const [n, socket] of sockets.entries()) await chat(socket, `from ${n}`);
      await plainAnswered(served.url);
      for (const socket of sockets) socket.disconnect();
      await waitForFigure(statsPort, 'socketio_websockets', '0');
    });
    assert.doesNotMatch(await nginx.readLogs(), /\[error\]/, name);
  }

  // A reload: the old workers close their WebSockets with 1012 after the drain, and socket.io's
  // client reconnects by itself, to a new worker.
  const wsFront = fronts.get('wsnoserver') as FrontendHandle;
  const ioFront = fronts.get('socketio') as FrontendHandle;
  const client = new WebSocket(`${wsFront.url.replace(/^http/, 'ws')}/app/chat`);
  await once(client, 'open');
  const closed = once(client, 'close');
  const socket = await ioConnect(ioFront.url, { path: '/app/socket.io/', transports: ['websocket'], reconnection: true });
  t.after(() => socket.disconnect());
  const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));
  const reconnected = disconnected.then(() => new Promise<void>((resolve) => socket.once('connect', resolve)));
  server.child.kill('SIGHUP');
  await server.waitFor(/socketio: reloaded \(SIGHUP\)/, 120_000);
  const [code] = (await closed) as [number];
  assert.equal(code, 1012);
  assert.equal(await disconnected, 'transport close');
  await reconnected;
  await chat(socket, 'after the reload');
  socket.disconnect();
  await waitForFigure(statsPort, 'socketio_websockets', '0');
  assert.equal((await readFigures(statsPort)).get('socketio_websockets_closed'), '1');

  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0, server.output());
});
