/**
 * The dashboard beside a real runtime whose timing store cannot be read (garbage bytes in the
 * file, a directory in its place): the live figures still come from the stats port, the history
 * endpoints answer empty lists with the reason, and the event stream keeps streaming.
 */
import assert from 'node:assert/strict';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { pino } from 'pino';
import { buildDashboard } from '../../dashboard/app.js';
import { startDashboard } from '../../dashboard/index.js';
import { createRemoteControl } from '../../dashboard/remote-control.js';
import { errors } from '../../shared/errors.js';
import type { HistoryReader } from '../../shared/history.js';
import { openHistoryReader } from '../../shared/store/history-reader.js';
import { openWritableDb } from '../../shared/store/open-db.js';
import { captureLogs, startRuntime } from '../helpers/runtime.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';

const TOKEN = 'damaged-store-Qw8eR2tY6uI0oP4aS7dF';
const bearer = { authorization: `Bearer ${TOKEN}` };
const SERVED = 3;

/** The two ways a store file is unreadable to root too (chmod 000 is not). */
const DAMAGES: Array<{ name: string; make(path: string): Promise<void>; reason: RegExp }> = [
  { name: 'garbage bytes', make: (path) => writeFile(path, Buffer.alloc(16_384, 0x5a)), reason: /^timing store .*timings\.db: file is not a database$/ },
  { name: 'a directory', make: (path) => mkdir(path), reason: /^timing store .*timings\.db: / },
];

/** A real runtime that has served SERVED requests, its stats port, and a damaged store file. */
async function setup(t: TestContext, damage: (typeof DAMAGES)[number]): Promise<{ stats: string; dbPath: string; history: HistoryReader }> {
  const runtime = await startRuntime(t, [{ name: 'shop', node: (_req, res) => res.end('ok') }]);
  for (let i = 0; i < SERVED; i++) assert.equal((await scgiRequest(runtime.targets.get('shop')!, { uri: '/' })).status, 200);
  const dbPath = join(await testDir(t, 'dash-damaged'), 'timings.db');
  await damage.make(dbPath);
  const history = openHistoryReader(dbPath);
  t.after(() => history.close());
  assert.ok('port' in runtime.stats);
  return { stats: `${runtime.stats.host ?? '127.0.0.1'}:${runtime.stats.port}`, dbPath, history };
}

describe('dashboard with an unreadable timing store', () => {
  for (const damage of DAMAGES) {
    it(`answers the live figures and empty history with the reason, not 500 DOW_ERR_STORE (${damage.name})`, async (t) => {
      const { stats, dbPath, history } = await setup(t, damage);
      const control = createRemoteControl({ stats, dbPath, statsTimeoutMs: 10_000 });
      t.after(() => control.close());
      const { logs, logger } = captureLogs();
      const app = buildDashboard({ control, history, token: TOKEN, port: 9100, logger });
      t.after(() => app.close());
      const get = async (url: string): Promise<Record<string, unknown>> => {
        const res = await app.inject({ url, headers: { host: '127.0.0.1:9100', ...bearer } });
        assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
        return res.json();
      };

      const apps = await get('/api/apps');
      assert.equal(apps.reachable, true);
      const [shop] = apps.apps as Array<{ name: string; requests: number; threads: number; recent: unknown }>;
      assert.deepEqual({ name: shop?.name, requests: shop?.requests, threads: shop?.threads, recent: shop?.recent }, { name: 'shop', requests: SERVED, threads: 10, recent: null });
      assert.match(String(apps.historyUnavailable), damage.reason);

      const series = await get('/api/apps/shop/series?window=15m');
      assert.deepEqual([series.points, series.markers, series.events, series.history], [[], [], [], true]);
      assert.match(String(series.historyUnavailable), damage.reason);
      for (const url of ['/api/audit', '/api/runtime-events']) {
        const body = await get(url);
        assert.deepEqual(body.entries, [], url);
        assert.match(String(body.historyUnavailable), damage.reason, url);
      }
      // The page polls: one line says why, not one per request.
      await get('/api/apps');
      const warnings = logs.filter((l) => /history unavailable/.test(String(l.msg)));
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.equal(warnings[0]?.level, 40);
    });
  }

  it('keeps the event stream sending live figures, with the reason', async (t) => {
    const damage = DAMAGES[0]!;
    const { stats, dbPath, history } = await setup(t, damage);
    const control = createRemoteControl({ stats, dbPath, statsTimeoutMs: 10_000 });
    t.after(() => control.close());
    const dash = await startDashboard({ listen: '127.0.0.1:0', token: TOKEN, control, history, log: pino({ level: 'silent' }) });
    t.after(() => dash.close());
    const port = Number(dash.address.slice(dash.address.lastIndexOf(':') + 1));

    let received = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`GET /api/events HTTP/1.1\r\nHost: ${dash.address}\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`));
    t.after(() => socket.destroy());
    socket.on('data', (chunk: Buffer) => void (received += chunk.toString('utf8')));
    socket.on('error', () => {});
    // Two frames: the newcomer's own and one of the shared ticks after it.
    const frames = await waitUntil('two update frames', () => {
      const found = [...received.matchAll(/^event: update\ndata: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as { apps: { apps: Array<{ requests: number }>; historyUnavailable: string } });
      return found.length >= 2 ? found : null;
    });
    assert.match(received, /^HTTP\/1\.1 200/);
    for (const frame of frames) {
      assert.equal(frame.apps.apps[0]?.requests, SERVED);
      assert.match(frame.apps.historyUnavailable, damage.reason);
    }
  });

  it('reads the history again once a good file replaces the damaged one', async (t) => {
    const { stats, dbPath, history } = await setup(t, DAMAGES[0]!);
    const control = createRemoteControl({ stats, dbPath, statsTimeoutMs: 10_000 });
    t.after(() => control.close());
    const app = buildDashboard({ control, history, token: TOKEN, port: 9100 });
    t.after(() => app.close());
    const apps = async (): Promise<{ historyUnavailable: string | null; apps: Array<{ recent: unknown }> }> =>
      (await app.inject({ url: '/api/apps', headers: { host: '127.0.0.1:9100', ...bearer } })).json();
    assert.match(String((await apps()).historyUnavailable), /file is not a database/);

    // A connection kept open on the damaged file would keep reading its old inode.
    openWritableDb(`${dbPath}.new`).close();
    await rename(`${dbPath}.new`, dbPath);
    const healed = await apps();
    assert.equal(healed.historyUnavailable, null);
    assert.notEqual(healed.apps[0]?.recent, null);
  });

  it('still answers 500 for a failure that is not the store\'s', async (t) => {
    const { stats, dbPath, history } = await setup(t, DAMAGES[0]!);
    const control = createRemoteControl({ stats, dbPath, statsTimeoutMs: 10_000 });
    t.after(() => control.close());
    // A bug in the reader must not pass for "history unavailable" and be hidden.
    const buggy: HistoryReader = { ...history, audit: () => { throw new TypeError('not a store failure'); } };
    const app = buildDashboard({ control, history: buggy, token: TOKEN, port: 9100 });
    t.after(() => app.close());
    const res = await app.inject({ url: '/api/audit', headers: { host: '127.0.0.1:9100', ...bearer } });
    assert.equal(res.statusCode, 500);
    assert.equal(res.json().code, new errors.DOW_ERR_INTERNAL('x').code);
  });
});
