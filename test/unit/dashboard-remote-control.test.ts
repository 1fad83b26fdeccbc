/**
 * The separate-process RuntimeControl: snapshots read from a stats port (a fake one speaking the
 * real wire format), limit changes through the database's threads_commands table answered by a
 * stand-in for the runtime's store writer, and the unreachable cases.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { describe, it, after } from 'node:test';
import { createRemoteControl } from '../../dashboard/remote-control.js';
import { snapshotFromStats } from '../../dashboard/stats-snapshot.js';
import { isDragonError } from '../../shared/errors.js';
import { formatStats, parseStats } from '../../shared/stats-format.js';
import { answerCommand, openCommandsDb, pendingCommands } from '../../shared/store/threads-commands.js';
import { makeTempDirSync, removeTempDirSync } from '../helpers/temp-dir.js';

const figures = new Map<string, string | number>([
  ['pid', 777],
  ['start_time', 1_700_000_000.25],
  ['uptime', 3661],
  ['uptime_str', '01h 01m 01s'],
  ['requests', 42],
  ['online', 3],
  ['version', '2.0.0'],
  ['apps', 'shop blog_v2'],
  ['shop_threads', 4],
  ['shop_online', 2],
  ['shop_queued', 1],
  ['shop_requests', 40],
  ['shop_rejected', 5],
  ['shop_errors', 6],
  ['shop_timeouts', 7],
  ['shop_aborted', 8],
  ['shop_listen', '127.0.0.1:9000'],
  ['shop_mount', '/'],
  ['shop_workers', 2],
  ['shop_restarts', 3],
  ['shop_hangs', 1],
  ['shop_worker_pids', '4101 4102'],
  ['shop_backoff_ms', 4000],
  ['shop_websockets', 9],
  ['shop_upgrades', 12],
  ['supervisor_pid', 777],
  ['store_lost', 0],
  ['blog_v2_threads', 2],
  ['blog_v2_online', 1],
  ['blog_v2_listen', 'unix:/run/blog.sock'],
  ['blog_v2_mount', "/it's"],
]);

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

describe('snapshotFromStats', () => {
  it('maps the stats port figures to a RuntimeSnapshot, app names with underscores included', () => {
    const snap = snapshotFromStats(parseStats(formatStats(figures)));
    assert.equal(snap.pid, 777);
    assert.equal(snap.startTimeMs, 1_700_000_000_250);
    assert.equal(snap.uptimeS, 3661);
    assert.deepEqual(snap.apps.map((a) => a.name), ['shop', 'blog_v2']);
    assert.deepEqual(snap.apps[0], {
      name: 'shop', listen: '127.0.0.1:9000', mount: '/', threads: 4, online: 2, queued: 1, requests: 40, rejected: 5, errors: 6, timeouts: 7, aborted: 8,
      workers: 2, restarts: 3, hangs: 1, workerPids: [4101, 4102], backoffMs: 4000, websockets: 9, upgrades: 12,
    });
    assert.equal(snap.apps[1]?.mount, "/it's");
    assert.equal(snap.apps[1]?.requests, 0);
  });

  it('reads worker figures, and their absence (an older runtime, an in-process app) as 0 and []', () => {
    const workers = (extra: Array<[string, string | number]>) =>
      snapshotFromStats(parseStats(formatStats(new Map([...figures, ...extra])))).apps[1];
    const none = workers([]);
    assert.deepEqual([none?.workers, none?.restarts, none?.hangs, none?.workerPids, none?.backoffMs], [0, 0, 0, [], 0]);
    // In-process apps print an empty pid list.
    assert.deepEqual(workers([['blog_v2_workers', 0], ['blog_v2_worker_pids', '']])?.workerPids, []);
    const one = workers([['blog_v2_workers', 1], ['blog_v2_worker_pids', '31337'], ['blog_v2_backoff_ms', 'soon']]);
    assert.deepEqual([one?.workers, one?.workerPids, one?.backoffMs], [1, [31337], 0]);
  });

  it('refuses an answer that is not a stats report', () => {
    assert.throws(() => snapshotFromStats(parseStats('HTTP/1.1 400 Bad Request\r\n')), (err) => isDragonError(err, 'DOW_ERR_RUNTIME_UNREACHABLE'));
  });
});

describe('createRemoteControl', () => {
  const dir = makeTempDirSync('dash-remote');
  const dbPath = join(dir, 'timing.db');
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.close();
    removeTempDirSync(dir);
  });

  it('reads a snapshot from the stats port', async () => {
    const server = createServer((socket) => socket.end(formatStats(figures)));
    servers.push(server);
    const port = await listen(server);
    const control = createRemoteControl({ stats: `127.0.0.1:${port}`, dbPath });
    const snap = await control.snapshot();
    assert.equal(snap.version, '2.0.0');
    assert.equal(snap.apps.length, 2);
    control.close();
  });

  it('a refused connection is DOW_ERR_RUNTIME_UNREACHABLE', async () => {
    const server = createServer();
    const port = await listen(server);
    await new Promise((r) => server.close(r));
    const control = createRemoteControl({ stats: `127.0.0.1:${port}`, dbPath });
    await assert.rejects(control.snapshot(), (err) => isDragonError(err, 'DOW_ERR_RUNTIME_UNREACHABLE'));
  });

  it('a stats port that never finishes is DOW_ERR_RUNTIME_UNREACHABLE after the timeout', async () => {
    const server = createServer((socket) => socket.write('SCGI_SERVER_pid=\'1\'\n'));
    servers.push(server);
    const port = await listen(server);
    const control = createRemoteControl({ stats: `127.0.0.1:${port}`, dbPath, statsTimeoutMs: 200 });
    const started = Date.now();
    await assert.rejects(control.snapshot(), (err) => isDragonError(err, 'DOW_ERR_RUNTIME_UNREACHABLE'));
    assert.ok(Date.now() - started < 1000);
  });

  it('setThreads goes through threads_commands and resolves once the runtime applied it', async () => {
    // Stand-in for the runtime's store writer: polls the table and answers, as it does every 250 ms.
    const runtimeDb = openCommandsDb(dbPath);
    let threads = 4;
    const seen: Array<{ app: string; threads: number; source: string }> = [];
    const poller = setInterval(() => {
      for (const cmd of pendingCommands(runtimeDb)) {
        seen.push({ app: cmd.app, threads: cmd.threads, source: cmd.source });
        if (cmd.app !== 'shop') answerCommand(runtimeDb, cmd.id, { error: `no app named ${cmd.app}` });
        else {
          answerCommand(runtimeDb, cmd.id, { oldThreads: threads });
          threads = cmd.threads;
        }
      }
    }, 250);
    const control = createRemoteControl({ stats: '127.0.0.1:1', dbPath });
    try {
      const started = Date.now();
      assert.deepEqual(await control.setThreads('shop', 9, 'dashboard 127.0.0.1'), { app: 'shop', oldThreads: 4, newThreads: 9 });
      assert.ok(Date.now() - started < 1000, 'applied within a second');
      assert.equal(threads, 9);
      assert.deepEqual(seen, [{ app: 'shop', threads: 9, source: 'dashboard 127.0.0.1' }]);
      await assert.rejects(control.setThreads('ghost', 2, 'api'), /no app named ghost/);
    } finally {
      clearInterval(poller);
      control.close();
      runtimeDb.close();
    }
  });

  it('reload is refused with a message naming the ways that do reload', async () => {
    const control = createRemoteControl({ stats: '127.0.0.1:1', dbPath });
    try {
      await assert.rejects(control.reload('shop', 'api 127.0.0.1'), (err) => {
        assert.ok(isDragonError(err, 'DOW_ERR_RELOAD'));
        assert.match(err.message, /^cannot reload shop: this dashboard runs in its own process/);
        assert.match(err.message, /dashboard inside the server/);
        assert.match(err.message, /dragon-on-wheels reload/);
        return true;
      });
    } finally {
      control.close();
    }
  });

  it('setThreads with no runtime answering fails within the apply timeout', async () => {
    const control = createRemoteControl({ stats: '127.0.0.1:1', dbPath, applyTimeoutMs: 300 });
    try {
      await assert.rejects(control.setThreads('shop', 3, 'api'), (err) => isDragonError(err, 'DOW_ERR_RUNTIME_UNREACHABLE'));
      // Withdrawn: a runtime that comes back later finds nothing to apply.
      const db = openCommandsDb(dbPath);
      assert.deepEqual(pendingCommands(db), []);
      db.close();
    } finally {
      control.close();
    }
  });
});
