/**
 * Per-app `cwd`, `env` and `envFile` with the real CLI, real worker processes and HTTP: an Express
 * app's express.static('public') from its own folder while the server runs from another, each
 * app with its own variables, env over envFile, a reload after an edit, the stats port's
 * `<app>_cwd` through sh's eval, and the config errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appEnvironmentFromFile, loadConfigFile } from '../../server/config/config.js';
import { CLI, runProcess, serveConfig, TSX } from '../helpers/cli-process.js';
import { getFreePorts } from '../helpers/free-port.js';
import { httpGet } from '../helpers/http-get.js';
import { readFigures } from '../helpers/stats.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** An app that answers with its working directory and the variables the test looks at. */
const ENV_APP = `export default (req, res) => res.end(JSON.stringify({
  cwd: process.cwd(), GREETING: process.env.GREETING, ONLY_FILE: process.env.ONLY_FILE, HOME_SET: process.env.PATH !== undefined,
}));\n`;

type Seen = { cwd: string; GREETING?: string; ONLY_FILE?: string; HOME_SET: boolean };

async function seen(port: number): Promise<Seen> {
  const reply = await httpGet(`http://127.0.0.1:${port}/`);
  assert.equal(reply.status, 200, reply.body);
  return JSON.parse(reply.body) as Seen;
}

test('an Express app serves express.static("public") from its own folder while the server was started from another', async (t) => {
  const dir = await testDir(t, 'cwd-express');
  const site = join(dir, 'site');
  await mkdir(join(site, 'public'), { recursive: true });
  // The app imports express by name, as a user's project would.
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  await writeFile(join(site, 'server.mjs'), "import express from 'express';\nconst app = express();\napp.use(express.static('public'));\nexport default app;\n");
  await writeFile(join(site, 'public', 'hello.txt'), 'static hello\n');
  await mkdir(join(dir, 'etc'));
  await mkdir(join(dir, 'elsewhere'));
  const [port] = await getFreePorts(2);
  const config = join(dir, 'etc', 'dragon.config.json');
  await writeFile(config, JSON.stringify({
    stats: false, store: false, dashboard: false,
    apps: [{ name: 'site', listen: `127.0.0.1:${port}`, protocol: 'http', module: '../site/server.mjs', workers: 1 }],
  }));
  const server = runProcess(t, process.execPath, ['--import', TSX, CLI, 'serve', config], { cwd: join(dir, 'elsewhere') });
  await server.waitFor(/UP on .*site/);
  const reply = await httpGet(`http://127.0.0.1:${port}/hello.txt`);
  assert.equal(reply.status, 200, `${reply.body}\n${server.output()}`);
  assert.equal(reply.body, 'static hello\n');
});

test('each app sees its own cwd and env, env wins over envFile, a reload reads both again, and <app>_cwd survives sh eval', async (t) => {
  const dir = await testDir(t, 'cwd-env');
  // A folder name that would break out of the stats port's quoting if it were not kept whole.
  const odd = join(dir, `we'ird ħ $(touch PWNED)`);
  await mkdir(join(dir, 'one'));
  await mkdir(odd);
  await writeFile(join(dir, 'one', 'app.mjs'), ENV_APP);
  await writeFile(join(dir, 'two.mjs'), ENV_APP);
  await writeFile(join(dir, 'two.env'), '# two\nGREETING=from the file\nONLY_FILE="file v1"\n');
  const [onePort, twoPort, stats] = await getFreePorts(3);
  const config = (twoGreeting: string): Record<string, unknown> => ({
    stats: `127.0.0.1:${stats}`, store: false, dashboard: false,
    apps: [
      { name: 'one', listen: `127.0.0.1:${onePort}`, protocol: 'http', module: 'one/app.mjs', env: { GREETING: 'hello from one' } },
      { name: 'two', listen: `127.0.0.1:${twoPort}`, protocol: 'http', module: 'two.mjs', cwd: odd, envFile: 'two.env', env: { GREETING: twoGreeting } },
    ],
  });
  const server = await serveConfig(t, dir, config('hello from two'));
  await server.waitFor(/UP on .*stats/);
  assert.deepEqual(await seen(onePort), { cwd: join(dir, 'one'), GREETING: 'hello from one', HOME_SET: true });
  assert.deepEqual(await seen(twoPort), { cwd: odd, GREETING: 'hello from two', ONLY_FILE: 'file v1', HOME_SET: true });

  const figures = await readFigures(stats);
  assert.equal(figures.get('one_cwd'), join(dir, 'one'));
  assert.equal(figures.get('two_cwd'), odd);
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    connect(stats, '127.0.0.1').on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
  });
  const sh = spawnSync('sh', ['-c', 'eval "$(cat)" && printf %s "$SCGI_SERVER_two_cwd"'], { input: raw, cwd: dir, encoding: 'utf8' });
  assert.equal(sh.status, 0, sh.stderr);
  assert.equal(sh.stdout, odd);
  assert.ok(!existsSync(join(dir, 'PWNED')), 'the eval ran a command from the folder name');

  // An edit of the envFile and of the config's env takes effect with a reload, not before.
  await writeFile(join(dir, 'two.env'), 'GREETING=from the file\nONLY_FILE=file v2\n');
  await writeFile(join(dir, 'dragon.config.json'), JSON.stringify(config('hello again')));
  assert.equal((await seen(twoPort)).ONLY_FILE, 'file v1');
  server.child.kill('SIGHUP');
  await waitUntil('app two with the new envFile and env', async () => {
    const now = await seen(twoPort);
    return now.ONLY_FILE === 'file v2' && now.GREETING === 'hello again';
  });
  assert.equal((await seen(onePort)).GREETING, 'hello from one');

  // A broken envFile fails that reload, naming the file; the old workers go on serving.
  await writeFile(join(dir, 'two.env'), 'GREETING=x\nnot an assignment\n');
  server.child.kill('SIGHUP');
  await server.waitFor(/two: reload failed, the old workers go on serving: .*two\.env line 2: expected NAME=value/);
  assert.equal((await seen(twoPort)).ONLY_FILE, 'file v2');
});

/** The config error loadConfigFile throws for `apps`, as one message. */
async function configError(dir: string, apps: unknown[]): Promise<string> {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify({ stats: false, store: false, dashboard: false, apps }));
  const error = await loadConfigFile(file).then(() => null, (err: Error & { code?: string }) => err);
  assert.ok(error, 'the config loaded');
  assert.equal(error.code, 'DOW_ERR_CONFIG');
  return error.message;
}

test('cwd, env or envFile with workers: 0, a missing folder or envFile, and a bad line are config errors naming the field and the file', async (t) => {
  const dir = await testDir(t, 'cwd-errors');
  await writeFile(join(dir, 'app.mjs'), "export default (req, res) => res.end('hi');\n");
  await writeFile(join(dir, 'bad.env'), 'A=1\nB="open\n');
  const app = { name: 'shop', listen: '127.0.0.1:0', module: 'app.mjs' };
  assert.match(await configError(dir, [{ ...app, workers: 0, cwd: '.' }]), /apps\[0\]\.cwd: needs worker processes: with workers: 0 the app runs inside the supervisor/);
  assert.match(await configError(dir, [{ ...app, workers: 0, env: { A: '1' }, envFile: 'bad.env' }]), /apps\[0\]\.env: needs worker processes[\s\S]*apps\[0\]\.envFile: needs worker processes/);
  assert.match(await configError(dir, [{ ...app, cwd: 'nowhere' }]), new RegExp(`apps\\[0\\]\\.cwd: ${join(dir, 'nowhere')}: no such folder`));
  assert.match(await configError(dir, [{ ...app, envFile: 'missing.env' }]), new RegExp(`apps\\[0\\]\\.envFile: cannot read ${join(dir, 'missing.env')}: no such file`));
  assert.match(await configError(dir, [{ ...app, envFile: 'bad.env' }]), new RegExp(`apps\\[0\\]\\.envFile: ${join(dir, 'bad.env')} line 2: the double quote of B is never closed`));
  assert.match(await configError(dir, [{ ...app, env: { 'my-key': 'x' } }]), /apps\[0\]\.env: has key "my-key", which is not a variable name/);
});

test('a reload reads an .mjs or CommonJS .js config file as it is now, not as the first import cached it', async (t) => {
  const dir = await testDir(t, 'cwd-reread');
  await writeFile(join(dir, 'app.mjs'), "export default (req, res) => res.end('hi');\n");
  const app = (v: string): string => `{ name: 'shop', listen: '127.0.0.1:0', module: 'app.mjs', env: { VERSION: '${v}' } }`;
  for (const [file, text] of [['esm.mjs', (v: string) => `export default { apps: [${app(v)}] };\n`], ['cjs.js', (v: string) => `module.exports = { apps: [${app(v)}] };\n`]] as const) {
    const path = join(dir, file);
    await writeFile(path, text('1'));
    assert.equal((await loadConfigFile(path)).apps[0]?.workers?.environment?.env.VERSION, '1');
    await writeFile(path, text('2'));
    assert.equal((await appEnvironmentFromFile(path, 'shop')).env.VERSION, '2', file);
    await writeFile(path, text('3'));
    assert.equal((await appEnvironmentFromFile(path, 'shop')).env.VERSION, '3', file);
    await assert.rejects(appEnvironmentFromFile(path, 'blog'), /apps: no app named blog any more/);
  }
});
