/**
 * The native I/O core's connection handling driven from outside by random sessions over real
 * sockets (fast-check): valid, mutated and random heads, split anywhere and sent with pauses;
 * clients that read, stop reading, half-close or leave at any point; apps that answer at once or
 * later, stream a large body, read theirs slowly or throw. Whatever happens, the server keeps
 * serving, and every connection is gone (from the server, and from the addon) once its client is.
 * The same sessions run on node:net, the reference. Under
 * `npm run test:asan` this runs against the AddressSanitizer build, where any memory error in
 * the addon's event handling aborts the run. Bounded: 150 sessions, 15 at a time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import fc from 'fast-check';
import { loadNative } from '../../server/native/native-binding.js';
import { startRuntime } from '../helpers/runtime.js';
import { sleep, waitUntil } from '../helpers/wait.js';
import { encodeScgiRequest, parseScgiResponse, sendRaw } from '../helpers/scgi-client.js';

const native = loadNative();
const skip = native.binding === null ? `no native core: ${native.reason}` : false;

type Client = 'read' | 'leave' | 'half-close' | 'stall-then-leave';
type Payload =
  | { kind: 'valid'; path: string; body: number }
  | { kind: 'mutated'; at: number; byte: number }
  | { kind: 'random'; bytes: Uint8Array };
interface Session {
  payload: Payload;
  cuts: number[];
  client: Client;
  leaveAfterMs: number;
}

const session: fc.Arbitrary<Session> = fc.record({
  payload: fc.oneof(
    fc.record({ kind: fc.constant('valid' as const), path: fc.constantFrom('/sync', '/later', '/stream', '/slow-body', '/throw'), body: fc.nat(100_000) }),
    fc.record({ kind: fc.constant('mutated' as const), at: fc.nat(200), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 300 }) }),
  ),
  cuts: fc.array(fc.nat(1000), { maxLength: 4 }),
  client: fc.constantFrom<Client>('read', 'leave', 'half-close', 'stall-then-leave'),
  leaveAfterMs: fc.integer({ min: 0, max: 30 }),
});

function bytesOf(payload: Payload): Buffer {
  if (payload.kind === 'random') return Buffer.from(payload.bytes);
  if (payload.kind === 'mutated') {
    const valid = Buffer.from(encodeScgiRequest({ method: 'POST', uri: '/sync', body: 'x'.repeat(50), headers: { 'x-a': 'b' } }));
    valid[payload.at % valid.length] = payload.byte;
    return valid;
  }
  return encodeScgiRequest({ method: 'POST', uri: payload.path, body: Buffer.alloc(payload.body, 0x61) });
}

/** One client session; resolves when its socket closed, whatever the outcome. */
async function play(port: number, s: Session): Promise<void> {
  const data = bytesOf(s.payload);
  const cuts = [...new Set(s.cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const hardStop = setTimeout(() => socket.destroy(), 5_000);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()).once('close', () => resolve()));
  if (s.client === 'stall-then-leave') socket.pause();
  else socket.resume();
  let from = 0;
  for (const cut of [...cuts, data.length]) {
    if (socket.destroyed) break;
    socket.write(data.subarray(from, cut));
    from = cut;
    await sleep(1);
  }
  if (s.client === 'half-close') socket.end();
  if (s.client === 'leave' || s.client === 'stall-then-leave') {
    await sleep(s.leaveAfterMs);
    socket.destroy();
  }
  await closed;
  clearTimeout(hardStop);
}

for (const io of ['native', 'node'] as const) test(`random sessions on ${io === 'native' ? 'the native core' : 'node:net'}: the server keeps serving and no connection outlives its client`, { skip: io === 'native' && skip, timeout: 180_000 }, async (t) => {
  const rt = await startRuntime(t, [{
    name: 'app',
    io,
    threads: 4,
    queue: 8,
    requestTimeoutMs: 2_000,
    async node(req, res) {
      const url = req.url ?? '/';
      if (url === '/throw') throw new Error('thrown on purpose');
      if (url === '/slow-body') {
        for await (const chunk of req) {
          void chunk;
          await sleep(1);
        }
      }
      if (url === '/later') await sleep(5);
      if (url === '/stream') {
        const chunk = Buffer.alloc(64 * 1024, 0x62);
        for (let i = 0; i < 16 && !res.destroyed; i++) {
          if (!res.write(chunk)) await new Promise((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
        }
      }
      res.end('done');
    },
  }], { limits: { headerTimeoutMs: 1_000, bodyIdleTimeoutMs: 1_000, maxBodyBytes: 64 * 1024 } });
  const port = (rt.targets.get('app') as { port: number }).port;

  const sessions = fc.sample(session, { numRuns: 150, seed: 13 });
  for (let i = 0; i < sessions.length; i += 15) {
    await Promise.all(sessions.slice(i, i + 15).map((s) => play(port, s)));
  }

  // Still serving, and every connection of the sessions is gone from the addon.
  const after = parseScgiResponse(await sendRaw({ port }, encodeScgiRequest({ uri: '/sync' })));
  assert.equal(after.status, 200);
  await waitUntil('every connection closed', () => rt.server.connectionCount === 0);
  if (io === 'native') {
    await waitUntil('every native connection closed', () => native.binding?.counts().connections === 0);
    assert.equal(native.binding?.counts().queuedBytes, 0);
  }
});
