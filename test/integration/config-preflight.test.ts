/**
 * Bad configuration is refused before anything binds, and `check` refuses what `serve` would:
 * every problem listed with its field, a file that does not parse named by file:line:col.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI, TSX } from '../helpers/cli-process.js';
import { getFreePorts } from '../helpers/free-port.js';
import { testDir } from '../helpers/temp-dir.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/hello-node.mjs', import.meta.url));
const STRONG_TOKEN = '5f0c6a3e9b1d4e7f8a2b3c4d5e6f7a8b5f0c6a3e9b1d4e7f8a2b3c4d5e6f7a8c';

function cli(command: 'serve' | 'check', file: string, env: Record<string, string | undefined> = {}) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, DRAGON_ADMIN_TOKEN: undefined, ...env };
  for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k];
  return spawnSync(process.execPath, ['--import', TSX, CLI, command, file], { env: childEnv, encoding: 'utf8', timeout: 60_000 });
}

test('serve with a weak admin token exits 2 before any app is bound: no UP line, no socket', async (t) => {
  const dir = await testDir(t, 'preflight');
  const [dashboardPort, appPort] = await getFreePorts(2);
  const socket = join(dir, 'app.sock');
  const file = join(dir, 'weak.json');
  await writeFile(file, JSON.stringify({
    stats: false, store: false, dashboard: { listen: `127.0.0.1:${dashboardPort}` },
    apps: [
      { name: 'tcp', listen: `127.0.0.1:${appPort}`, module: FIXTURE, workers: 0 },
      { name: 'unixy', listen: `unix:${socket}`, module: FIXTURE, workers: 1 },
    ],
  }));
  const result = cli('serve', file, { DRAGON_ADMIN_TOKEN: 'abcd'.repeat(10) });
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /DOW_ERR_WEAK_TOKEN: the admin token \(DRAGON_ADMIN_TOKEN\) is too weak/);
  assert.doesNotMatch(`${result.stdout}${result.stderr}`, /UP on/);
  assert.doesNotMatch(result.stdout, /(worker|socket) .*(start|bound)/i);

  // check refuses it the same way, with the same error.
  const checked = cli('check', file, { DRAGON_ADMIN_TOKEN: 'abcd'.repeat(10) });
  assert.equal(checked.status, 2, checked.stdout);
  assert.match(checked.stderr, /DOW_ERR_WEAK_TOKEN/);
  assert.match(checked.stdout, /the dashboard would be refused/);
  assert.equal(cli('check', file, { DRAGON_ADMIN_TOKEN: STRONG_TOKEN }).status, 0);
});

test('check refuses an out-of-range port that serve refuses, and lists every problem with its field', async (t) => {
  const dir = await testDir(t, 'preflight');
  const file = join(dir, 'many.json');
  await writeFile(file, JSON.stringify({
    stats: '127.0.0.1:99998', store: false, dashboard: false,
    apps: [
      { name: 'a', listen: '127.0.0.1:99999', module: FIXTURE, workers: 1 },
      { name: 'b', listen: '127.0.0.1:9', module: FIXTURE, workers: 2, threads: 1 },
    ],
  }));
  const checked = cli('check', file);
  assert.equal(checked.status, 2, checked.stdout);
  assert.match(checked.stderr, /DOW_ERR_CONFIG: config \S+many\.json: 3 problems:/);
  assert.match(checked.stderr, /^ {2}- apps\[0\]\.listen: bad listen address "127\.0\.0\.1:99999"/m);
  assert.match(checked.stderr, /^ {2}- apps\[1\]\.threads: 1 is less than workers \(2\)/m);
  assert.match(checked.stderr, /^ {2}- stats: bad listen address "127\.0\.0\.1:99998"/m);

  // Schema errors: all of them, not the first.
  const schema = join(dir, 'schema.json');
  await writeFile(schema, JSON.stringify({
    stats: false, dashboard: { lisen: '127.0.0.1:1' }, log: { level: 'verbose' },
    apps: [{ name: 'a', listen: '127.0.0.1:1', module: FIXTURE, thread: 2, type: 'express' }],
  }));
  const many = cli('check', schema);
  assert.equal(many.status, 2);
  for (const expected of [/- apps\[0\]: unknown key "thread"/, /- apps\[0\]\.type: must be one of/, /- log\.level: must be one of/, /- dashboard: unknown key "lisen"/]) {
    assert.match(many.stderr, expected);
  }
  assert.match(many.stderr, /4 problems:/);
});

test('a config file that does not parse is named by file:line:col, with the line and a caret', async (t) => {
  const dir = await testDir(t, 'preflight');
  const broken = 'export default {\n  apps: [\n    { name: "a" listen: "127.0.0.1:1" },\n  ],\n};\n';
  const cases: Array<[string, string, RegExp]> = [
    // serve and check take a module for a config only by its name (*.config.mjs); any other is an app.
    ['broken.config.mjs', broken, /broken\.config\.mjs:3:17: SyntaxError: Unexpected identifier/],
    ['broken.config.js', broken.replace('export default', 'module.exports ='), /broken\.config\.js:3:17: SyntaxError: Unexpected identifier/],
    ['broken.json', '{\n  "apps": [\n    { "name": "a", }\n  ]\n}\n', /broken\.json:3:20: .*JSON/],
    ['throws.config.mjs', 'const port = 1;\nexport default { apps: [{ listen: `127.0.0.1:${prot}` }] };\n', /throws\.config\.mjs:2:\d+: ReferenceError: prot is not defined/],
  ];
  for (const [name, text, expected] of cases) {
    const file = join(dir, name);
    await writeFile(file, text);
    // serve reads the file as check does; once is enough to show it.
    for (const command of name === 'broken.config.mjs' ? ['check', 'serve'] as const : ['check'] as const) {
      const result = cli(command, file);
      assert.equal(result.status, 2, `${command} ${name}: ${result.stderr}`);
      assert.match(result.stderr, expected, `${command} ${name}`);
    }
  }
  const json = cli('check', join(dir, 'broken.json'));
  assert.match(json.stderr, /\n {2} {4}\{ "name": "a", \}\n {2} {19}\^/, 'the line and a caret under the spot');
});
