/**
 * Thread limits changed at run time survive a restart only when `persistLimits` is on (off by
 * default): the runtime reads the last audited limit per app from the timing store at start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { startRuntime } from '../../bin/start-runtime.js';
import type { RuntimeSettings } from '../../server/config/config.js';
import { DEFAULT_LIMITS } from '../../server/protocol/limits.js';
import { captureLogs } from '../helpers/runtime.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';

function settings(dbPath: string, persistLimits: boolean): RuntimeSettings {
  return {
    apps: [{
      listen: '127.0.0.1:0',
      options: { name: 'shop', handler: { type: 'node', listener: (_req, res) => res.end('ok') }, threads: 4, queue: 10, queueTimeoutMs: 1000, requestTimeoutMs: 0, mount: '' },
    }],
    stats: null,
    limits: { ...DEFAULT_LIMITS },
    drainTimeoutMs: 100,
    log: { level: 'silent', format: 'json' },
    store: { path: dbPath, recordPaths: true, retention: {}, flushIntervalMs: 20 },
    dashboard: null,
    persistLimits,
  };
}

test('persistLimits: off by default keeps the configured limit, on restores the last change', async (t) => {
  const dir = await testDir(t, 'persist');
  const dbPath = join(dir, 'timings.db');
  const log = pino({ level: 'silent' });

  const first = await startRuntime(settings(dbPath, false), log);
  await first.server.setThreads('shop', 9, 'test');
  await first.close();

  const withoutPersist = await startRuntime(settings(dbPath, false), log);
  const threadsOf = async (rt: typeof first): Promise<number | undefined> => (await rt.server.snapshot()).apps.find((a) => a.name === 'shop')?.threads;
  assert.equal(await threadsOf(withoutPersist), 4, 'off: the configured limit');
  await withoutPersist.close();

  const withPersist = await startRuntime(settings(dbPath, true), log);
  assert.equal(await threadsOf(withPersist), 9, 'on: the last audited limit');
  await withPersist.close();
});

test('a clean stop leaves no -wal or -shm file beside the database, with the dashboard reading it', async (t) => {
  const dir = await testDir(t, 'wal');
  const dbPath = join(dir, 'timings.db');
  const runtime = await startRuntime({ ...settings(dbPath, false), dashboard: { listen: '127.0.0.1:0' } }, pino({ level: 'silent' }));
  await runtime.server.setThreads('shop', 5, 'test');
  await waitUntil('WAL mode while running', () => existsSync(`${dbPath}-wal`));
  // The cards read the history: the dashboard's reader now holds a connection of its own.
  const cards = await fetch(`http://${runtime.dashboard?.address}/api/apps`, { headers: { authorization: `Bearer ${runtime.dashboard?.token}` } });
  assert.equal(cards.status, 200);
  await runtime.close();
  assert.ok(existsSync(dbPath));
  assert.equal(existsSync(`${dbPath}-wal`), false);
  assert.equal(existsSync(`${dbPath}-shm`), false);
});

test('persistLimits: a limit edited in the config since the last start wins, an unchanged config restores the run-time one, and the log says which and why', async (t) => {
  const dir = await testDir(t, 'persist');
  const dbPath = join(dir, 'timings.db');
  const withThreads = (threads: number): RuntimeSettings => {
    const s = settings(dbPath, true);
    (s.apps[0] as RuntimeSettings['apps'][number]).options.threads = threads;
    return s;
  };
  const threadsOf = async (rt: Awaited<ReturnType<typeof startRuntime>>): Promise<number | undefined> => (await rt.server.snapshot()).apps.find((a) => a.name === 'shop')?.threads;
  const start = async (threads: number) => {
    const { logs, logger } = captureLogs();
    const rt = await startRuntime(withThreads(threads), logger);
    return { rt, said: () => logs.map((l) => String(l.msg)).filter((m) => m.startsWith('shop: threads')) };
  };

  // The filed case: threads: 4 in the file, 7 set at run time, then the file says 12.
  const first = await start(4);
  await first.rt.server.setThreads('shop', 7, 'api 127.0.0.1');
  await first.rt.close();
  const edited = await start(12);
  assert.equal(await threadsOf(edited.rt), 12, 'the edited config wins');
  assert.match(edited.said().join('\n'), /shop: threads 12: the config's threads changed since the last start \(4 -> 12\), so the config's value is taken; 7, set at run time \(api 127\.0\.0\.1, .*\), is not restored/);
  await edited.rt.server.setThreads('shop', 9, 'api 127.0.0.1');
  await edited.rt.close();

  // The config unchanged since: the run-time value comes back, and the log says from where.
  const unchanged = await start(12);
  assert.equal(await threadsOf(unchanged.rt), 9);
  assert.match(unchanged.said().join('\n'), /shop: threads 12 -> 9 \(persistLimits: restored 9, set at run time \(api 127\.0\.0\.1, .*\); the config's 12 is unchanged since\)/);
  await unchanged.rt.close();
  // Restoring wrote nothing that would hide the run-time value next time.
  const again = await start(12);
  assert.equal(await threadsOf(again.rt), 9);
  await again.rt.close();
});
