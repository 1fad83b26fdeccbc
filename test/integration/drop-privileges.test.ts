// user/group: started as root, the server binds, opens its store, then every
// process runs as the configured user: workers from their first instruction, the supervisor once
// start is done; reloads (forked by the dropped supervisor) and the store keep working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chown, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { lookupUser } from '../../server/config/unix-ids.js';
import { getFreePort } from '../helpers/free-port.js';
import { readFigures } from '../helpers/stats.js';
import { testDir } from '../helpers/temp-dir.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { cannotRunAsNobody, cliArgs, FIXTURES, runProcess } from '../helpers/systemd.js';

const APP = join(FIXTURES, 'whoami-app.mjs');
const notRoot = cannotRunAsNobody();

type Whoami = { pid: number; uid: number; gid: number; groups: string; home: string };

/** Real, effective, saved and filesystem ids and the supplementary groups, from /proc. */
async function credentials(pid: number): Promise<{ uid: string; gid: string; groups: string }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): string => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status)?.[1]?.trim().replace(/\s+/g, ' ') ?? '?';
  return { uid: field('Uid'), gid: field('Gid'), groups: field('Groups') };
}

test('user: nobody: workers and the supervisor run as nobody, a SIGHUP reload still works, the store is written and cleaned up', { skip: notRoot }, async (t) => {
  const nobody = lookupUser('nobody');
  assert.ok(nobody);
  const dir = await testDir(t, 'drop');
  // The store's folder is the user's (as systemd's StateDirectory= makes it), so SQLite can
  // remove its -wal and -shm files at the stop.
  const storeDir = join(dir, 'state');
  await mkdir(storeDir);
  await chown(storeDir, nobody.uid, nobody.gid);
  const port = await getFreePort();
  const statsPort = await getFreePort();
  const config = join(dir, 'dragon.config.json');
  await writeFile(config, JSON.stringify({
    user: 'nobody',
    stats: `127.0.0.1:${statsPort}`,
    dashboard: false,
    store: { path: join(storeDir, 'timings.db'), flushInterval: 50 },
    apps: [{ name: 'shop', listen: `127.0.0.1:${port}`, module: APP, workers: 2 }],
  }));
  const server = runProcess(t, process.execPath, cliArgs(config));
  await server.waitFor(/running as nobody \(uid 65534, gid 65534\)/);

  const before = JSON.parse((await scgiRequest({ host: '127.0.0.1', port })).body.toString()) as Whoami;
  assert.equal(before.uid, nobody.uid);
  assert.equal(before.gid, nobody.gid);
  assert.equal(before.groups, '', 'no supplementary groups (root\'s are dropped)');
  assert.equal(before.home, nobody.home);
  const supervisor = Number((await readFigures(statsPort)).get('supervisor_pid'));
  assert.equal(supervisor, server.child.pid);
  assert.deepEqual(await credentials(supervisor), { uid: '65534 65534 65534 65534', gid: '65534 65534 65534 65534', groups: '' });
  assert.deepEqual(await credentials(before.pid), { uid: '65534 65534 65534 65534', gid: '65534 65534 65534 65534', groups: '' });

  // New workers are forked by the dropped supervisor.
  server.child.kill('SIGHUP');
  await server.waitFor(/shop: reloaded \(SIGHUP\)/);
  const after = JSON.parse((await scgiRequest({ host: '127.0.0.1', port })).body.toString()) as Whoami;
  assert.notEqual(after.pid, before.pid);
  assert.deepEqual(await credentials(after.pid), { uid: '65534 65534 65534 65534', gid: '65534 65534 65534 65534', groups: '' });

  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0, server.output());
  const db = join(storeDir, 'timings.db');
  assert.equal((await stat(db)).uid, nobody.uid, 'the store file is the user\'s');
  assert.ok(!existsSync(`${db}-wal`) && !existsSync(`${db}-shm`), 'SQLite removed -wal and -shm at the stop');
  const sqlite = new Database(db, { readonly: true });
  t.after(() => sqlite.close());
  const { n } = sqlite.prepare('SELECT count(*) AS n FROM requests').get() as { n: number };
  assert.ok(n >= 2, `the dropped supervisor's store writer recorded the requests (${n} rows)`);
});

test('user when the server is not started as root: exit 2 with a clear message', { skip: notRoot }, async (t) => {
  const nobody = lookupUser('nobody');
  assert.ok(nobody);
  const dir = await testDir(t, 'drop-noroot');
  const config = join(dir, 'dragon.config.json');
  await writeFile(config, JSON.stringify({ user: 'daemon', stats: false, store: false, dashboard: false, apps: [{ name: 'shop', listen: '127.0.0.1:0', module: APP }] }));
  const server = runProcess(t, process.execPath, cliArgs(config), { uid: nobody.uid, gid: nobody.gid, cwd: dir });
  assert.equal(await server.exited, 2, server.output());
  assert.match(server.output(), /DOW_ERR_CONFIG: config .*: user: switching to daemon needs the server to be started as root \(it runs as uid 65534\)/);
});
