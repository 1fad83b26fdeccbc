/**
 * Stopping drops nothing: SIGTERM under POST load with worker processes, through the
 * real command line. Every connection the kernel accepted is answered, none is reset; the stats
 * port answers during the drain; every answered request has its row in SQLite.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { getFreePorts } from '../helpers/free-port.js';
import { encodeScgiRequest, parseScgiResponse } from '../helpers/scgi-client.js';
import { readFigures } from '../helpers/stats.js';
import { WORKER_APP } from '../helpers/supervisor.js';
import { serveConfig } from '../helpers/cli-process.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';


type Outcome = { kind: 'answered'; status: number } | { kind: 'refused' } | { kind: 'failed'; why: string };

/** One POST over its own connection; classifies what the client saw. */
function post(port: number, body: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let connected = false;
    const socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ kind: 'failed', why: 'no answer within 15 s' });
    }, 15_000);
    socket.on('connect', () => {
      connected = true;
      // write, not end: like nginx, a client that half-closes is taken to have left.
      socket.write(encodeScgiRequest({ method: 'POST', uri: '/echo?ms=150', body, headers: { 'content-type': 'application/octet-stream' } }));
    });
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(!connected && err.code === 'ECONNREFUSED' ? { kind: 'refused' } : { kind: 'failed', why: err.code ?? err.message });
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      if (raw.length === 0) return resolve({ kind: 'failed', why: 'closed without an answer' });
      try {
        resolve({ kind: 'answered', status: parseScgiResponse(raw).status });
      } catch (err) {
        resolve({ kind: 'failed', why: (err as Error).message });
      }
    });
  });
}

for (const target of ['supervisor', 'process group'] as const) {
  test(`SIGTERM to the ${target} under POST load: every accepted connection answered, none reset, every answer stored`, async (t) => {
    const dir = await testDir(t, 'workers-stop');
    const [appPort, statsPort] = await getFreePorts(2);
    const dbPath = join(dir, 'timings.db');
    const server = await serveConfig(t, dir, {
      stats: `127.0.0.1:${statsPort}`,
      apps: [{ name: 'upload', listen: `127.0.0.1:${appPort}`, module: WORKER_APP, workers: 2, threads: 8, queue: 200 }],
      store: { path: dbPath, flushInterval: 50 },
      dashboard: false,
      drainTimeout: 10_000,
    }, 'dragon.config.json', target === 'process group');
    await server.waitFor(/UP on .*\(stats\)/);

    const body = Buffer.alloc(64 * 1024, 7);
    const outcomes: Outcome[] = [];
    let stopped = false;
    // A bound for a test gone wrong: the stop comes after 40 answers, however long they take.
    const deadline = performance.now() + 300_000;
    const clients = Array.from({ length: 12 }, async () => {
      // Bounded: each client stops at its first refusal (the listener closed) or the deadline.
      for (let n = 0; n < 2000 && performance.now() < deadline; n++) {
        const outcome = await post(appPort, body);
        outcomes.push(outcome);
        if (outcome.kind === 'refused' && stopped) return;
      }
    });
    await waitUntil('load under way', () => outcomes.filter((o) => o.kind === 'answered').length >= 40, { timeoutMs: 120_000 });
    // systemd's KillMode=control-group and Ctrl-C signal every process at once: the workers must
    // leave the stopping to the supervisor.
    if (target === 'process group') process.kill(-(server.child.pid as number), 'SIGTERM');
    else server.child.kill('SIGTERM');
    stopped = true;
    // The drain lasts at least one request (150 ms): the stats port still answers meanwhile.
    await server.waitFor(/SIGTERM: stopping/);
    const during = await readFigures(statsPort);
    assert.equal(during.get('upload_workers'), '2');
    await Promise.all(clients);
    assert.equal(await server.exited, 0, server.output());

    const failed = outcomes.filter((o) => o.kind === 'failed');
    const answered = outcomes.filter((o): o is { kind: 'answered'; status: number } => o.kind === 'answered');
    assert.deepEqual(failed, [], `${failed.length} of ${outcomes.length} connections failed: ${failed.map((o) => o.why).join(', ')}`);
    assert.ok(answered.length > 30, `${answered.length} answered`);
    assert.ok(answered.every((o) => o.status === 200), `statuses: ${[...new Set(answered.map((o) => o.status))].join(', ')}`);
    assert.ok(outcomes.some((o) => o.kind === 'refused'), 'after the stop, connections are refused');

    const db = new Database(dbPath, { readonly: true });
    t.after(() => db.close());
    const rows = (db.prepare('SELECT count(*) AS n FROM requests WHERE app = ?').get('upload') as { n: number }).n;
    assert.equal(rows, answered.length, 'one row per answered request, none lost');
    assert.match(server.output(), /timing store wrote \d+ rows \(0 dropped\)/);
  });
}
