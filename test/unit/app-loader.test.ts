/**
 * What the app loader says about a module it cannot serve, through real imports of real files:
 * where a module failed to load, as Node shows it, and what to export
 * instead of a Fastify app that already listens or of the result of app.listen().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadApp } from '../../server/host/app-loader.js';
import { testDir } from '../helpers/temp-dir.js';

const NODE_MODULES = pathToFileURL(join(process.cwd(), 'node_modules')).href;

async function loadError(dir: string, file: string): Promise<string> {
  try {
    await loadApp(file, 'default', 'auto', 'shop', dir);
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'DOW_ERR_APP_MODULE');
    return (err as Error).message;
  }
  throw new Error(`${file} was accepted`);
}

test('a module that fails to load says where: file, line and caret for a syntax error, even in a module it imports; app frames for a throw', async (t) => {
  const dir = await testDir(t, 'app-loader');
  await writeFile(join(dir, 'bad.mjs'), 'const a = 1;\nconst b = ;\nexport default a;\n');
  const direct = await loadError(dir, './bad.mjs');
  assert.match(direct, /cannot load module \.\/bad\.mjs: SyntaxError: Unexpected token ';'/);
  assert.match(direct, new RegExp(`${join(dir, 'bad.mjs').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2\\nconst b = ;\\n {10}\\^`));

  await mkdir(join(dir, 'lib'));
  await writeFile(join(dir, 'lib', 'broken.mjs'), 'export function f() {\n  return 1 +;\n}\n');
  await writeFile(join(dir, 'entry.mjs'), "import { f } from './lib/broken.mjs';\nexport default (req, res) => res.end(String(f()));\n");
  const nested = await loadError(dir, './entry.mjs');
  assert.match(nested, /lib\/broken\.mjs:2\n {2}return 1 \+;/);

  await writeFile(join(dir, 'throws.mjs'), "function connect() {\n  throw new Error('no database at DATABASE_URL');\n}\nconnect();\nexport default () => {};\n");
  const thrown = await loadError(dir, './throws.mjs');
  assert.match(thrown, /no database at DATABASE_URL\n\s+at connect \(file:\/\/.*throws\.mjs:2:9\)/);
  assert.doesNotMatch(thrown, /node:internal/);
});

test('a Fastify app that already listens, or the result of app.listen(), is refused with what to export instead', async (t) => {
  const dir = await testDir(t, 'app-loader');
  await writeFile(join(dir, 'fastify-listening.mjs'), [
    `import Fastify from '${NODE_MODULES}/fastify/fastify.js';`,
    'const app = Fastify();',
    "app.get('/', async () => 'hi');",
    "app.listen({ port: 0, host: '127.0.0.1' });",
    'export const close = () => app.close();',
    'export default app;',
  ].join('\n'));
  const fastifyMessage = await loadError(dir, './fastify-listening.mjs');
  const fastifyModule = (await import(pathToFileURL(join(dir, 'fastify-listening.mjs')).href)) as { close(): Promise<void> };
  t.after(() => fastifyModule.close());
  assert.match(fastifyMessage, /the Fastify app is already listening on 127\.0\.0\.1:\d+ \(the module called listen\(\)\); export the instance without calling listen\(\)/);

  await writeFile(join(dir, 'express-listen.mjs'), [
    `import express from '${NODE_MODULES}/express/index.js';`,
    'const app = express();',
    "const server = app.listen(0, '127.0.0.1');",
    'export const close = () => new Promise((resolve) => server.close(resolve));',
    'export default server;',
  ].join('\n'));
  const expressMessage = await loadError(dir, './express-listen.mjs');
  const expressModule = (await import(pathToFileURL(join(dir, 'express-listen.mjs')).href)) as { close(): Promise<void> };
  t.after(() => expressModule.close());
  assert.match(expressMessage, /the export is a listening server \(the result of app\.listen\(\)\); export the app itself \(export default app\)/);

  await writeFile(join(dir, 'promise.mjs'), 'export default Promise.resolve("http://127.0.0.1:3000");\n');
  assert.match(await loadError(dir, './promise.mjs'), /the export is a Promise .*export the Fastify instance itself/);
  await writeFile(join(dir, 'address.mjs'), 'export default "http://127.0.0.1:3000";\n');
  assert.match(await loadError(dir, './address.mjs'), /the export is the string "http:\/\/127\.0\.0\.1:3000" \(the address Fastify's listen\(\) resolves to\?\)/);
});
