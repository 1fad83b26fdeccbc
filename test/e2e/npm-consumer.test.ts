/**
 * The released package as a consumer meets it: `npm pack` of this checkout, the tarball installed
 * into a fresh folder with the README's own install commands, Express beside it from the registry,
 * `npx dragon-on-wheels serve` there, a real SCGI request, SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { getFreePorts } from '../helpers/free-port.js';
import { installCommands, STRICT_NPM_ENV } from '../helpers/install-doc.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { readFigures } from '../helpers/stats.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// better-sqlite3 compiles from source where its prebuilt binary cannot be downloaded: minutes.
const INSTALL_TIMEOUT_MS = 8 * 60_000;
const QUIET = ['--prefer-offline', '--no-audit', '--no-fund'];

test('npm pack, npm install into a fresh folder beside Express, npx dragon-on-wheels serve: answers SCGI, stops on SIGTERM', { timeout: 12 * 60_000 }, async (t) => {
  const dir = await testDir(t, 'consumer');

  // `prepare` builds dist/ first, as it does for `npm publish`.
  const packed = await run('npm', ['pack', '--json', '--pack-destination', dir, ...QUIET], { cwd: ROOT, timeout: 5 * 60_000, maxBuffer: 64 * 1024 * 1024 });
  const jsonStart = packed.stdout.indexOf('[');
  const [info] = JSON.parse(packed.stdout.slice(jsonStart)) as Array<{ filename: string; files: Array<{ path: string }> }>;
  assert.ok(info);
  const shipped = info.files.map((f) => f.path);
  assert.ok(shipped.includes('dist/bin/dragon-on-wheels.js'), 'the CLI is in the package');
  assert.ok(shipped.includes('dist/dashboard/public/index.html'), 'the dashboard page is in the package');
  assert.ok(shipped.includes('native/src/addon.c') && shipped.includes('native/binding.gyp') && shipped.includes('scripts/build-native.mjs'), 'the native core\'s sources and build script are in the package');
  assert.ok(!shipped.some((p) => p.startsWith('native/build/') || p.startsWith('native/fuzz/')), 'no build output or fuzz corpus shipped');
  assert.ok(!shipped.some((p) => p.startsWith('test/') || p.startsWith('node_modules/')), 'no tests or dependencies shipped');

  const app = join(dir, 'app');
  await run('mkdir', [app]);
  // The README's install commands, as written there (docs/install.md repeats them), with the
  // tarball's path put in. npm's strict script check fails the install if any install script
  // (ours, better-sqlite3's, unix-dgram's) is not covered by the allowScripts they write; npm 11.19
  // only lists an implicit `node-gyp rebuild` (unix-dgram's) even then, so the list is checked too.
  const tarball = join(dir, info.filename);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
  const commands = await installCommands(tarball);
  const npmEnv = { ...process.env, ...STRICT_NPM_ENV };
  const installed = await run('bash', ['-euo', 'pipefail', '-c', commands], { cwd: app, env: npmEnv, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
  assert.doesNotMatch(installed.stderr, /not yet covered by allowScripts/, installed.stderr);
  const express = await run('npm', ['install', 'express@5'], { cwd: app, env: npmEnv, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
  assert.doesNotMatch(express.stderr, /not yet covered by allowScripts/, express.stderr);
  await access(join(app, 'node_modules/unix-dgram/build/Release/unix_dgram.node'));
  await access(join(app, 'node_modules/dragon-on-wheels/native/build/Release/dow_native.node'));

  await writeFile(join(app, 'app.mjs'), [
    "import express from 'express';",
    'const app = express();',
    "app.get('/hello', (req, res) => res.json({ from: 'express', path: req.path }));",
    'export default app;',
    '',
  ].join('\n'));
  const [port, stats, dashboard] = await getFreePorts(3);
  await writeFile(join(app, 'dragon.config.mjs'), `export default {
  stats: '127.0.0.1:${stats}',
  store: { path: 'timings.db', flushInterval: 100 },
  dashboard: { listen: '127.0.0.1:${dashboard}' },
  apps: [{ name: 'shop', listen: '127.0.0.1:${port}', module: './app.mjs' }],
};\n`);

  // The consumer's own npx, from its folder: it must find the package's bin.
  // io 'auto' as a consumer has it, whatever DOW_IO this run has (Node 22's run sets node).
  const child = spawn('npx', ['--no-install', 'dragon-on-wheels', 'serve', 'dragon.config.mjs', '--log-format', 'json'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, DOW_IO: '' } });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(() => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch { /* already gone */ }
  });
  await waitUntil('the server started', () => output.includes('dashboard on http://'), { timeoutMs: 60_000, intervalMs: 50 }).catch((err: Error) => {
    throw new Error(`${err.message}:\n${output}`);
  });

  assert.match(output, /UP on 127\.0\.0\.1:\d+ \(shop, 1 worker, Express app\), native I\/O/, 'served by the native I/O core built on install');
  const response = await scgiRequest({ port }, { uri: '/hello?x=1' });
  assert.equal(response.status, 200, response.raw.toString());
  assert.deepEqual(JSON.parse(response.body.toString()), { from: 'express', path: '/hello' });

  // SIGTERM to the server itself (npx would die of a signal sent to the whole group before the
  // server's drain ends); npx then exits with the server's code.
  const pid = Number((await readFigures(stats)).get('supervisor_pid'));
  assert.ok(pid > 0 && pid !== child.pid);
  process.kill(pid, 'SIGTERM');
  assert.equal(await exited, 0, output);
  assert.match(output, /stopped; timing store wrote 1 rows/);
  assert.ok((await readFile(join(app, 'timings.db'))).length > 0, 'the timing store was written through better-sqlite3');
});
