/**
 * `dragon-on-wheels reload` against a real server: it waits for each app's outcome and exits
 * non-zero, naming the app and the error, when new code fails to load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, serveConfig, TSX } from '../helpers/cli-process.js';
import { getFreePorts } from '../helpers/free-port.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { testDir } from '../helpers/temp-dir.js';

const answering = (tag: string): string => `export default (req, res) => res.end(${JSON.stringify(tag)});\n`;

function reloadCommand(stats: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', TSX, CLI, 'reload', `127.0.0.1:${stats}`, '--max-seconds', '60'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

test('reload waits for the outcome: exit 0 once every app serves the new code; exit 1 naming the app and the error when new code fails to load', async (t) => {
  const dir = await testDir(t, 'cli-reload');
  const [shopPort, blogPort, stats] = await getFreePorts(3);
  const shop = join(dir, 'shop.mjs');
  const blog = join(dir, 'blog.mjs');
  await writeFile(shop, answering('shop v1'));
  await writeFile(blog, answering('blog v1'));
  const server = await serveConfig(t, dir, {
    stats: `127.0.0.1:${stats}`,
    store: false,
    dashboard: false,
    apps: [
      { name: 'shop', listen: `127.0.0.1:${shopPort}`, module: shop },
      { name: 'blog', listen: `127.0.0.1:${blogPort}`, module: blog },
    ],
  });
  await server.waitFor(new RegExp(`UP on 127\\.0\\.0\\.1:${stats}`));

  await writeFile(shop, answering('shop v2'));
  const good = await reloadCommand(stats);
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, new RegExp(`sent SIGHUP to the supervisor \\(pid ${server.child.pid}\\)`));
  assert.match(good.stdout, /^shop: reloaded, workers \d+$/m);
  assert.match(good.stdout, /^blog: reloaded, workers \d+$/m);
  // Exited only once the new code serves.
  assert.equal((await scgiRequest({ port: shopPort }, { uri: '/' })).body.toString(), 'shop v2');

  await writeFile(shop, 'export default (req, res) => { res.end(\'broken\')\n');
  const bad = await reloadCommand(stats);
  assert.equal(bad.code, 1, bad.stdout);
  assert.match(bad.stderr, /^dragon-on-wheels: shop: DOW_ERR_RELOAD: cannot reload shop: .*(SyntaxError|Unexpected|missing)/im);
  assert.doesNotMatch(bad.stderr, /blog/);
  assert.match(bad.stdout, /^blog: reloaded, workers \d+$/m);
  assert.equal((await scgiRequest({ port: shopPort }, { uri: '/' })).body.toString(), 'shop v2');
});
