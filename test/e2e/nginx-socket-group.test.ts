// docs/deploy.md's nginx block: nginx's workers, running as www-data as on
// Debian, reach the server's Unix socket through socketMode 0660 and socketGroup www-data; the
// same socket without the group gives them a 502 (permission denied). Real nginx, real users.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testDir } from '../helpers/temp-dir.js';
import { NGINX_BINARY, NGINX_SCGI_PARAMS } from '../helpers/frontends/nginx.js';
import { startFrontend, type FrontendHandle } from '../helpers/frontends/process.js';
import { cliArgs, FIXTURES, runProcess } from '../helpers/systemd.js';

const DEPLOY = fileURLToPath(new URL('../../docs/deploy.md', import.meta.url));
const skip = !existsSync(NGINX_BINARY) ? `${NGINX_BINARY} is missing (Debian package nginx)`
  : process.getuid?.() !== 0 ? 'needs root (nginx switches its workers to www-data)' : false;

/** The doc's ```nginx block, pointed at this test's socket and port. */
async function docNginxBlock(socket: string, port: number): Promise<string> {
  const block = /```nginx\n([\s\S]*?)```/.exec(await readFile(DEPLOY, 'utf8'))?.[1];
  assert.ok(block, 'docs/deploy.md has an nginx block');
  assert.match(block, /listen 80;/);
  assert.match(block, /unix:\/run\/dragon-on-wheels\/shop\.sock/);
  return block.replace('listen 80;', `listen 127.0.0.1:${port};`).replace('/run/dragon-on-wheels/shop.sock', socket);
}

async function startNginxAsWwwData(t: TestContext, socket: string): Promise<FrontendHandle> {
  const nginx = await startFrontend('nginx', async (port, dir) => ({
    command: NGINX_BINARY,
    args: ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;'],
    configFile: 'nginx.conf',
    errorLogFile: 'error.log',
    // Workers as www-data, as Debian's nginx runs them: what the socket's group is for.
    config: `user www-data;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path ${join(dir, 'client_body_temp')};
    proxy_temp_path ${join(dir, 'proxy_temp')};
    fastcgi_temp_path ${join(dir, 'fastcgi_temp')};
    uwsgi_temp_path ${join(dir, 'uwsgi_temp')};
    scgi_temp_path ${join(dir, 'scgi_temp')};
${await docNginxBlock(socket, port)}
}
`,
    files: { scgi_params: await readFile(NGINX_SCGI_PARAMS, 'utf8') },
  }));
  t.after(() => nginx.stop());
  return nginx;
}

async function serveOnSocket(t: TestContext, dir: string, app: Record<string, unknown>): Promise<string> {
  const run = join(dir, 'run');
  await mkdir(run, { recursive: true, mode: 0o755 });
  const socket = join(run, 'shop.sock');
  const config = join(dir, 'dragon.config.json');
  await writeFile(config, JSON.stringify({
    stats: false, store: false, dashboard: false,
    apps: [{ name: 'shop', listen: `unix:${socket}`, module: join(FIXTURES, 'whoami-app.mjs'), socketMode: 0o660, ...app }],
  }));
  const server = runProcess(t, process.execPath, cliArgs(config));
  await server.waitFor(/UP on unix:.*shop\.sock/);
  return socket;
}

test('nginx (workers as www-data) reaches a 0660 socket of group www-data, and gets 502 without the group', { skip, timeout: 120_000 }, async (t) => {
  const dir = await testDir(t, 'nginx-group');

  const socket = await serveOnSocket(t, join(dir, 'with'), { socketGroup: 'www-data' });
  const s = await stat(socket);
  assert.deepEqual([s.gid, s.mode & 0o777], [33, 0o660]);
  const nginx = await startNginxAsWwwData(t, socket);
  const res = await fetch(`${nginx.url}/`);
  assert.equal(res.status, 200, await nginx.readLogs());
  assert.equal(((await res.json()) as { uid: number }).uid, 0);

  // Control: the same socket and mode, owned by root:root. nginx's workers are refused.
  const rootOnly = await serveOnSocket(t, join(dir, 'without'), {});
  assert.equal((await stat(rootOnly)).gid, 0);
  const refused = await startNginxAsWwwData(t, rootOnly);
  assert.equal((await fetch(`${refused.url}/`)).status, 502);
  assert.match(await refused.readLogs(), /connect\(\) to unix:.*shop\.sock failed \(13: Permission denied\)/);
});
