/**
 * `serve <app>` and `scale` through the real command line: one module served without a config
 * (HTTP here; SCGI behind nginx in test/e2e/nginx-serve-app.test.ts), its UP line and login URL,
 * `scale` with the token from that URL waiting for the new count, its refusals, and a clean stop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, runProcess, TSX } from '../helpers/cli-process.js';
import { getFreePorts } from '../helpers/free-port.js';
import { waitForFigure } from '../helpers/stats.js';
import { testDir } from '../helpers/temp-dir.js';

const HELLO = fileURLToPath(new URL('../fixtures/hello-node.mjs', import.meta.url));

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], { env: { ...process.env, DRAGON_ADMIN_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

test('serve <app> over HTTP: UP line and login URL, answers, scale up with the URL\'s token, refusals, SIGTERM stops cleanly', async (t) => {
  const dir = await testDir(t, 'cli-serve-app');
  const [appPort, stats, dashboard] = await getFreePorts(3);
  const env = { ...process.env };
  delete env.DRAGON_ADMIN_TOKEN;
  const server = runProcess(t, process.execPath, [
    '--import', TSX, CLI, 'serve', HELLO, '--listen', `127.0.0.1:${appPort}`, '--protocol', 'http',
    '--stats', `127.0.0.1:${stats}`, '--dashboard', `127.0.0.1:${dashboard}`, '--db', join(dir, 'timings.db'), '--log-format', 'pretty',
  ], { cwd: dir, env });
  // Named after the file (hello-node.mjs: a dash is not allowed in an app name).
  await server.waitFor(new RegExp(`UP on 127\\.0\\.0\\.1:${appPort} \\(hello_node, HTTP, 1 worker, \\(req, res\\) function\\)`));
  await server.waitFor(/log in with http:\/\/127\.0\.0\.1:\d+\/login\?token=\S+/);
  const loginUrl = new URL(/log in with (http:\/\/\S+)/.exec(server.output())?.[1] as string);
  assert.equal(loginUrl.port, String(dashboard));
  const token = loginUrl.searchParams.get('token') as string;

  const res = await fetch(`http://127.0.0.1:${appPort}/hi`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'hello from /hi\n');

  const up = await cli(['scale', 'hello_node', '2', '--dashboard', `127.0.0.1:${dashboard}`], { DRAGON_ADMIN_TOKEN: token });
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stdout, /^hello_node: workers 1 -> 2, started \d+ in \d+ ms$/m);
  // Exited once the new worker serves: the stats port already counts it.
  await waitForFigure(stats, 'hello_node_workers', '2');

  const tooMany = await cli(['scale', 'hello_node', '11', '--dashboard', `127.0.0.1:${dashboard}`], { DRAGON_ADMIN_TOKEN: token });
  assert.equal(tooMany.code, 1);
  assert.match(tooMany.stderr, /^dragon-on-wheels: DOW_ERR_SCALE: cannot scale hello_node: 11 workers need at least 11 threads .* its limit is 10: raise threads first$/m);
  const unknown = await cli(['scale', 'shop', '2', '--dashboard', `127.0.0.1:${dashboard}`], { DRAGON_ADMIN_TOKEN: token });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /DOW_ERR_UNKNOWN_APP: no app named shop/);
  const noToken = await cli(['scale', 'hello_node', '1', '--dashboard', `127.0.0.1:${dashboard}`]);
  assert.equal(noToken.code, 1);
  assert.match(noToken.stderr, /DOW_ERR_UNAUTHORIZED: .*DRAGON_ADMIN_TOKEN/);
  const wrongToken = await cli(['scale', 'hello_node', '1', '--dashboard', `127.0.0.1:${dashboard}`], { DRAGON_ADMIN_TOKEN: `${token}x` });
  assert.equal(wrongToken.code, 1);
  assert.match(wrongToken.stderr, /DOW_ERR_UNAUTHORIZED/);
  await waitForFigure(stats, 'hello_node_workers', '2');

  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0, server.output());
  assert.match(server.output(), /SIGTERM: stopping/);
  assert.match(server.output(), /stopped; timing store wrote \d+ rows/);
});

test('serve tells a config from an app by its name, and refuses anything else clearly', async (t) => {
  const dir = await testDir(t, 'cli-serve-target');
  await writeFile(join(dir, 'notes.txt'), 'hello');
  const notes = await cli(['serve', join(dir, 'notes.txt')]);
  assert.equal(notes.code, 2);
  assert.match(notes.stderr, /notes\.txt is neither an app \(a \.mjs, \.js, \.cjs or \.ts module, or a folder with package\.json\) nor a config/);

  const missing = await cli(['serve', join(dir, 'gone.mjs')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /gone\.mjs: no such file or directory/);

  await mkdir(join(dir, 'empty'));
  const folder = await cli(['serve', join(dir, 'empty')]);
  assert.equal(folder.code, 2);
  assert.match(folder.stderr, /the folder .*empty has no package\.json/);

  await writeFile(join(dir, 'app.json'), JSON.stringify({ apps: [] }));
  const flags = await cli(['serve', join(dir, 'app.json'), '--workers', '2']);
  assert.equal(flags.code, 2);
  assert.match(flags.stderr, /--workers: for one app without a config; .*app\.json is a config/);

  const badCount = await cli(['serve', HELLO, '--workers', 'many']);
  assert.equal(badCount.code, 2);
  assert.match(badCount.stderr, /--workers must be an integer or auto, not "many"/);

  // A config module not named *.config.mjs is taken for an app: the worker says what to do.
  const config = join(dir, 'prod.mjs');
  await writeFile(config, 'export default { apps: [] };\n');
  const [appPort, stats] = await getFreePorts(2);
  const asApp = await cli(['serve', config, '--listen', `127.0.0.1:${appPort}`, '--stats', `127.0.0.1:${stats}`, '--no-store', '--no-dashboard']);
  assert.equal(asApp.code, 2);
  assert.match(asApp.stderr, /the export is a config \(it has apps\), not an app; name the file \*\.config\.mjs/);
});
