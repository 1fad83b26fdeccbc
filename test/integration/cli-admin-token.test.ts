/**
 * `serve` with a guessable admin token (the bug: a 16-character token was accepted and
 * then guessed at 8-10k tries a second): refused at start with exit code 2, from the config and
 * from DRAGON_ADMIN_TOKEN alike, saying where it came from and never printing it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { getFreePort } from '../helpers/free-port.js';
import { testDir } from '../helpers/temp-dir.js';

const CLI = fileURLToPath(new URL('../../bin/dragon-on-wheels.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
const FIXTURE = fileURLToPath(new URL('../fixtures/hello-node.mjs', import.meta.url));

test('a weak admin token stops serve with exit code 2 and a message that names its source, not the token', async (t) => {
  const dir = await testDir(t, 'token');
  const config = async (dashboard: Record<string, unknown>): Promise<string> => {
    const file = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
    await writeFile(file, JSON.stringify({
      stats: false, store: false, dashboard: { listen: `127.0.0.1:${await getFreePort()}`, ...dashboard },
      apps: [{ name: 'hello', listen: `127.0.0.1:${await getFreePort()}`, module: FIXTURE, workers: 0 }],
    }));
    return file;
  };
  const serve = (file: string, env: Record<string, string | undefined>) => {
    const childEnv = { ...process.env, ...env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
    return spawnSync(process.execPath, ['--import', TSX, CLI, 'serve', file], { env: childEnv, encoding: 'utf8', timeout: 30_000 });
  };

  const short = 'sixteen-chars-ab';
  const fromEnv = serve(await config({}), { DRAGON_ADMIN_TOKEN: short });
  assert.equal(fromEnv.status, 2, `${fromEnv.stderr}\n${fromEnv.stdout}`);
  assert.match(fromEnv.stderr, /DOW_ERR_WEAK_TOKEN: the admin token \(DRAGON_ADMIN_TOKEN\) is too weak: it has 16 characters, at least 32 are needed; generate one with `openssl rand -hex 32`/);
  assert.ok(!`${fromEnv.stdout}${fromEnv.stderr}`.includes(short), 'the token is never printed');

  const repetitive = 'abcd'.repeat(10);
  const fromConfig = serve(await config({ token: repetitive }), { DRAGON_ADMIN_TOKEN: undefined });
  assert.equal(fromConfig.status, 2, fromConfig.stderr);
  assert.match(fromConfig.stderr, /DOW_ERR_WEAK_TOKEN: the admin token \(dashboard\.token in the config\) is too weak: it repeats a shorter part/);
  assert.ok(!`${fromConfig.stdout}${fromConfig.stderr}`.includes(repetitive));

  const shortInConfig = serve(await config({ token: short }), { DRAGON_ADMIN_TOKEN: undefined });
  assert.equal(shortInConfig.status, 2, shortInConfig.stderr);
  assert.match(shortInConfig.stderr, /DOW_ERR_CONFIG/);
  assert.match(shortInConfig.stderr, /dashboard\.token/);
});
