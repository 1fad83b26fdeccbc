// Connections on their way into a listener (server/listen/incoming-connections.ts), which a stop
// waits for before closing: parsed from /proc/net/tcp's format, and read from the real kernel
// for a listener that accepts nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { countIncoming, incomingConnections } from '../../server/listen/incoming-connections.js';
import { waitUntil } from '../helpers/wait.js';

// Port 0x2352 = 9042: a listener with 2 queued, two handshakes under way to it (one dialled at
// 127.0.0.1, one at 127.0.0.2), an accepted connection, a client socket whose remote port is
// 9042, and a listener on another port with 5 queued.
const TABLE = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:2352 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:2352 0100007F:A1B2 03 00000000:00000000 01:00000064 00000000     0        0 0 0 0
   2: 0200007F:2352 0100007F:A1B3 03 00000000:00000000 01:00000064 00000000     0        0 0 0 0
   3: 0100007F:2352 0100007F:A1B4 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1
   4: 0100007F:A1B5 0100007F:2352 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 20 4 30 10 -1
   5: 00000000:2353 00000000:0000 0A 00000000:00000005 00:00000000 00000000     0        0 4 1 0 100 0 0 10 0
`;

test('the accept queue of the listeners on the port and its handshakes under way count; connections and other ports do not', () => {
  assert.equal(countIncoming(TABLE, 9042), 4);
  assert.equal(countIncoming(TABLE, 9043), 5);
  assert.equal(countIncoming(TABLE, 80), 0);
  assert.equal(countIncoming('', 9042), 0);
  assert.equal(countIncoming('garbage\n  0: x\n', 9042), 0);
});

test('a real listener that accepts nothing: each connection waits in its queue, and is counted', async (t) => {
  // A socket that listens and never accepts, as a server busy in its app code looks from outside.
  const child = spawn('python3', ['-c', 'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(16)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(600)'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = Number(line.toString().trim());
  assert.equal(await incomingConnections(port), 0);
  const clients: Socket[] = [];
  t.after(() => clients.forEach((c) => c.destroy()));
  for (let i = 0; i < 3; i++) {
    const c = connect(port, '127.0.0.1');
    clients.push(c);
    await once(c, 'connect');
  }
  await waitUntil('3 connections queued', async () => (await incomingConnections(port)) === 3);
});
