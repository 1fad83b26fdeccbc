/**
 * docs/from-pm2.md's translated ecosystem file, run for real: its config, apps and .env written
 * to a folder as the page lays them out, served by the CLI started from another folder; each app
 * answers from its own folder with its own variables. Only the ports and the log folder change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDotenv } from '../../server/config/dotenv.js';
import { CLI, runProcess, TSX } from '../helpers/cli-process.js';
import { getFreePorts } from '../helpers/free-port.js';
import { httpGet } from '../helpers/http-get.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE_FENCE = /^```\w+ file=([\w./-]+)\n([\s\S]*?)^```\s*$/gm;

type DocApp = { name: string; module: string; cwd?: string; listen: string; env: Record<string, string>; envFile?: string };

test('docs/from-pm2.md: the translated ecosystem file serves both apps, each from its own folder with its own variables', async (t) => {
  const files = new Map<string, string>();
  for (const [, file = '', text = ''] of (await readFile(join(ROOT, 'docs/from-pm2.md'), 'utf8')).matchAll(EXAMPLE_FENCE)) files.set(file, text);
  assert.deepEqual([...files.keys()].sort(), ['blog/.env', 'blog/dist/server.js', 'blog/public/robots.txt', 'dragon.config.json', 'shop/server.js']);

  const dir = await testDir(t, 'from-pm2');
  // The apps require express by name, as a user's project would.
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  for (const [file, text] of files) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await writeFile(join(dir, file), text);
  }
  const config = JSON.parse(files.get('dragon.config.json') as string) as { apps: DocApp[]; log: { file: string } };
  const ports = await getFreePorts(2);
  config.apps.forEach((app, i) => (app.listen = `127.0.0.1:${ports[i] as number}`));
  config.log.file = 'logs/';
  await writeFile(join(dir, 'dragon.config.json'), JSON.stringify({ ...config, stats: false, store: false, dashboard: false }));
  await mkdir(join(dir, 'elsewhere'));
  const server = runProcess(t, process.execPath, ['--import', TSX, CLI, 'serve', join(dir, 'dragon.config.json')], { cwd: join(dir, 'elsewhere') });
  const supervisorLog = join(dir, 'logs', 'dragon-on-wheels.log');
  await waitUntil('both apps UP', async () => ((await readFile(supervisorLog, 'utf8').catch(() => '')).match(/UP on/g) ?? []).length === 2, { timeoutMs: 60_000 })
    .catch((err: Error) => assert.fail(`${err.message}\n${server.output()}`));

  for (const app of config.apps) {
    const reply = await httpGet(`http://${app.listen}/`);
    assert.equal(reply.status, 200, reply.body);
    const seen = JSON.parse(reply.body) as Record<string, unknown>;
    assert.equal(seen.app, app.name);
    assert.equal(seen.cwd, resolve(dir, app.cwd ?? dirname(app.module)), `${app.name}'s folder`);
    if (app.name === 'shop') assert.equal(seen.currency, app.env.SHOP_CURRENCY);
    if (app.name === 'blog') {
      assert.equal(seen.title, app.env.BLOG_TITLE);
      assert.equal(seen.database, parseDotenv(files.get('blog/.env') as string).DATABASE_URL !== undefined);
      const robots = await httpGet(`http://${app.listen}/robots.txt`);
      assert.equal(robots.status, 200, 'public/ is found from the blog\'s cwd, not dist/');
      assert.equal(robots.body, files.get('blog/public/robots.txt'));
    }
  }
  assert.deepEqual((await readdir(join(dir, 'logs'))).sort(), ['blog.log', 'dragon-on-wheels.log', 'shop.log']);
});
