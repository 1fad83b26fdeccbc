/**
 * The reload queue's rules with reloads the test ends by hand: one at a time, a request during
 * a reload gets one follow-up (shared by every such request), never the running reload's answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReloadQueue } from '../../server/supervisor/reload-queue.js';

interface Held {
  source: string;
  resolve(value: string): void;
  reject(err: Error): void;
}

function heldQueue(): { queue: ReloadQueue<string>; held: Held[] } {
  const held: Held[] = [];
  const queue = new ReloadQueue<string>((source) => new Promise<string>((resolve, reject) => held.push({ source, resolve, reject })));
  return { queue, held };
}

test('a request while a reload runs gets the follow-up reload, not the running one; later requests fold into it', async () => {
  const { queue, held } = heldQueue();
  const first = queue.ask('a');
  assert.equal(first.how, 'started');
  const second = queue.ask('b');
  const third = queue.ask('c');
  assert.deepEqual([second.how, third.how], ['queued', 'folded']);
  assert.notEqual(second.outcome, first.outcome);
  assert.equal(held.length, 1, 'the follow-up waits for the running reload');
  assert.deepEqual(queue.figures(), { started: 1, finished: 0, error: '' });

  held[0]?.resolve('reload 1');
  assert.equal(await first.outcome, 'reload 1');
  assert.equal(held.length, 2, 'the follow-up started as the first ended');
  assert.equal(held[1]?.source, 'b');
  // Asked while the follow-up runs: yet another one.
  const fourth = queue.ask('d');
  assert.equal(fourth.how, 'queued');
  held[1]?.resolve('reload 2');
  assert.equal(await second.outcome, 'reload 2');
  assert.equal(await third.outcome, 'reload 2');
  held[2]?.resolve('reload 3');
  assert.equal(await fourth.outcome, 'reload 3');
  assert.deepEqual(queue.figures(), { started: 3, finished: 3, error: '' });
  assert.equal(queue.ask('e').how, 'started', 'idle again');
});

test('a failed reload still starts the follow-up; the figures name the latest failure until one succeeds', async () => {
  const { queue, held } = heldQueue();
  const first = queue.ask('a');
  const second = queue.ask('b');
  held[0]?.reject(new Error('cannot reload app: SyntaxError'));
  await assert.rejects(first.outcome, /SyntaxError/);
  assert.deepEqual(queue.figures(), { started: 2, finished: 1, error: 'cannot reload app: SyntaxError' });
  held[1]?.resolve('fixed');
  assert.equal(await second.outcome, 'fixed');
  assert.deepEqual(queue.figures(), { started: 2, finished: 2, error: '' });
});

test('a reload function that throws at once is a failed reload, not a stuck queue', async () => {
  let calls = 0;
  const queue = new ReloadQueue<string>(() => {
    calls++;
    if (calls === 1) throw new Error('the server is stopping');
    return Promise.resolve('ok');
  });
  await assert.rejects(queue.ask('a').outcome, /stopping/);
  assert.equal(await queue.ask('b').outcome, 'ok');
  assert.deepEqual(queue.figures(), { started: 2, finished: 2, error: '' });
});
