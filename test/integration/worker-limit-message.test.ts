/**
 * A worker's "Threads limit reached!" line names the app's limit, which the operator set, beside
 * the worker's share of it, which is what its limiter enforces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { scgiRequest, type Target } from '../helpers/scgi-client.js';
import { startSupervisor } from '../helpers/supervisor.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';

const LINE = /^burst: Threads limit reached! \(app limit=(\d+), this worker's share=(\d+), online=(\d+)\) queue full \(0 waiting\)( \(\d+ more 503s not logged\))?$/;

interface LimitLine {
  appLimit: number;
  share: number;
  online: number;
  worker: number;
}

async function limitLines(file: string): Promise<LimitLine[]> {
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [];
  }
  const lines: LimitLine[] = [];
  for (const raw of text.split('\n')) {
    if (!raw.includes('Threads limit reached')) continue;
    const entry = JSON.parse(raw) as { msg: string; worker: number };
    const match = LINE.exec(entry.msg);
    assert.ok(match, `a limit line as expected: ${entry.msg}`);
    lines.push({ appLimit: Number(match[1]), share: Number(match[2]), online: Number(match[3]), worker: entry.worker });
  }
  return lines;
}

/** More held requests than the app's limit at once, until `done` says enough 503s were logged. */
async function burstUntil<T>(target: Target, over: number, what: string, done: () => Promise<T | null>): Promise<NonNullable<T>> {
  return waitUntil(what, async () => {
    await Promise.all(Array.from({ length: over }, () => scgiRequest(target, { uri: '/hold?ms=300' }).catch(() => null)));
    return done();
  }, { intervalMs: 0 });
}

test("a worker's 503 line names the app's limit and its own share, not its share alone as the limit", async (t) => {
  const file = join(await testDir(t, 'limit-line'), 'workers.log');
  const rt = await startSupervisor(t, [{ name: 'burst', count: 2, threads: 4, queue: 0 }], { workerLogFile: file });
  const lines = await burstUntil(rt.targets.get('burst') as Target, 12, 'a 503 logged by a worker', async () => {
    const lines = await limitLines(file);
    return lines.length > 0 ? lines : null;
  });
  for (const line of lines) {
    assert.equal(line.appLimit, 4);
    // 0 is a true share too: a worker that starts accepting while the other still runs every
    // slot it was given alone gets its share only as those requests finish (a slot is never in
    // two workers), and refuses what the kernel hands it meanwhile.
    assert.ok(line.share >= 0 && line.share < 4, `a share of the 4: ${line.share}`);
    assert.ok(line.online >= line.share, `refused only with its share in use: ${line.online} of ${line.share}`);
  }
});

test('after an operator changes the limit, a worker whose share stayed the same names the new limit too', async (t) => {
  const file = join(await testDir(t, 'limit-line-change'), 'workers.log');
  const rt = await startSupervisor(t, [{ name: 'burst', count: 2, threads: 4, queue: 0 }], { workerLogFile: file });
  // Idle, 4 -> 5 over two workers: shares 2 + 2 become 3 + 2, so one worker gets no new share.
  await rt.supervisor.setThreads('burst', 5, 'test');
  const lines = await burstUntil(rt.targets.get('burst') as Target, 15, 'both workers log a 503', async () => {
    const lines = await limitLines(file);
    return new Set(lines.map((line) => line.worker)).size === 2 ? lines : null;
  });
  for (const line of lines) assert.equal(line.appLimit, 5, `worker ${line.worker}: share ${line.share}`);
});
