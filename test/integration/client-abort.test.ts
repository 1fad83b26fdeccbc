/**
 * A client that leaves is noticed when the front end closes the connection, not
 * when the app finally writes. nginx closes with a FIN (never a reset) and none of the front ends
 * half-closes after sending, so a FIN after the request means the client left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { encodeScgiRequest, parseScgiResponse, scgiRequest, sendRaw, type Target } from '../helpers/scgi-client.js';
import type { NodeListener } from '../../server/adapters/node/node-adapter.js';
import { startRuntime } from '../helpers/runtime.js';
import { waitForFigure } from '../helpers/stats.js';
import { waitUntil } from '../helpers/wait.js';

/** Long past any test's wait: an app answering after this has not been cut short. */
const LATE_MS = 60_000;

/** Sends a request and ends our side after `leaveAfterMs`, as nginx does when its client goes. */
function sendAndLeave(target: Target, leaveAfterMs: number, options: Parameters<typeof encodeScgiRequest>[0] = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket: Socket = 'path' in target ? connect(target.path) : connect(target.port, target.host ?? '127.0.0.1');
    socket.on('error', reject);
    socket.on('connect', () => {
      socket.write(encodeScgiRequest(options));
      setTimeout(() => {
        socket.end();
        resolve();
      }, leaveAfterMs);
    });
    socket.resume();
  });
}

test('a client that leaves with a FIN aborts the running request before the app answers: aborted/close for Node apps, the slot freed, counted', async (t) => {
  const seen: string[] = [];
  let appAnswered = false;
  let timer: NodeJS.Timeout | undefined;
  const rt = await startRuntime(t, [{
    name: 'slow',
    threads: 1,
    node: (req, res) => {
      req.on('aborted', () => seen.push('req aborted'));
      req.on('close', () => seen.push('req close'));
      res.on('close', () => seen.push(`res close, finished=${res.writableFinished}`));
      timer = setTimeout(() => {
        appAnswered = true;
        res.end('late\n');
      }, LATE_MS);
    },
  }]);
  t.after(() => clearTimeout(timer));
  const target = rt.targets.get('slow') as Target;
  await sendAndLeave(target, 200);
  await waitForFigure(rt.figures, 'slow_aborted', '1');
  assert.equal(appAnswered, false, 'noticed when the client left, not when the app wrote');
  assert.equal(rt.figures().get('slow_online'), '0');
  await waitUntil('three abort signals seen', () => seen.length === 3);
  assert.deepEqual(seen.sort(), ['req aborted', 'req close', 'res close, finished=false']);
});

test("a fetch handler's request.signal fires when the client leaves", async (t) => {
  let reason: unknown;
  const rt = await startRuntime(t, [{
    name: 'fetchy',
    fetch: (request) => new Promise<Response>((resolve) => {
      const timer = setTimeout(() => resolve(new Response('late')), LATE_MS);
      request.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reason = request.signal.reason ?? 'aborted';
      });
    }),
  }]);
  await sendAndLeave(rt.targets.get('fetchy') as Target, 100);
  await waitUntil('request.signal fired', () => reason);
  await waitForFigure(rt.figures, 'fetchy_aborted', '1');
});

test('queued requests whose client left leave the queue and never run; the next request gets the freed slot at once', async (t) => {
  const ran: string[] = [];
  let holdAnswered = false;
  const timers = new Set<NodeJS.Timeout>();
  const rt = await startRuntime(t, [{
    name: 'one',
    threads: 1,
    node: (req, res) => {
      ran.push(req.url ?? '');
      if (req.url === '/fast') return void res.end('fast\n');
      timers.add(setTimeout(() => {
        holdAnswered = true;
        res.end('late\n');
      }, LATE_MS));
    },
  }]);
  t.after(() => timers.forEach(clearTimeout));
  const target = rt.targets.get('one') as Target;
  const holder = sendAndLeave(target, 400, { uri: '/hold' });
  await waitUntil('the first request running', () => ran.length === 1);
  // Both wait behind /hold; one is a POST whose small body is read while it waits.
  await Promise.all([
    sendAndLeave(target, 150, { uri: '/queued-get' }),
    sendAndLeave(target, 150, { uri: '/queued-post', method: 'POST', body: 'x'.repeat(2000) }),
  ]);
  await holder;
  await waitForFigure(rt.figures, 'one_aborted', '3');
  assert.equal(rt.figures().get('one_queued'), '0');
  const res = await scgiRequest(target, { uri: '/fast' });
  assert.equal(res.status, 200);
  assert.equal(holdAnswered, false, 'the slot was freed when its client left, not when the app answered');
  assert.deepEqual(ran, ['/hold', '/fast'], 'the queued requests never ran');
});

test("halfClose: 'answer' keeps serving a client that half-closes after sending; the default aborts it", async (t) => {
  const node: NodeListener = (_req, res) => void setTimeout(() => res.end('late answer'), 100);
  const rt = await startRuntime(t, [{ name: 'answers', halfClose: 'answer', node }, { name: 'aborts', node }]);
  const answered = await sendRaw(rt.targets.get('answers') as Target, encodeScgiRequest({}), { halfClose: true });
  assert.equal(parseScgiResponse(answered).body.toString(), 'late answer');
  const cut = await sendRaw(rt.targets.get('aborts') as Target, encodeScgiRequest({}), { halfClose: true });
  assert.equal(cut.length, 0);
  await waitForFigure(rt.figures, 'aborts_aborted', '1');
  assert.equal(rt.figures().get('answers_aborted'), '0');
});
