/**
 * `dragon-on-wheels check <config>` as a deploy pipeline runs it: a real child
 * process, real config and app files, exit codes 0 and 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getFreePort } from '../helpers/free-port.js';
import { testDir } from '../helpers/temp-dir.js';

const CLI = fileURLToPath(new URL('../../bin/dragon-on-wheels.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

function check(file: string, ...flags: string[]) {
  const env = { ...process.env };
  // What serve defaults to when it is unset is what check must load the app with.
  delete env.NODE_ENV;
  return spawnSync(process.execPath, ['--import', TSX, CLI, 'check', file, ...flags], { encoding: 'utf8', timeout: 30_000, env });
}

async function appDir(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await testDir(t, 'check');
  await writeFile(join(dir, 'node-app.mjs'), "export default (req, res) => res.end('hi');\n");
  await writeFile(join(dir, 'fetch-app.mjs'), "export const api = { fetch: () => new Response('hi') };\n");
  await writeFile(join(dir, 'throws.mjs'), "throw new Error('no DATABASE_URL at import');\n");
  return dir;
}

async function writeConfig(dir: string, name: string, config: unknown): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, JSON.stringify(config));
  return file;
}

test('check: a good config loads every app, prints one line each, exits 0, and listens on nothing', async (t) => {
  const dir = await appDir(t);
  // The port is held the whole time, as a running server holds it during a deploy: check must
  // not try to bind it.
  const held = createServer();
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
  t.after(() => held.close());
  const port = (held.address() as { port: number }).port;
  const file = await writeConfig(dir, 'good.json', {
    stats: `127.0.0.1:${await getFreePort()}`,
    apps: [
      { name: 'shop', listen: `127.0.0.1:${port}`, module: './node-app.mjs', workers: 2, threads: 4 },
      { name: 'api', listen: `unix:${join(dir, 'api.sock')}`, module: './fetch-app.mjs', export: 'api', workers: 0, threads: 1, protocol: 'http' },
    ],
  });
  const result = check(file);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr, '');
  assert.match(result.stdout, new RegExp(`^shop +127\\.0\\.0\\.1:${port} +scgi +node +2 workers, 4 threads(, native I\\/O)? +ok$`, 'm'));
  assert.match(result.stdout, /^api +unix:\S+api\.sock +http +fetch +in-process, 1 thread +ok$/m);
  assert.match(result.stdout, /good\.json: ok, 2 apps\n$/);
});

test('check: a bad key, an app that throws at import, a missing module: exit 2 with the error serve gives', async (t) => {
  const dir = await appDir(t);
  const port = await getFreePort();
  const badKey = check(await writeConfig(dir, 'bad-key.json', { apps: [{ name: 'shop', listen: `127.0.0.1:${port}`, module: './node-app.mjs', thread: 2 }] }));
  assert.equal(badKey.status, 2);
  assert.match(badKey.stderr, /DOW_ERR_CONFIG: config \S+bad-key\.json: apps\[0\]: unknown key "thread"/);

  const throws = check(await writeConfig(dir, 'throws.json', {
    apps: [
      { name: 'shop', listen: `127.0.0.1:${port}`, module: './node-app.mjs' },
      { name: 'broken', listen: `127.0.0.1:${await getFreePort()}`, module: './throws.mjs' },
    ],
  }));
  assert.equal(throws.status, 2);
  // Every app is checked: the good one is still reported.
  assert.match(throws.stdout, /^shop .* ok$/m);
  assert.match(throws.stdout, /^broken .* FAILED/m);
  assert.match(throws.stderr, /DOW_ERR_CONFIG: config \S+throws\.json: apps\[1\]\.module: app broken: cannot load module \S+throws\.mjs: no DATABASE_URL at import/);

  const missing = check(await writeConfig(dir, 'missing.json', { apps: [{ name: 'shop', listen: `127.0.0.1:${port}`, module: './nope.mjs' }] }));
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /DOW_ERR_CONFIG: config \S+missing\.json: apps\[0\]\.module: app shop: cannot load module \.\/nope\.mjs/);

  const noExport = check(await writeConfig(dir, 'no-export.json', { apps: [{ name: 'shop', listen: `127.0.0.1:${port}`, module: './fetch-app.mjs' }] }));
  assert.equal(noExport.status, 2);
  assert.match(noExport.stderr, /has no export named "default"/);

  const usage = spawnSync(process.execPath, ['--import', TSX, CLI, 'check'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /check takes exactly one config file or app/);
});

test('check: loads an app in its cwd with its envFile and env as its worker would, and shows the names but never the values', async (t) => {
  const dir = await appDir(t);
  await mkdir(join(dir, 'srv'));
  await writeFile(join(dir, 'srv', 'needs-env.mjs'), [
    "import { readFileSync } from 'node:fs';",
    "if (!process.env.DATABASE_URL) throw new Error('no DATABASE_URL at import');",
    "const banner = readFileSync('banner.txt', 'utf8');",
    'export default (req, res) => res.end(banner);',
  ].join('\n'));
  await writeFile(join(dir, 'srv', 'banner.txt'), 'hi');
  await writeFile(join(dir, 'shop.env'), 'DATABASE_URL=postgres://u:s3cret-from-file@db/shop\nSHARED=file\n');
  const file = await writeConfig(dir, 'env.json', {
    stats: false,
    apps: [{ name: 'shop', listen: '127.0.0.1:0', module: './srv/needs-env.mjs', envFile: 'shop.env', env: { API_KEY: 's3cret-in-config', SHARED: 'config' } }],
  });
  const result = check(file);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`^ +cwd ${join(dir, 'srv')}; env: API_KEY SHARED; envFile ${join(dir, 'shop.env')}: DATABASE_URL$`, 'm'));
  assert.doesNotMatch(result.stdout + result.stderr, /s3cret/);
});

test('check <app>: the one-app config serve <app> would build, with the same flags and the same refusals', async (t) => {
  const dir = await appDir(t);
  const port = await getFreePort();
  const plain = check(join(dir, 'node-app.mjs'));
  assert.equal(plain.status, 0, plain.stderr);
  // serve's defaults: named after the file, 127.0.0.1:9002, SCGI, 1 worker, 10 threads.
  assert.match(plain.stdout, /^node_app +127\.0\.0\.1:9002 +scgi +node +1 worker, 10 threads(, native I\/O)? +ok$/m);
  assert.match(plain.stdout, /node-app\.mjs: ok, 1 app\n$/);

  const flagged = check(join(dir, 'node-app.mjs'), '--listen', `127.0.0.1:${port}`, '--protocol', 'http', '--workers', '0', '--threads', '3', '--name', 'shop');
  assert.equal(flagged.status, 0, flagged.stderr);
  assert.match(flagged.stdout, new RegExp(`^shop +127\\.0\\.0\\.1:${port} +http +node +in-process, 3 threads +ok$`, 'm'));

  // A folder with package.json: its main, named after the package.
  await mkdir(join(dir, 'pkg'));
  await writeFile(join(dir, 'pkg', 'package.json'), JSON.stringify({ name: '@acme/web-shop', main: 'server.mjs' }));
  await writeFile(join(dir, 'pkg', 'server.mjs'), "export default { fetch: () => new Response('hi') };\n");
  const folder = check(join(dir, 'pkg'));
  assert.equal(folder.status, 0, folder.stderr);
  assert.match(folder.stdout, /^web_shop +127\.0\.0\.1:9002 +scgi +fetch +1 worker, 10 threads/m);

  // NODE_ENV as serve sets it: an app that refuses to load outside production loads.
  await writeFile(join(dir, 'prod-only.mjs'), "if (process.env.NODE_ENV !== 'production') throw new Error(`NODE_ENV is ${process.env.NODE_ENV}`);\nexport default (req, res) => res.end('hi');\n");
  const production = check(join(dir, 'prod-only.mjs'));
  assert.equal(production.status, 0, production.stderr);

  const throws = check(join(dir, 'throws.mjs'));
  assert.equal(throws.status, 2);
  assert.match(throws.stdout, /^throws .* FAILED/m);
  assert.match(throws.stderr, /DOW_ERR_CONFIG: config of `check \S+throws\.mjs` \(a config with only this app\): apps\[0\]\.module: app throws: cannot load module \S+throws\.mjs: no DATABASE_URL at import/);

  const noDefault = check(join(dir, 'fetch-app.mjs'));
  assert.equal(noDefault.status, 2);
  assert.match(noDefault.stderr, /has no export named "default"/);

  const badFlag = check(join(dir, 'node-app.mjs'), '--threads', '0');
  assert.equal(badFlag.status, 2);
  assert.match(badFlag.stderr, /DOW_ERR_CONFIG: config of `check \S+node-app\.mjs` .*apps\[0\]\.threads/);

  const missing = check(join(dir, 'gone.mjs'));
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /check: \S+gone\.mjs: no such file or directory/);

  await writeFile(join(dir, 'notes.txt'), 'hello');
  const notes = check(join(dir, 'notes.txt'));
  assert.equal(notes.status, 2);
  assert.match(notes.stderr, /check: \S+notes\.txt is neither an app/);

  const configWithFlags = check(await writeConfig(dir, 'app.json', { apps: [] }), '--workers', '2');
  assert.equal(configWithFlags.status, 2);
  assert.match(configWithFlags.stderr, /--workers: for one app without a config; .*app\.json is a config/);
});
