/**
 * The supervisor under a real low descriptor limit (`prlimit --nofile`). The bug it pins:
 * 1,000 idle dashboard connections made every app and the stats port drop 87 of 95 probes, and
 * at the limit no "accept failed" line was written. Now the dashboard's connections are capped,
 * so apps in the supervisor and the stats port keep answering, and exhaustion is logged.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { getFreePort } from '../helpers/free-port.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { testDir } from '../helpers/temp-dir.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const CLI = fileURLToPath(new URL('../../bin/dragon-on-wheels.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
const FIXTURE = fileURLToPath(new URL('../fixtures/hello-node.mjs', import.meta.url));
const TOKEN = 'descriptor-limit-Zk3v9QpL2mX8rT4wB6yN1cJ5';

interface Started { output(): string; ports: { app: number; stats: number; dashboard: number } }

/** `serve` with one in-process app (it shares the supervisor's descriptors), under `prlimit`. */
async function serveUnderLimit(t: TestContext, nofile: number): Promise<Started> {
  const dir = await testDir(t, 'nofile');
  const ports = { app: await getFreePort(), stats: await getFreePort(), dashboard: await getFreePort() };
  const file = join(dir, 'config.json');
  await writeFile(file, JSON.stringify({
    stats: `127.0.0.1:${ports.stats}`,
    store: false,
    log: { level: 'info', format: 'json' },
    dashboard: { listen: `127.0.0.1:${ports.dashboard}`, token: TOKEN },
    apps: [{ name: 'hello', listen: `127.0.0.1:${ports.app}`, module: FIXTURE, workers: 0 }],
  }));
  // prlimit execs the command: the pid is the server's.
  const child = spawn('prlimit', [`--nofile=${nofile}:${nofile}`, '--', process.execPath, '--import', TSX, CLI, 'serve', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  await waitUntil('the server started', () => {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    return /dashboard on http/.test(output);
  }, { timeoutMs: 60_000 }).catch((err: Error) => {
    throw new Error(`${err.message}:\n${output}`);
  });
  return { output: () => output, ports };
}

/** Keeps `count` idle connections open to `port` (reopening those the server closes) until stopped. */
function flood(port: number, count: number): { stop(): void; opened(): number } {
  let stopped = false;
  let opened = 0;
  const sockets = new Set<net.Socket>();
  const open = (): void => {
    if (stopped) return;
    const s = net.connect(port, '127.0.0.1');
    opened += 1;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => {
      sockets.delete(s);
      // Bounded: a closed connection is reopened after a pause, never in a tight loop.
      if (!stopped) setTimeout(open, 50);
    });
  };
  for (let i = 0; i < count; i += 1) open();
  return {
    stop() {
      stopped = true;
      for (const s of sockets) s.destroy();
    },
    opened: () => opened,
  };
}

function statsAnswer(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const s = net.connect(port, '127.0.0.1');
    s.setTimeout(3000, () => s.destroy(new Error('timeout')));
    s.on('data', (c: Buffer) => (text += c.toString()));
    s.on('end', () => resolve(text));
    s.on('error', reject);
  });
}

test('600 dashboard connections under a 256-descriptor limit: the app and the stats port still answer every probe', async (t) => {
  const { ports } = await serveUnderLimit(t, 256);
  const attack = flood(ports.dashboard, 600);
  t.after(() => attack.stop());
  // The attack is on once the server has closed the connections over the dashboard's cap and
  // the flood has opened them again.
  await waitUntil('the flood refused and reopened', () => attack.opened() >= 1200);
  let failed = 0;
  const probes = 30;
  for (let i = 0; i < probes; i += 1) {
    const [app, stats] = await Promise.allSettled([scgiRequest({ port: ports.app }), statsAnswer(ports.stats)]);
    if (app.status === 'rejected' || app.value.status !== 200) failed += 1;
    if (stats.status === 'rejected' || !/uptime/.test(stats.value)) failed += 1;
    // Probes spread over the attack: every one must be answered (not an event to wait for).
    await sleep(100);
  }
  attack.stop();
  assert.equal(failed, 0, `${failed} of ${probes * 2} probes failed while ${attack.opened()} dashboard connections were opened`);
});

test('at the descriptor limit, "accept failed: out of file descriptors" is logged, and the recovery', async (t) => {
  const started = await serveUnderLimit(t, 128);
  const attack = flood(started.ports.app, 300);
  t.after(() => attack.stop());
  await waitUntil('accept failed logged', () => /accept failed: out of file descriptors/.test(started.output()));
  // "all": at the limit even /proc/self/limits cannot be opened, so no limit is named.
  assert.match(started.output(), /accept failed: out of file descriptors \((\d+ of 128|all 128|all) in use\)/);
  attack.stop();
  await waitUntil('the recovery logged', () => /file descriptors available again/.test(started.output()));
  assert.equal((await scgiRequest({ port: started.ports.app })).status, 200, 'serving again');
});
