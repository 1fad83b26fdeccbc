/**
 * First-day config slips: a relative Unix socket path lies next to
 * the config file (as module and store.path do), a dashboard on a Unix socket gets one message
 * that does not contradict itself, and an app port reachable beyond this host is warned about.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfigFile } from '../../server/config/config.js';
import { exposureWarning } from '../../server/config/exposure-warning.js';
import { Supervisor } from '../../server/supervisor/supervisor.js';
import { parseTcpAddress } from '../../shared/listen-address.js';
import { testDir } from '../helpers/temp-dir.js';
import { captureLogs, toTarget } from '../helpers/runtime.js';
import { scgiRequest } from '../helpers/scgi-client.js';

test('unix:rel.sock resolves against the config file\'s folder, not the current directory', async (t) => {
  const dir = await testDir(t, 'first-run');
  await writeFile(join(dir, 'app.mjs'), "export default (req, res) => res.end('here');\n");
  const file = join(dir, 'dragon.config.json');
  await writeFile(file, JSON.stringify({
    stats: 'unix:stats.sock',
    store: false,
    dashboard: false,
    apps: [{ name: 'shop', listen: 'unix:run/shop.sock', module: './app.mjs', workers: 0 }],
  }));
  await mkdir(join(dir, 'run'));
  assert.notEqual(process.cwd(), dir);
  const settings = await loadConfigFile(file);
  assert.equal(settings.apps[0]?.listen, `unix:${join(dir, 'run', 'shop.sock')}`);
  assert.equal(settings.stats, `unix:${join(dir, 'stats.sock')}`);

  const { logs, logger } = captureLogs();
  const supervisor = new Supervisor(settings, logger, null);
  await supervisor.start();
  t.after(() => supervisor.stop(0));
  assert.ok(existsSync(join(dir, 'run', 'shop.sock')));
  assert.ok(existsSync(join(dir, 'stats.sock')));
  assert.equal(existsSync(join(process.cwd(), 'run', 'shop.sock')), false);
  const res = await scgiRequest(toTarget(supervisor.addresses[0] as string), { uri: '/' });
  assert.equal(res.body.toString(), 'here');
  // A Unix socket is reachable only through its file mode: no exposure warning.
  assert.equal(logs.some((l) => /not a loopback address/.test(String(l.msg))), false);
});

test('a dashboard on a Unix socket gets one message that does not contradict itself', async (t) => {
  const dir = await testDir(t, 'first-run');
  await writeFile(join(dir, 'app.mjs'), "export default (req, res) => res.end('here');\n");
  const file = join(dir, 'dragon.config.json');
  await writeFile(file, JSON.stringify({ dashboard: { listen: 'unix:/run/dragon/dashboard.sock' }, apps: [{ name: 'shop', listen: '127.0.0.1:0', module: './app.mjs' }] }));
  await assert.rejects(loadConfigFile(file), (err: Error) => {
    assert.match(err.message, /dashboard\.listen: must be host:port, not "unix:\/run\/dragon\/dashboard\.sock": the dashboard listens on TCP only/);
    return true;
  });
  // The same address given to the dashboard command: no list naming unix:/path.sock as allowed.
  assert.throws(() => parseTcpAddress('unix:/run/dragon/dashboard.sock'), (err: Error) => {
    assert.match(err.message, /expected host:port here: the dashboard and the stats port client do not use a Unix or systemd socket/);
    assert.doesNotMatch(err.message, /unix:\/path\.sock/);
    return true;
  });
});

test('an app port reachable beyond this host is warned about at start; loopback is not', () => {
  for (const address of ['0.0.0.0:9002', '[::]:9002', '10.0.0.5:9002', 'example.org:9002']) {
    assert.match(exposureWarning('shop', address) ?? '', /shop: listens on .*, not a loopback address: anyone who can connect can forge REMOTE_ADDR and HTTPS=on/, address);
  }
  for (const address of ['127.0.0.1:9002', '[::1]:9002', 'localhost:9002', 'unix:/run/shop.sock']) {
    assert.equal(exposureWarning('shop', address), null, address);
  }
});
