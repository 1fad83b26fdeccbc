/**
 * `serve` started the way npx starts it (a node process that runs `sh -c <command>` with
 * npm_execpath set, and passes SIGTERM on to the shell only, as npm's signal manager does): the
 * server stops gracefully once that process is gone instead of serving on, reparented.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readProcStat } from '../../bin/parent-watch.js';
import { cliArgs, runProcess, type ServeProcess } from '../helpers/cli-process.js';
import { getFreePorts } from '../helpers/free-port.js';
import { readFigures } from '../helpers/stats.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';

/** What npx does, reduced: `sh -c` the command, pass SIGTERM/SIGINT to the shell, exit after it. */
const FAKE_NPM = `import { spawn } from 'node:child_process';
const quote = (arg) => "'" + arg.replaceAll("'", "'\\\\''") + "'";
const child = spawn('sh', ['-c', process.argv.slice(2).map(quote).join(' ')], {
  stdio: 'inherit',
  env: { ...process.env, npm_execpath: '/usr/lib/node_modules/npm/bin/npm-cli.js', npm_command: 'exec' },
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
`;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts `serve` under the fake npm; returns it and the server's pid, checked to sit below a shell. */
async function serveUnderNpm(t: TestContext, dir: string): Promise<{ npm: ServeProcess; server: number; port: number }> {
  const [port, stats] = await getFreePorts(2);
  const config = join(dir, 'dragon.config.json');
  await writeFile(config, JSON.stringify({
    stats: `127.0.0.1:${stats}`,
    store: false,
    dashboard: false,
    apps: [{ name: 'hello', listen: `127.0.0.1:${port}`, module: join(import.meta.dirname, '../fixtures/hello-node.mjs') }],
  }));
  const npm = join(dir, 'fake-npm.mjs');
  await writeFile(npm, FAKE_NPM);
  // Its own process group, which t.after kills whole: the server and its workers are in it.
  const started = runProcess(t, process.execPath, [npm, process.execPath, ...cliArgs(config)], { detached: true });
  await started.waitFor(new RegExp(`UP on 127\\.0\\.0\\.1:${stats}`));
  const server = Number((await readFigures(stats)).get('supervisor_pid'));
  const shell = readProcStat(server)?.ppid as number;
  assert.equal(readProcStat(shell)?.ppid, started.child.pid, 'the server runs as npm\'s grandchild, below a shell');
  return { npm: started, server, port };
}

test('serve under npx stops gracefully when npx gets SIGTERM (npm passes it to the shell, which does not pass it on)', async (t) => {
  const dir = await testDir(t, 'parent-term');
  const { npm, server } = await serveUnderNpm(t, dir);
  npm.child.kill('SIGTERM');
  await npm.exited;
  await waitUntil('the server gone after its starter', () => !isAlive(server), { timeoutMs: 20_000 });
  assert.match(npm.output(), /the process that started this server \(pid \d+\) has exited: stopping as on SIGTERM/);
  assert.match(npm.output(), /"msg":"stopped"/);
});

test('serve under npx stops gracefully when npx is killed outright (the shell between them stays)', async (t) => {
  const dir = await testDir(t, 'parent-kill');
  const { npm, server } = await serveUnderNpm(t, dir);
  npm.child.kill('SIGKILL');
  await npm.exited;
  await waitUntil('the server gone after its starter', () => !isAlive(server), { timeoutMs: 20_000 });
  assert.match(npm.output(), new RegExp(`the process that started this server \\(pid ${npm.child.pid}, through the shell \\d+\\) has exited`));
  assert.match(npm.output(), /"msg":"stopped"/);
});
