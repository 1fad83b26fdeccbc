/**
 * The dashboard over worker processes, the way `serve` wires them (bin/start-runtime.ts): the
 * Reload route replaces an app's workers and is audited in the store with who asked; the app
 * cards show the workers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { startRuntime } from '../../bin/start-runtime.js';
import { DEFAULT_LIMITS } from '../../server/protocol/limits.js';
import { IDLE_TIMEOUT_MS } from '../../dashboard/connection-limits.js';
import { toTarget } from '../helpers/runtime.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { poolApp } from '../helpers/supervisor.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';

/** A configured token must be 32+ characters and not repetitive. */
const ADMIN_TOKEN = 'workers-dashboard-Zk3v9QpL2mX8rT4wB6yN1c';

test('dashboard over workers: Reload replaces the workers and is audited; the cards show them', async (t) => {
  const dir = await testDir(t, 'workers-dashboard');
  const dbPath = join(dir, 'timings.db');
  const runtime = await startRuntime({
    apps: [poolApp({ name: 'shop', count: 2, threads: 4 })],
    stats: null,
    limits: { ...DEFAULT_LIMITS },
    drainTimeoutMs: 2000,
    log: { level: 'silent', format: 'json' },
    store: { path: dbPath, recordPaths: true, retention: {}, flushIntervalMs: 20 },
    dashboard: { listen: '127.0.0.1:0', token: ADMIN_TOKEN },
    persistLimits: false,
  }, pino({ level: 'silent' }));
  t.after(() => runtime.close());
  const base = `http://${runtime.dashboard?.address}`;
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

  const cards = await (await fetch(`${base}/api/apps`, { headers: auth })).json() as { apps: Array<{ name: string; workers: number; workerPids: number[] }> };
  const before = cards.apps.find((a) => a.name === 'shop');
  assert.equal(before?.workers, 2);

  const refused = await fetch(`${base}/api/apps/shop/reload`, { method: 'POST' });
  assert.equal(refused.status, 401);

  const res = await fetch(`${base}/api/apps/shop/reload`, { method: 'POST', headers: auth });
  assert.equal(res.status, 200, await res.clone().text());
  const result = await res.json() as { oldPids: number[]; newPids: number[] };
  assert.deepEqual([...result.oldPids].sort(), [...(before?.workerPids ?? [])].sort());
  assert.equal(result.newPids.length, 2);

  const after = await (await fetch(`${base}/api/apps`, { headers: auth })).json() as typeof cards;
  assert.deepEqual([...(after.apps[0]?.workerPids ?? [])].sort(), [...result.newPids].sort());

  const db = new Database(dbPath, { readonly: true });
  t.after(() => db.close());
  type Event = { kind: string; source: string; detail: string };
  const event = await waitUntil('the reload in runtime_events', () => db.prepare("SELECT kind, source, detail FROM runtime_events WHERE app = 'shop'").get() as Event | undefined);
  assert.equal(event.kind, 'reload');
  assert.match(event.source, /^api 127\.0\.0\.1/);
  assert.match(event.detail, new RegExp(result.newPids.join(' ')));
});

test('a reload that waits longer than the idle cut for an old worker to drain still gets its answer', async (t) => {
  const runtime = await startRuntime({
    apps: [poolApp({ name: 'slow', count: 1, threads: 2 })],
    stats: null,
    limits: { ...DEFAULT_LIMITS },
    drainTimeoutMs: 60_000,
    log: { level: 'silent', format: 'json' },
    store: null,
    dashboard: { listen: '127.0.0.1:0', token: ADMIN_TOKEN },
    persistLimits: false,
  }, pino({ level: 'silent' }));
  t.after(() => runtime.close());
  const base = `http://${runtime.dashboard?.address}`;
  const target = toTarget(runtime.server.addresses[0] as string);
  // The old worker drains only once this request ends, after the dashboard's idle cut.
  const held = scgiRequest(target, { uri: `/hold?ms=${IDLE_TIMEOUT_MS + 2000}` });
  await waitUntil('the held request running', async () => (await runtime.server.snapshot()).apps[0]?.online === 1);
  const res = await fetch(`${base}/api/apps/slow/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(res.status, 200, await res.clone().text());
  const result = await res.json() as { tookMs: number };
  assert.ok(result.tookMs > IDLE_TIMEOUT_MS, `the reload took ${result.tookMs} ms, longer than the idle cut`);
  assert.equal((await held).status, 200);
});
