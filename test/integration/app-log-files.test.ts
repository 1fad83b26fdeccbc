/**
 * Per-app log files: `log.file` naming a folder (or a pattern with `{app}`) gives each app's
 * workers a file of their own and the supervisor dragon-on-wheels.log; SIGUSR1 after logrotate
 * moved them all makes every process open new files at the same paths. What a worker's app prints
 * goes to its own file too, and stays on the server's stdout when there is no file per app.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../server/config/config.js';
import { serveConfig } from '../helpers/cli-process.js';
import { getFreePorts } from '../helpers/free-port.js';
import { openFiles } from '../helpers/proc.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { readLines, waitForLine, type LogLine } from '../helpers/log-file.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

const message = (pattern: RegExp) => (l: LogLine): boolean => typeof l.msg === 'string' && pattern.test(l.msg);

test('log.file naming a folder: each app\'s file holds only its lines, the supervisor\'s its own; SIGUSR1 after a rename opens new files everywhere', async (t) => {
  const dir = await testDir(t, 'app-logs');
  const [shopPort, blogPort, apiPort] = await getFreePorts(3);
  const server = await serveConfig(t, dir, {
    stats: false, store: false, dashboard: false,
    apps: [
      { name: 'shop', listen: `127.0.0.1:${shopPort}`, module: `${FIXTURES}hello-node.mjs`, workers: 1 },
      { name: 'blog', listen: `127.0.0.1:${blogPort}`, module: `${FIXTURES}hello-node.mjs`, workers: 1 },
      // In-process: its lines are written by the supervisor, to the app's file all the same.
      { name: 'api', listen: `127.0.0.1:${apiPort}`, module: `${FIXTURES}hello-node.mjs`, workers: 0 },
    ],
    log: { file: 'logs/', access: true },
  });
  const logs = join(dir, 'logs');
  const main = join(logs, 'dragon-on-wheels.log');
  const files = { shop: join(logs, 'shop.log'), blog: join(logs, 'blog.log'), api: join(logs, 'api.log') };
  await waitForLine(main, message(/^UP on .*\(shop, /));
  await waitForLine(main, message(/^UP on .*\(blog, /));
  await waitForLine(main, message(/^UP on .*\(api, in-process/));
  const pids: Record<string, number> = { api: server.child.pid as number };
  for (const app of ['shop', 'blog']) pids[app] = (await waitForLine(files[app as 'shop'], message(new RegExp(`^${app}: serving `)))).pid as number;
  const ports = { shop: shopPort, blog: blogPort, api: apiPort };
  for (const [app, port] of Object.entries(ports)) assert.equal((await scgiRequest({ port }, { uri: `/${app}-first` })).status, 200);
  for (const [app, file] of Object.entries(files)) {
    await waitForLine(file, (l) => l.access === true && l.url === `/${app}-first`);
    const lines = await readLines(file);
    assert.deepEqual(lines.filter((l) => l.app !== app || l.pid !== pids[app]), [], `${file} holds another process's or app's lines`);
  }
  assert.deepEqual((await readLines(main)).filter((l) => l.pid !== server.child.pid || l.access === true), [], 'the main file holds only the supervisor\'s own lines');
  assert.equal((await readLines(files.api)).filter((l) => l.access === true).length, 1, 'the in-process app\'s access line is in its file');
  assert.equal(server.output(), '', 'nothing on stdout or stderr');

  // logrotate: every file moved, then one SIGUSR1 to the supervisor.
  for (const file of [main, ...Object.values(files)]) await rename(file, `${file}.1`);
  process.kill(server.child.pid as number, 'SIGUSR1');
  // The supervisor's two files (its own and the in-process app's), then each worker's.
  await waitForLine(main, message(/^SIGUSR1: 2 log files reopened, passed on to workers/));
  for (const app of ['shop', 'blog', 'api']) {
    const file = files[app as 'shop'];
    await waitUntil(`${app}'s worker writing to the new file`, () => {
      const open = openFiles(pids[app] as number);
      return open.includes(file) && !open.includes(`${file}.1`);
    });
  }
  for (const [app, port] of Object.entries(ports)) assert.equal((await scgiRequest({ port }, { uri: `/${app}-second` })).status, 200);
  for (const [app, file] of Object.entries(files)) {
    await waitForLine(file, (l) => l.access === true && l.url === `/${app}-second`);
    const old = await readFile(`${file}.1`, 'utf8');
    assert.match(old, new RegExp(`/${app}-first`));
    assert.doesNotMatch(old, /-second/);
  }
});

test('log.file: a pattern with {app}, a folder without the slash, and a plain file', async (t) => {
  const dir = await testDir(t, 'app-logs-config');
  await writeFile(join(dir, 'app.mjs'), "export default (req, res) => res.end('hi');\n");
  const logFiles = async (file: string): Promise<{ file?: string; appFile?: string }> => {
    const config = join(dir, 'dragon.config.json');
    await writeFile(config, JSON.stringify({ stats: false, store: false, dashboard: false, apps: [{ name: 'shop', listen: '127.0.0.1:0', module: 'app.mjs' }], log: { file } }));
    const { log } = await loadConfigFile(config);
    return { ...(log.file === undefined ? {} : { file: log.file }), ...(log.appFile === undefined ? {} : { appFile: log.appFile }) };
  };
  assert.deepEqual(await logFiles('/var/log/dragon/{app}-out.log'), { file: '/var/log/dragon/dragon-on-wheels-out.log', appFile: '/var/log/dragon/{app}-out.log' });
  // An existing folder, named without the trailing slash.
  assert.deepEqual(await logFiles('.'), { file: join(dir, 'dragon-on-wheels.log'), appFile: join(dir, '{app}.log') });
  assert.deepEqual(await logFiles('server.log'), { file: join(dir, 'server.log') });
});

test('log.file with {app}: what a worker\'s app prints goes to its own file, one JSON line per write, and to the new file after SIGUSR1', async (t) => {
  const dir = await testDir(t, 'app-console');
  const [shopPort, blogPort] = await getFreePorts(2);
  const server = await serveConfig(t, dir, {
    stats: false, store: false, dashboard: false,
    apps: [
      { name: 'shop', listen: `127.0.0.1:${shopPort}`, module: `${FIXTURES}console-app.mjs`, workers: 1 },
      { name: 'blog', listen: `127.0.0.1:${blogPort}`, module: `${FIXTURES}console-app.mjs`, workers: 1 },
    ],
    // Above the app's lines' levels: the server's log.level never filters what the app prints.
    log: { file: 'logs/{app}-out.log', level: 'fatal' },
  });
  const files = { shop: join(dir, 'logs', 'shop-out.log'), blog: join(dir, 'logs', 'blog-out.log') };
  const printed = (app: 'shop' | 'blog', uri: string, stream: 'stdout' | 'stderr') => (l: LogLine): boolean =>
    l.app === app && l.stream === stream && l.msg === `${stream === 'stdout' ? 'out' : 'err'} ${uri}`;
  // Printed at import, before the worker listens.
  const loading = await waitForLine(files.shop, (l) => typeof l.msg === 'string' && l.msg.startsWith('loading in pid '));
  const shopPid = loading.pid as number;
  assert.equal(loading.msg, `loading in pid ${shopPid}`);

  await waitUntil('shop answers', async () => (await scgiRequest({ port: shopPort }, { uri: '/shop-first' }).catch(() => null))?.status === 200);
  await waitUntil('blog answers', async () => (await scgiRequest({ port: blogPort }, { uri: '/blog-first' }).catch(() => null))?.status === 200);
  const out = await waitForLine(files.shop, printed('shop', '/shop-first', 'stdout'));
  const err = await waitForLine(files.shop, printed('shop', '/shop-first', 'stderr'));
  assert.deepEqual([out.level, out.pid, out.worker, err.level, err.pid], [30, shopPid, shopPid, 50, shopPid]);
  await waitForLine(files.blog, printed('blog', '/blog-first', 'stderr'));
  // Each app's output in its file only, none on the server's stdout or stderr.
  assert.deepEqual((await readLines(files.shop)).filter((l) => l.app !== 'shop'), []);
  assert.deepEqual((await readLines(files.blog)).filter((l) => l.app !== 'blog' || String(l.msg).includes('/shop-')), []);
  assert.equal(server.output(), '', 'nothing on stdout or stderr');

  // logrotate moved shop's file: SIGUSR1 to the supervisor, passed on to the worker.
  await rename(files.shop, `${files.shop}.1`);
  process.kill(server.child.pid as number, 'SIGUSR1');
  await waitUntil('shop\'s worker writing to the new file', () => {
    const open = openFiles(shopPid);
    return open.includes(files.shop) && !open.includes(`${files.shop}.1`);
  });
  assert.equal((await scgiRequest({ port: shopPort }, { uri: '/shop-second' })).status, 200);
  await waitForLine(files.shop, printed('shop', '/shop-second', 'stdout'));
  await waitForLine(files.shop, printed('shop', '/shop-second', 'stderr'));
  const old = await readFile(`${files.shop}.1`, 'utf8');
  assert.match(old, /out \/shop-first/);
  assert.doesNotMatch(old, /shop-second/);
});

test('log.file naming one file for every process: what the app prints stays on the server\'s stdout and stderr', async (t) => {
  const dir = await testDir(t, 'app-console-shared');
  const port = (await getFreePorts(1))[0] as number;
  const server = await serveConfig(t, dir, {
    stats: false, store: false, dashboard: false,
    apps: [{ name: 'shop', listen: `127.0.0.1:${port}`, module: `${FIXTURES}console-app.mjs`, workers: 1 }],
    log: { file: 'server.log' },
  });
  await waitUntil('shop answers', async () => (await scgiRequest({ port }, { uri: '/shared' }).catch(() => null))?.status === 200);
  await server.waitFor(/^out \/shared$/m);
  await server.waitFor(/^err \/shared$/m);
  await waitForLine(join(dir, 'server.log'), message(/^shop: serving /));
  assert.doesNotMatch(await readFile(join(dir, 'server.log'), 'utf8'), /\/shared/);
});

test('a log.file that cannot be created: serve refuses to start, naming the file and why, before anything forks', async (t) => {
  const dir = await testDir(t, 'app-console-unwritable');
  const port = (await getFreePorts(1))[0] as number;
  // A file where the folder should be: no process can create the log files under it.
  await writeFile(join(dir, 'blocked'), 'not a folder\n');
  const server = await serveConfig(t, dir, {
    stats: false, store: false, dashboard: false,
    apps: [{ name: 'shop', listen: `127.0.0.1:${port}`, module: `${FIXTURES}console-app.mjs`, workers: 1 }],
    log: { file: 'blocked/{app}.log' },
  });
  assert.equal(await server.exited, 2, server.output());
  assert.match(server.output(), /DOW_ERR_LOG_FILE: log\.file .*blocked\/dragon-on-wheels\.log: E(NOTDIR|EXIST): a file stands where a folder of its path should be/);
  assert.doesNotMatch(server.output(), /loading in pid|sonic boom/);
});
