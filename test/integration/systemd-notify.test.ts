// Type=notify: READY=1, RELOADING=1/READY=1 and STOPPING=1 reach a real
// AF_UNIX datagram socket named by NOTIFY_SOCKET, from the server's own pid (NotifyAccess=main).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { readStatsPort } from '../../dashboard/stats-client.js';
import { getFreePort } from '../helpers/free-port.js';
import { captureLogs } from '../helpers/runtime.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { readFigures } from '../helpers/stats.js';
import { testDir } from '../helpers/temp-dir.js';
import { sleep } from '../helpers/wait.js';
import { createNotifier } from '../../server/systemd/sd-notify.js';
import { cliArgs, FIXTURES, listenForNotify, runProcess } from '../helpers/systemd.js';

type Whoami = { pid: number; inherited: string[] };

async function setUp(t: import('node:test').TestContext, prefix: string) {
  const dir = await testDir(t, prefix);
  const appPort = await getFreePort();
  const statsPort = await getFreePort();
  const unixPath = join(dir, 'app.sock');
  const config = join(dir, 'dragon.config.json');
  await writeFile(config, JSON.stringify({
    stats: `127.0.0.1:${statsPort}`,
    store: false,
    dashboard: false,
    apps: [
      { name: 'tcp', listen: `127.0.0.1:${appPort}`, module: join(FIXTURES, 'whoami-app.mjs'), workers: 2 },
      { name: 'inproc', listen: `unix:${unixPath}`, module: join(FIXTURES, 'whoami-app.mjs'), workers: 0 },
    ],
  }));
  return { dir, appPort, statsPort, unixPath, config };
}

async function workerPids(statsPort: number): Promise<string> {
  return (await readFigures(statsPort)).get('tcp_worker_pids') ?? '';
}

test('Type=notify: READY=1 once every listener accepts, RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1 on SIGTERM, WATCHDOG=1', async (t) => {
  const s = await setUp(t, 'notify');
  const notifyPath = join(s.dir, 'notify.sock');
  const listener = await listenForNotify(t, notifyPath);
  const server = runProcess(t, process.execPath, cliArgs(s.config), {
    env: { ...process.env, NOTIFY_SOCKET: notifyPath, WATCHDOG_USEC: '200000', DRAGON_ADMIN_TOKEN: 'notify-test-Zk3v9QpL2mX8rT4wB6yN1cJ5hF7dS0' },
  });

  const ready = await listener.next('READY', 0);
  // At the moment READY=1 is received, every listener takes a request (none is refused).
  const [tcp, unix, stats] = await Promise.all([
    scgiRequest({ host: '127.0.0.1', port: s.appPort }),
    scgiRequest({ path: s.unixPath }),
    readStatsPort('127.0.0.1', s.statsPort),
  ]);
  assert.equal(tcp.status, 200);
  assert.equal(unix.status, 200);
  assert.match(stats, /SCGI_SERVER_tcp_workers='2'/);
  assert.equal(ready.index, 0, 'READY=1 is the first message');
  assert.equal(ready.message.pid, server.child.pid, 'sent from the main pid (NotifyAccess=main)');
  assert.equal(ready.message.fields.get('MAINPID'), String(server.child.pid));
  assert.match(ready.message.fields.get('STATUS') ?? '', /serving .*127\.0\.0\.1/);
  // Workers and the in-process app do not inherit the variables (they must not notify), nor the
  // admin token.
  assert.deepEqual((JSON.parse(tcp.body.toString()) as Whoami).inherited, []);
  assert.deepEqual((JSON.parse(unix.body.toString()) as Whoami).inherited, []);

  // WATCHDOG_USEC=200000: WATCHDOG=1 every 100 ms from the supervisor's event loop.
  const first = await listener.next('WATCHDOG', 0);
  await listener.next('WATCHDOG', first.index + 1);

  const oldPids = await workerPids(s.statsPort);
  const fromReload = listener.messages.length;
  server.child.kill('SIGHUP');
  const reloading = await listener.next('RELOADING', fromReload);
  assert.match(reloading.message.fields.get('MONOTONIC_USEC') ?? '', /^\d+$/);
  const readyAgain = await listener.next('READY', reloading.index + 1);
  assert.ok(readyAgain.index > reloading.index);
  // READY=1 came after the reload finished: the workers are new.
  const newPids = await workerPids(s.statsPort);
  assert.notEqual(newPids, '');
  for (const pid of oldPids.split(' ')) assert.ok(!newPids.split(' ').includes(pid), `${pid} was replaced (${oldPids} -> ${newPids})`);
  assert.match(server.output(), /tcp: reloaded \(SIGHUP\)/);

  const fromStop = listener.messages.length;
  server.child.kill('SIGTERM');
  const stopping = await listener.next('STOPPING', fromStop);
  assert.equal(stopping.message.pid, server.child.pid);
  assert.equal(await server.exited, 0);
});

test('a NOTIFY_SOCKET nobody listens on: the server serves, reloads and stops as usual and logs the failure once', async (t) => {
  const s = await setUp(t, 'notify-fail');
  const server = runProcess(t, process.execPath, cliArgs(s.config), {
    env: { ...process.env, NOTIFY_SOCKET: join(s.dir, 'nobody-listens.sock') },
  });
  await server.waitFor(/UP on 127\.0\.0\.1:\d+ \(stats\)/);
  await server.waitFor(/systemd notification to .* failed/);
  assert.equal((await scgiRequest({ host: '127.0.0.1', port: s.appPort })).status, 200);
  server.child.kill('SIGHUP');
  await server.waitFor(/tcp: reloaded \(SIGHUP\)/);
  assert.equal((await scgiRequest({ host: '127.0.0.1', port: s.appPort })).status, 200);
  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0);
  assert.equal(server.output().match(/systemd notification to/g)?.length, 1, server.output());
});

test('a start that fails (a port in use) sends STATUS= with the reason, never READY=1, and exits 2', async (t) => {
  const s = await setUp(t, 'notify-failed');
  const notifyPath = join(s.dir, 'notify.sock');
  const listener = await listenForNotify(t, notifyPath);
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(s.appPort, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const server = runProcess(t, process.execPath, cliArgs(s.config), { env: { ...process.env, NOTIFY_SOCKET: notifyPath } });
  assert.equal(await server.exited, 2, server.output());
  const status = await listener.next('STATUS', 0);
  assert.match(status.message.fields.get('STATUS') ?? '', /^failed to start: DOW_ERR_LISTEN: cannot listen on 127\.0\.0\.1:\d+: address already in use/);
  assert.equal(listener.messages.filter((m) => m.fields.has('READY')).length, 0);
});

test('the notifier: clears NOTIFY_SOCKET and WATCHDOG_*, pings only the pid WATCHDOG_PID names, and an abstract socket is logged once, not thrown', async (t) => {
  const dir = await testDir(t, 'notifier');
  const path = join(dir, 'notify.sock');
  const listener = await listenForNotify(t, path);
  const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: path, WATCHDOG_USEC: '100000', WATCHDOG_PID: String(process.pid + 1), KEEP: '1' };
  const { logs, logger } = captureLogs();
  const notifier = createNotifier(env, logger);
  t.after(() => notifier.close());
  assert.deepEqual(env, { KEEP: '1' });
  notifier.startWatchdog();
  notifier.notify({ STATUS: 'two\nlines', READY: 1 });
  const status = await listener.next('STATUS', 0);
  // A newline would start a new KEY=value line: it is flattened.
  assert.equal(status.message.fields.get('STATUS'), 'two lines');
  assert.equal(status.message.pid, process.pid);
  // A negative check: four watchdog intervals (50 ms each) with no WATCHDOG=1.
  await sleep(400);
  assert.equal(listener.messages.filter((m) => m.fields.has('WATCHDOG')).length, 0, 'WATCHDOG_PID names another process');

  const abstract = createNotifier({ NOTIFY_SOCKET: '@dow-test' }, logger);
  abstract.notify({ READY: 1 });
  abstract.notify({ STOPPING: 1 });
  assert.equal(logs.filter((l) => /abstract sockets \(@name\) are not supported/.test(String(l.msg))).length, 1);
  assert.equal(createNotifier({}, logger).enabled, false);
});
