/**
 * The README's first steps as a reader follows them: its config file beside an Express app,
 * `dragon-on-wheels check`, `serve`, and its nginx block in front (real nginx); the login URL is
 * the line the README says it is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CLI, runProcess, TSX } from '../helpers/cli-process.js';
import { getFreePorts } from '../helpers/free-port.js';
import { NGINX_BINARY, startNginx } from '../helpers/frontends/nginx.js';
import { testDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = join(ROOT, 'README.md');
const skip = existsSync(NGINX_BINARY) ? false : `${NGINX_BINARY} is missing (Debian package nginx)`;

/** The README's fenced block of `lang` that contains `marker`. */
async function readmeBlock(lang: string, marker: string): Promise<string> {
  const blocks = [...(await readFile(README, 'utf8')).matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1] as string);
  const block = blocks.find((b) => b.includes(marker));
  assert.ok(block, `the README has a ${lang} block with ${marker}`);
  return block;
}

test('the README\'s config, check, serve and nginx block serve an Express app through nginx', { skip, timeout: 180_000 }, async (t) => {
  const dir = await testDir(t, 'readme-quickstart');
  const [port, stats, dashboard] = await getFreePorts(3);

  // The README's config as written, on this test's free port; the stats port and dashboard it
  // leaves at their defaults move to free ports too, so the test runs beside a demo.
  const config = await readmeBlock('js', '// dragon.config.mjs');
  assert.match(config, /listen: '127\.0\.0\.1:9002'/);
  await writeFile(join(dir, 'dragon.config.mjs'), config
    .replace("'127.0.0.1:9002'", `'127.0.0.1:${port}'`)
    .replace('export default {', `export default {\n  stats: '127.0.0.1:${stats}', dashboard: { listen: '127.0.0.1:${dashboard}' },`));
  // Express from this checkout's dependencies, as an app has it from its own.
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  await writeFile(join(dir, 'app.mjs'), [
    "import express from 'express';",
    'const app = express();',
    "app.get('/', (req, res) => res.send(`hello from ${process.pid}\\n`));",
    'export default app;',
    '',
  ].join('\n'));

  const checked = await run(process.execPath, ['--import', TSX, CLI, 'check', 'dragon.config.mjs'], { cwd: dir, timeout: 120_000 });
  assert.match(checked.stdout, new RegExp(`^shop +127\\.0\\.0\\.1:${port} +scgi +node +2 workers, 10 threads.* ok$`, 'm'), checked.stdout);
  assert.match(checked.stdout, /dragon\.config\.mjs: ok, 1 app/);

  const server = runProcess(t, process.execPath, ['--import', TSX, CLI, 'serve', 'dragon.config.mjs'], { cwd: dir });
  await server.waitFor(/log in with http:\/\/127\.0\.0\.1:\d+\/login\?token=/);
  const lines = server.output().trimEnd().split('\n');
  assert.match(lines.at(-1) ?? '', new RegExp(`dashboard on http://127\\.0\\.0\\.1:${dashboard}/ - log in with http://127\\.0\\.0\\.1:${dashboard}/login\\?token=[\\w-]{43}`), 'the login URL is the last line');

  const block = await readmeBlock('nginx', 'scgi_pass');
  assert.match(block, /listen 80;/);
  const nginx = await startNginx({ config: block.replace('listen 80;', 'listen {{listen}};').replace('127.0.0.1:9002', '127.0.0.1:{{port}}'), values: { port } });
  t.after(() => nginx.stop());
  const res = await fetch(`${nginx.url}/`);
  const body = await res.text();
  assert.equal(res.status, 200, body + (await nginx.readLogs()));
  assert.match(body, /^hello from \d+\n$/);
});
