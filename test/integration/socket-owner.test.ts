// socketOwner/socketGroup: the documented set-up, mode 0660 with group
// www-data, lets a www-data process connect and keeps every other user out; a user or group that
// does not exist is a config error naming the field. Real users and groups from Debian's base
// system (nobody, www-data, daemon) and real sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { resolveRunAs } from '../../server/config/config-credentials.js';
import { settingsFromConfig } from '../../server/config/config.js';
import { Supervisor } from '../../server/supervisor/supervisor.js';
import { testDir } from '../helpers/temp-dir.js';
import { cannotRunAsNobody, cliArgs, FIXTURES, runProcess } from '../helpers/systemd.js';
import { lookupGroup, lookupUser } from '../../server/config/unix-ids.js';

const APP = join(FIXTURES, 'whoami-app.mjs');
const SETPRIV = '/usr/bin/setpriv';
const notRoot = process.getuid?.() !== 0 ? 'needs root (chown to another user)' : false;

/** Connects to a Unix socket from a process running as `uid:gid`; says 'connected' or the errno. */
async function connectAs(path: string, uid: number, gid: number): Promise<string> {
  const script = `require('node:net').connect(${JSON.stringify(path)}).on('connect', () => { process.stdout.write('connected'); process.exit(0); }).on('error', (e) => { process.stdout.write(e.code); process.exit(0); })`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { uid, gid, timeout: 10_000 });
  return stdout;
}

test('a user or group that does not exist, or an owner for a TCP socket, is a config error naming the field', async () => {
  const app = { name: 'shop', listen: 'unix:/tmp/dow-never.sock', module: APP };
  await assert.rejects(settingsFromConfig({ apps: [{ ...app, socketGroup: 'dow-no-such-group' }] }, FIXTURES),
    { code: 'DOW_ERR_CONFIG', message: /apps\[0\]\.socketGroup: no group "dow-no-such-group" on this system/ });
  await assert.rejects(settingsFromConfig({ apps: [{ ...app, socketOwner: 'dow-no-such-user' }] }, FIXTURES),
    { code: 'DOW_ERR_CONFIG', message: /apps\[0\]\.socketOwner: no user "dow-no-such-user" on this system/ });
  await assert.rejects(settingsFromConfig({ apps: [{ ...app, listen: '127.0.0.1:0', socketGroup: 'www-data' }] }, FIXTURES),
    { code: 'DOW_ERR_CONFIG', message: /apps\[0\]\.socketGroup: only a unix: socket has an owner/ });
  await assert.rejects(settingsFromConfig({ user: 'dow-no-such-user', apps: [app] }, FIXTURES),
    { code: 'DOW_ERR_CONFIG', message: /user: no user "dow-no-such-user"/ });
  await assert.rejects(settingsFromConfig({ user: 'nobody', group: 'dow-no-such-group', apps: [app] }, FIXTURES),
    { code: 'DOW_ERR_CONFIG', message: /group: no group "dow-no-such-group"/ });
  await assert.rejects(settingsFromConfig({ group: 'www-data', apps: [app] }, FIXTURES),
    { code: 'DOW_ERR_CONFIG', message: /group: set user as well/ });
  await assert.rejects(settingsFromConfig({ user: 'nobody', apps: [{ ...app, workers: 0 }] }, FIXTURES),
    { code: 'DOW_ERR_CONFIG', message: /apps\[0\]\.workers: 0 \(in-process\) cannot be combined with user/ });
  // Started as someone other than root and the user: switching is impossible, said at load.
  assert.throws(() => resolveRunAs({ user: 'nobody', apps: [{}] }, 'x.json', 1000),
    { code: 'DOW_ERR_CONFIG', message: /user: switching to nobody needs the server to be started as root \(it runs as uid 1000\)/ });
  // Names and numbers both resolve, through getent (NSS).
  assert.equal(lookupGroup('www-data')?.gid, 33);
  assert.equal(lookupGroup(33)?.name, 'www-data');
  assert.equal(lookupUser('nobody')?.uid, 65534);
});

test('socketOwner nobody, socketGroup www-data, mode 0660: www-data connects, another user is refused (workers and in-process)', { skip: notRoot }, async (t) => {
  const dir = await testDir(t, 'owner');
  const settings = await settingsFromConfig({
    stats: false,
    store: false,
    dashboard: false,
    apps: [
      { name: 'pool', listen: `unix:${join(dir, 'pool.sock')}`, module: APP, socketMode: 0o660, socketOwner: 'nobody', socketGroup: 'www-data' },
      { name: 'inproc', listen: `unix:${join(dir, 'inproc.sock')}`, module: APP, workers: 0, socketMode: 0o660, socketGroup: 33 },
    ],
  }, dir);
  const supervisor = new Supervisor(settings, pino({ level: 'silent' }), null);
  t.after(() => supervisor.stop(0));
  await supervisor.start();
  const wwwData = lookupUser('www-data');
  const daemon = lookupUser('daemon');
  assert.ok(wwwData && daemon, 'Debian base users www-data and daemon');
  for (const [name, owner] of [['pool.sock', 65534], ['inproc.sock', 0]] as const) {
    const path = join(dir, name);
    const s = await stat(path);
    assert.equal(s.uid, owner, `${name} owner`);
    assert.equal(s.gid, 33, `${name} group`);
    assert.equal(s.mode & 0o777, 0o660, `${name} mode`);
    assert.equal(await connectAs(path, wwwData.uid, wwwData.gid), 'connected', `www-data connects to ${name}`);
    assert.equal(await connectAs(path, daemon.uid, daemon.gid), 'EACCES', `daemon is refused at ${name}`);
  }
});

test('the documented unit: a service user in www-data (SupplementaryGroups=) gives its socket to www-data itself; without the membership it is a clear error', { skip: cannotRunAsNobody() || (existsSync(SETPRIV) ? false : `${SETPRIV} is missing (util-linux)`) }, async (t) => {
  const dir = await testDir(t, 'owner-user');
  // The folder is the service user's, as RuntimeDirectory= makes it.
  await chown(dir, 65534, 65534);
  const path = join(dir, 'shop.sock');
  const config = join(dir, 'dragon.config.json');
  await writeFile(config, JSON.stringify({ stats: false, store: false, dashboard: false, apps: [{ name: 'shop', listen: `unix:${path}`, module: APP, socketMode: 0o660, socketGroup: 'www-data' }] }));
  // What User=nobody with SupplementaryGroups=www-data starts the server as.
  const member = runProcess(t, SETPRIV, ['--reuid=65534', '--regid=65534', '--groups=33', process.execPath, ...cliArgs(config)]);
  await member.waitFor(/UP on unix:.*shop\.sock/);
  const s = await stat(path);
  assert.deepEqual([s.uid, s.gid, s.mode & 0o777], [65534, 33, 0o660]);
  const wwwData = lookupUser('www-data');
  const daemon = lookupUser('daemon');
  assert.ok(wwwData && daemon);
  assert.equal(await connectAs(path, wwwData.uid, wwwData.gid), 'connected');
  assert.equal(await connectAs(path, daemon.uid, daemon.gid), 'EACCES');
  member.child.kill('SIGTERM');
  assert.equal(await member.exited, 0, member.output());

  const stranger = runProcess(t, SETPRIV, ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...cliArgs(config)]);
  assert.equal(await stranger.exited, 2, stranger.output());
  assert.match(stranger.output(), /DOW_ERR_LISTEN: cannot listen on unix:.*shop\.sock: not permitted to give the socket to uid -1 gid 33 \(needs root, or for socketGroup alone membership of the group/);
});
