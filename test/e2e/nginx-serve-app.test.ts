/**
 * `serve <folder>` over SCGI behind a real nginx (docs/frontends.md's `mount` block): a folder
 * with package.json is served as one app named after the package, through the command line with
 * no config, and stops cleanly on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, runProcess, TSX } from '../helpers/cli-process.js';
import { docTemplate } from '../helpers/frontends/doc-configs.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { withFrontendLogs } from '../helpers/frontends/process.js';
import { getFreePorts } from '../helpers/free-port.js';
import { testDir } from '../helpers/temp-dir.js';

test('serve <folder with package.json> over SCGI behind nginx: named after the package, answers through nginx, SIGTERM stops it', async (t) => {
  const dir = await testDir(t, 'nginx-serve-app');
  const app = join(dir, 'my-shop');
  await mkdir(app);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: '@acme/my-shop', type: 'module', main: 'server.mjs' }));
  await writeFile(join(app, 'server.mjs'), "export default (req, res) => res.end(`shop ${req.method} ${req.url} over SCGI ${req.scgi.env.SCGI} from ${req.scgi.env.REMOTE_ADDR}`);\n");
  const [appPort, stats, dashboard] = await getFreePorts(3);
  const server = runProcess(t, process.execPath, [
    '--import', TSX, CLI, 'serve', app, '--listen', `127.0.0.1:${appPort}`, '--workers', '2',
    '--stats', `127.0.0.1:${stats}`, '--dashboard', `127.0.0.1:${dashboard}`, '--log-format', 'pretty',
  ], { cwd: dir });
  await server.waitFor(new RegExp(`UP on 127\\.0\\.0\\.1:${appPort} \\(my_shop, 2 workers`));
  await server.waitFor(new RegExp(`log in with http://127\\.0\\.0\\.1:${dashboard}/login\\?token=`));
  // The store's default place for a one-app serve: beside the app, as beside a config.
  await server.waitFor(new RegExp(`timing store: ${join(app, 'dragon-on-wheels.db').replace(/[.]/g, '\\.')}`));

  const nginx = await startNginx({ config: docTemplate('nginx', 'mount'), values: { host: '127.0.0.1', port: appPort } });
  t.after(() => nginx.stop());
  await withFrontendLogs([nginx], async () => {
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${nginx.url}/app/cart?id=${i}`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), new RegExp(`^shop GET /app/cart\\?id=${i} over SCGI 1 from 127\\.0\\.0\\.1$`));
    }
  });

  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0, server.output());
  assert.match(server.output(), /stopped; timing store wrote \d+ rows/);
});
