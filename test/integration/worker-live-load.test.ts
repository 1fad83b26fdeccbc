/**
 * What the stats port says of a worker stuck in a request: its requests running and queued come
 * from the header of the ring it shares with the supervisor (native core), or from the last load
 * frame on its rows pipe (io node), since a worker whose loop is stuck answers no figures request
 * and its last figures predate the request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AppSettings } from '../../server/config/config.js';
import { loadNative } from '../../server/native/native-binding.js';
import { encodeScgiRequest, sendRaw, type Target } from '../helpers/scgi-client.js';
import { readFigures } from '../helpers/stats.js';
import { poolApp, startSupervisor } from '../helpers/supervisor.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';

const load = loadNative();
const noNative = load.binding === null && !process.env.CI ? `no native core: ${load.binding === null ? load.reason : ''}` : false;

/** Starts a request that busy-loops in the app's worker for good; resolves once it is inside. */
async function hangOne(t: Parameters<typeof testDir>[0], target: Target, route: '/hang' | '/hang-later' = '/hang'): Promise<void> {
  const inside = join(await testDir(t, 'live-load'), 'inside');
  void sendRaw(target, encodeScgiRequest({ uri: `${route}?log=${encodeURIComponent(inside)}` }), { timeoutMs: 60_000, allowReset: true }).catch(() => {});
  await waitUntil('the request stuck inside the worker', () => existsSync(inside));
}

function withIo(app: AppSettings, io: 'native' | 'node'): AppSettings {
  return { ...app, options: { ...app.options, io } };
}

test('a request busy-looping in a worker shows as online=1 on the stats port before the hang kill (stale figures said 0)', { skip: noNative }, async (t) => {
  const rt = await startSupervisor(t, [withIo(poolApp({ name: 'stuck', hangTimeoutMs: 30_000 }), 'native')]);
  const stats = rt.stats as { port: number };
  assert.equal((await readFigures(stats.port)).get('stuck_online'), '0');
  await hangOne(t, rt.targets.get('stuck') as Target);
  // Every read from here on finds the worker silent; the first already has the ring's count.
  for (let i = 0; i < 3; i++) {
    const figures = await readFigures(stats.port);
    assert.equal(figures.get('stuck_hangs'), '0', 'read before the hang kill');
    assert.equal(figures.get('stuck_workers'), '1');
    assert.equal(figures.get('stuck_online'), '1');
    assert.equal(figures.get('stuck_queued'), '0');
  }
});

test('without a ring (io node) a worker stuck in a later turn than the one that admitted the request shows online=1 from its rows pipe\'s load frame (stale figures said 0)', async (t) => {
  const rt = await startSupervisor(t, [withIo(poolApp({ name: 'laternode', hangTimeoutMs: 30_000 }), 'node')]);
  const stats = rt.stats as { port: number };
  assert.equal((await readFigures(stats.port)).get('laternode_online'), '0');
  await hangOne(t, rt.targets.get('laternode') as Target, '/hang-later');
  for (let i = 0; i < 3; i++) {
    const figures = await readFigures(stats.port);
    assert.equal(figures.get('laternode_hangs'), '0', 'read before the hang kill');
    assert.equal(figures.get('laternode_online'), '1');
  }
});

test('without a ring (io node) a worker stuck in the very turn that admitted the request shows online=1 too: the load left before the app\'s code ran', async (t) => {
  // Pins: the load frame left at the turn's end, so this worker kept online=0 until the hang kill.
  const rt = await startSupervisor(t, [withIo(poolApp({ name: 'stucknode', hangTimeoutMs: 30_000 }), 'node')]);
  const stats = rt.stats as { port: number };
  assert.equal((await readFigures(stats.port)).get('stucknode_online'), '0');
  await hangOne(t, rt.targets.get('stucknode') as Target);
  for (let i = 0; i < 3; i++) {
    const figures = await readFigures(stats.port);
    assert.equal(figures.get('stucknode_hangs'), '0', 'read before the hang kill');
    assert.equal(figures.get('stucknode_online'), '1');
  }
});
