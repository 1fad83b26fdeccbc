/**
 * Type=notify around overlapping SIGHUPs: a second SIGHUP during a reload gets a follow-up reload,
 * and READY=1 waits for it, so that systemd never takes the first reload's end for the second's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getFreePorts } from '../helpers/free-port.js';
import { gatedLoads, gatedModule } from '../helpers/gated-app.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { readFigures } from '../helpers/stats.js';
import { cliArgs, listenForNotify, runProcess } from '../helpers/systemd.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';

test('a SIGHUP during a reload: READY=1 only once the follow-up reload it asked for has ended', async (t) => {
  const dir = await testDir(t, 'notify-reloads');
  const [port, stats] = await getFreePorts(2);
  const module = join(dir, 'app.mjs');
  const log = join(dir, 'loads.log');
  const [open, gate1, gate2] = [join(dir, 'open'), join(dir, 'gate1'), join(dir, 'gate2')];
  await writeFile(open, '');
  await writeFile(module, gatedModule('v0', log, open));
  const config = join(dir, 'dragon.config.json');
  await writeFile(config, JSON.stringify({ stats: `127.0.0.1:${stats}`, store: false, dashboard: false, apps: [{ name: 'app', listen: `127.0.0.1:${port}`, module }] }));
  const notifyPath = join(dir, 'notify.sock');
  const listener = await listenForNotify(t, notifyPath);
  // WATCHDOG=1 every 100 ms: datagrams from one sender arrive in order, so a WATCHDOG=1 sent after
  // an event shows that every message sent before it has arrived.
  const server = runProcess(t, process.execPath, cliArgs(config), { env: { ...process.env, NOTIFY_SOCKET: notifyPath, WATCHDOG_USEC: '200000' } });
  await listener.next('READY', 0);
  const figure = async (key: string): Promise<string | undefined> => (await readFigures(stats)).get(key);

  await writeFile(module, gatedModule('v1', log, gate1));
  server.child.kill('SIGHUP');
  const first = await listener.next('RELOADING', 0);
  await waitUntil('the first reload loading v1', async () => (await gatedLoads(log)).some(([tag]) => tag === 'v1'));
  await writeFile(module, gatedModule('v2', log, gate2));
  server.child.kill('SIGHUP');
  const second = await listener.next('RELOADING', first.index + 1);

  // The first reload ends; the follow-up now loads v2 and waits at its own gate.
  await writeFile(gate1, '');
  await waitUntil('the first reload ended', async () => (await figure('app_reloads')) === '1');
  await waitUntil('the follow-up loading v2', async () => (await gatedLoads(log)).some(([tag]) => tag === 'v2'));
  const after = listener.messages.length;
  const watchdog = await listener.next('WATCHDOG', after);
  const early = listener.messages.slice(second.index + 1, watchdog.index).find((m) => m.fields.has('READY'));
  assert.equal(early, undefined, 'READY=1 came while the reload the second SIGHUP asked for was still loading');

  await writeFile(gate2, '');
  const ready = await listener.next('READY', second.index + 1);
  assert.ok(ready.index > watchdog.index);
  assert.equal(await figure('app_reloads'), '2');
  assert.equal((await scgiRequest({ port }, { uri: '/' })).body.toString(), 'v2');
});
