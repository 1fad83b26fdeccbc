/**
 * Every example of docs/frameworks.md, written to a folder with its config file, loaded as a
 * user's project would load it, and asked over SCGI.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server } from '../../server/listen/server.js';
import type { AppHandler } from '../../server/adapters/app-handler.js';
import { loadConfigFile } from '../../server/config/config.js';
import { QUERY_NAME } from '../helpers/matrix-checks.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { testDir } from '../helpers/temp-dir.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FRAMEWORKS_DOC_PATH = join(ROOT, 'docs/frameworks.md');

const EXAMPLE_FENCE = /^```(?:js|json) file=([\w-]+)\/([\w.-]+)\n([\s\S]*?)^```\s*$/gm;

describe('docs/frameworks.md examples', { concurrency: true }, async () => {
  const files = new Map<string, Map<string, string>>();
  for (const match of (await readFile(FRAMEWORKS_DOC_PATH, 'utf8')).matchAll(EXAMPLE_FENCE)) {
    const [, framework = '', file = '', text = ''] = match;
    if (!files.has(framework)) files.set(framework, new Map());
    files.get(framework)?.set(file, text);
  }
  it('has an example per framework', () => {
    assert.deepEqual([...files.keys()].sort(), ['express', 'fastify', 'fetch', 'hono', 'koa', 'node']);
  });
  for (const [framework, example] of files) {
    it(`${framework}: the config loads the app and it answers under its mount`, async (t) => {
      const dir = await testDir(t, `example-${framework}`);
      // The examples import their framework by name, as a user's project would.
      await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
      for (const [file, text] of example) {
        if (file !== 'dragon.config.json') await writeFile(join(dir, file), text);
      }
      const config = JSON.parse(example.get('dragon.config.json') ?? 'null') as { apps: Array<{ listen: string }> } & Record<string, unknown>;
      // In-process (workers: 0), so the test can hold the Server; worker processes have their own tests.
      for (const app of config.apps) Object.assign(app, { listen: '127.0.0.1:0', workers: 0 });
      Object.assign(config, { stats: false, store: false, dashboard: false });
      await writeFile(join(dir, 'dragon.config.json'), JSON.stringify(config));
      const settings = await loadConfigFile(join(dir, 'dragon.config.json'));
      const server = new Server({ listeners: settings.apps.map((app) => ({ listen: app.listen, processor: { app: { ...app.options, handler: app.options.handler as AppHandler } } })) });
      await server.listen();
      t.after(() => server.close(500));
      const address = server.addresses[0] as string;
      const target = { host: '127.0.0.1', port: Number(address.slice(address.lastIndexOf(':') + 1)) };
      const root = await scgiRequest(target, { uri: '/app/' });
      assert.equal(root.status, 200);
      assert.match(root.body.toString(), /^hello from /);
      const hello = await scgiRequest(target, {
        uri: `/app/hello?name=${encodeURIComponent(QUERY_NAME)}`,
        env: { REMOTE_ADDR: '203.0.113.9', HTTPS: 'on' },
      });
      assert.equal(hello.status, 200);
      assert.deepEqual(JSON.parse(hello.body.toString()), { hello: QUERY_NAME, ip: '203.0.113.9', protocol: 'https' });
    });
  }
});
