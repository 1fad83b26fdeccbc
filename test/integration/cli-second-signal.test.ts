// Two SIGTERMs back to back (a script, a unit's KillMode): the stop still flushes every timing row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { getFreePorts } from '../helpers/free-port.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';

test('a second SIGTERM right after the first does not exit before the timing store is flushed', async (t) => {
  const dir = await testDir(t, 'second-signal');
  const [port, stats] = await getFreePorts(2);
  const config = join(dir, 'serve.json');
  const fixture = fileURLToPath(new URL('../fixtures/hello-node.mjs', import.meta.url));
  // Rows wait up to 60 s in the supervisor's buffer: only the stop's flush writes them.
  writeFileSync(config, JSON.stringify({
    stats: `127.0.0.1:${stats}`,
    dashboard: false,
    store: { path: 'timings.db', flushInterval: 60_000 },
    log: { level: 'warn' },
    apps: [{ name: 'twice', listen: `127.0.0.1:${port}`, module: fixture, workers: 1 }],
  }));
  const cli = fileURLToPath(new URL('../../bin/dragon-on-wheels.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), cli, 'serve', config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d));
  child.stderr.on('data', (d: Buffer) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await waitUntil('the server answering', () => scgiRequest({ port }), { timeoutMs: 60_000 });
  let answered = 1;
  for (let i = 0; i < 50; i++) if ((await scgiRequest({ port }, { uri: `/n/${i}` })).status === 200) answered++;
  child.kill('SIGTERM');
  child.kill('SIGTERM');
  assert.equal(await exited, 0, output);
  const db = new Database(join(dir, 'timings.db'), { readonly: true });
  try {
    assert.equal((db.prepare('SELECT count(*) AS n FROM requests').get() as { n: number }).n, answered);
  } finally {
    db.close();
  }
});
