// docs/deploy.md: the systemd units it documents pass `systemd-analyze verify`
// with no complaint at all (an unknown key or a bad value is only a warning there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadConfigFile } from '../../server/config/config.js';
import { testDir } from '../helpers/temp-dir.js';

const ANALYZE = '/usr/bin/systemd-analyze';
const DEPLOY = fileURLToPath(new URL('../../docs/deploy.md', import.meta.url));
const skip = existsSync(ANALYZE) ? false : `${ANALYZE} is missing (Debian package systemd)`;

/** The ```ini blocks of the doc whose first line is `# file: <name>`. */
function unitBlocks(markdown: string): Map<string, string> {
  const units = new Map<string, string>();
  for (const match of markdown.matchAll(/```ini\n# file: (\S+)\n([\s\S]*?)```/g)) units.set(match[1] as string, match[2] as string);
  return units;
}

test('the units in docs/deploy.md pass systemd-analyze verify without a warning', { skip }, async (t) => {
  const units = unitBlocks(await readFile(DEPLOY, 'utf8'));
  assert.deepEqual([...units.keys()].sort(), ['dragon-on-wheels-shop.socket', 'dragon-on-wheels.service']);
  const dir = await testDir(t, 'units');
  for (const [name, text] of units) await writeFile(join(dir, name), text);
  for (const name of units.keys()) {
    const result = await promisify(execFile)(ANALYZE, ['verify', '--man=no', join(dir, name)], { cwd: dir, timeout: 60_000 })
      .then(({ stdout, stderr }) => ({ code: 0, out: stdout + stderr }), (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? -1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` }));
    // Only lines about our unit files count: the machine's own units may have complaints.
    const ours = result.out.split('\n').filter((line) => line.includes(dir));
    assert.deepEqual(ours, [], `${name}:\n${result.out}`);
    assert.equal(result.code, 0, `${name}:\n${result.out}`);
  }
});

test('systemd-analyze verify does complain about a bad unit (the check above can fail)', { skip }, async (t) => {
  const dir = await testDir(t, 'units-bad');
  await writeFile(join(dir, 'bad.service'), '[Service]\nType=notify\nExecStart=/usr/bin/true\nProtectSystem=sometimes\nNoSuchKey=1\n');
  const out = await promisify(execFile)(ANALYZE, ['verify', '--man=no', join(dir, 'bad.service')], { cwd: dir, timeout: 60_000 })
    .then(({ stdout, stderr }) => stdout + stderr, (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`);
  assert.match(out, /NoSuchKey/);
  assert.match(out, /bad\.service:4: Failed to parse protect system value/);
});

test('the configs in docs/deploy.md load (the app module and the user swapped for ones this machine has)', { skip: process.getuid?.() !== 0 ? 'the user/group config loads only as root' : false }, async (t) => {
  const blocks = [...(await readFile(DEPLOY, 'utf8')).matchAll(/```js\n(export default[\s\S]*?)```/g)].map((m) => m[1] as string);
  assert.equal(blocks.length, 2, 'the systemd config and the user/group config');
  const dir = await testDir(t, 'deploy-configs');
  const app = fileURLToPath(new URL('../fixtures/hello-node.mjs', import.meta.url));
  for (const [i, block] of blocks.entries()) {
    const file = join(dir, `config-${i}.mjs`);
    await writeFile(file, block.replaceAll('/srv/shop/app.mjs', app).replace("user: 'dragon'", "user: 'nobody'").replace("group: 'dragon'", "group: 'nogroup'"));
    const settings = await loadConfigFile(file);
    assert.equal(settings.apps[0]?.options.name, 'shop');
    const [app0] = settings.apps;
    assert.deepEqual([app0?.socketMode, app0?.socketOwner?.gid], [0o660, 33], 'mode 0660, group www-data');
  }
});
