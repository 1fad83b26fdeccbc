/**
 * @module ws-libraries
 * The checks the WebSocket library fixtures (test/fixtures/websockets, the code blocks of
 * docs/websockets.md) pass wherever they are served, with the libraries' own clients: messages
 * both ways, a plain request answered beside the open socket, `<app>_websockets` on the stats port
 * up while it is open and down at its close.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { io, type Socket as IoClient } from 'socket.io-client';
import { httpGet } from './http-get.js';
import { waitForFigure } from './stats.js';
import { waitUntil } from './wait.js';

export const websocketFixture = (name: string): string => fileURLToPath(new URL(`../fixtures/websockets/${name}`, import.meta.url));

/** Where a fixture is served: its base URL (the mount included, if any) and its figures. */
export interface ServedFixture {
  url: string;
  statsPort: number;
  app: string;
}

/** Every fixture answers `hello` at its root. */
export async function plainAnswered(url: string): Promise<void> {
  const reply = await httpGet(`${url}/`);
  assert.equal(reply.status, 200);
  assert.equal(reply.body, 'hello');
}

/** A `ws` client on `path`: echo both ways, a plain request beside it, the figure up then down at close. */
export async function checkWsEcho(served: ServedFixture, path: string): Promise<void> {
  const client = new WebSocket(`${served.url.replace(/^http/, 'ws')}${path}`);
  await once(client, 'open');
  await waitForFigure(served.statsPort, `${served.app}_websockets`, '1');
  for (const text of ['one', 'two', 'é three']) {
    client.send(text);
    const [data] = (await once(client, 'message')) as [Buffer];
    assert.equal(data.toString(), text);
  }
  await plainAnswered(served.url);
  client.close(1000);
  const [code] = (await once(client, 'close')) as [number];
  assert.equal(code, 1000);
  await waitForFigure(served.statsPort, `${served.app}_websockets`, '0');
}

/** Connects a socket.io client (no reconnection: a failure shows) and waits for its connection. */
export async function ioConnect(url: string, options: Parameters<typeof io>[1]): Promise<IoClient> {
  const socket = io(url, { reconnection: false, ...options });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

/** Sends `msg` to the socket-io.mjs fixture and waits until its broadcast brings it back (others' may come first). */
export async function chat(socket: IoClient, msg: string): Promise<void> {
  const heard: unknown[] = [];
  const listener = (text: unknown): unknown => heard.push(text);
  socket.on('chat', listener);
  socket.emit('chat', msg);
  await waitUntil(`"${msg}" broadcast back`, () => heard.includes(msg));
  socket.off('chat', listener);
}
