/**
 * What docs/install.md says npm's allowScripts matches, on the npm that runs the tests: the
 * README's install commands approve a tarball's install script whether `TARBALL` is an absolute
 * path or a URL, and the package's name alone does not. A small package with an install script
 * stands in for this one, so each install takes a second (npm-consumer.test.ts installs the real one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { installCommands, STRICT_NPM_ENV } from '../helpers/install-doc.js';
import { testDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);
const NPM_TIMEOUT_MS = 3 * 60_000;

/** allowScripts and --strict-allow-scripts came with npm 11.16; older npm runs every script. */
async function npmWithAllowScripts(): Promise<string | null> {
  const version = (await run('npm', ['-v'])).stdout.trim();
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 11 || (major === 11 && minor >= 16) ? null : `npm ${version} has no allowScripts`;
}
const skip = await npmWithAllowScripts();

/** A packed package whose install script leaves a file: its tarball's absolute path. */
async function probeTarball(dir: string): Promise<string> {
  const pkg = join(dir, 'probe');
  await mkdir(pkg);
  await writeFile(join(pkg, 'package.json'), JSON.stringify({
    name: 'install-script-probe', version: '1.0.0',
    scripts: { install: "node -e \"require('fs').writeFileSync('installed', '')\"" },
  }));
  const packed = await run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: pkg, timeout: NPM_TIMEOUT_MS });
  return join(dir, packed.stdout.trim());
}

async function appDir(dir: string, name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const app = join(dir, name);
  await mkdir(app);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name, private: true, ...extra }));
  return app;
}

/** Runs the README's install block in `app` with `tarball` for its example; the probe's script must have run. */
async function installAsDocumented(app: string, tarball: string): Promise<void> {
  const installed = await run('bash', ['-euo', 'pipefail', '-c', await installCommands(tarball)], { cwd: app, env: { ...process.env, ...STRICT_NPM_ENV }, timeout: NPM_TIMEOUT_MS });
  assert.doesNotMatch(installed.stderr, /not yet covered by allowScripts/, installed.stderr);
  await access(join(app, 'node_modules/install-script-probe/installed'));
}

test('the README\'s install commands approve a tarball given by its absolute path', { skip: skip ?? false }, async (t) => {
  const dir = await testDir(t, 'allow-path');
  await installAsDocumented(await appDir(dir, 'app'), await probeTarball(dir));
});

test('the README\'s install commands approve a tarball given by its URL', { skip: skip ?? false }, async (t) => {
  const dir = await testDir(t, 'allow-url');
  const tarball = await probeTarball(dir);
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/octet-stream');
    createReadStream(tarball).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address() as AddressInfo;
  await installAsDocumented(await appDir(dir, 'app'), `http://127.0.0.1:${port}/install-script-probe-1.0.0.tgz`);
});

test('the package\'s name alone does not approve its tarball: npm\'s strict check refuses the install', { skip: skip ?? false }, async (t) => {
  const dir = await testDir(t, 'allow-name');
  const tarball = await probeTarball(dir);
  const app = await appDir(dir, 'app', { allowScripts: { 'install-script-probe': true } });
  const failed = await run('npm', ['install', tarball], { cwd: app, env: { ...process.env, ...STRICT_NPM_ENV }, timeout: NPM_TIMEOUT_MS })
    .then(() => null, (err: Error & { stderr?: string; stdout?: string; code?: unknown; signal?: unknown }) => err);
  assert.ok(failed, 'npm installed it: the name alone approved the tarball');
  await assert.rejects(access(join(app, 'node_modules/install-script-probe/installed')), 'the install script did not run');
  // In two whole-suite runs (never alone, nor beside npm-consumer) npm exited 1 here saying
  // nothing at all; what it says, when it says something, must be the strict check.
  if (failed.stderr) {
    assert.match(failed.stderr, /ESTRICTALLOWSCRIPTS|not covered by allowScripts/, `npm failed otherwise: ${failed.message}`);
  } else {
    t.diagnostic(`npm exited (code ${String(failed.code)}, signal ${String(failed.signal)}) with no message; stdout ${JSON.stringify(failed.stdout)}`);
  }
});
