/**
 * `dragon-on-wheels load` (the script it replaced crashed on --help and imported from
 * test/helpers): a real child process against a real server, over TCP and a Unix
 * socket, with its exit codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startRuntime } from '../helpers/runtime.js';
import { testDir } from '../helpers/temp-dir.js';

const CLI = fileURLToPath(new URL('../../bin/dragon-on-wheels.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

async function load(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', TSX, CLI, 'load', ...args], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

test('load sends a bounded number of requests and reports throughput, statuses and percentiles; exit 1 when any answer failed', async (t) => {
  const dir = await testDir(t, 'load');
  const seen: string[] = [];
  const rt = await startRuntime(t, [
    { name: 'ok', node: (req, res) => { seen.push(`${req.method} ${req.url}`); res.end('fine'); } },
    { name: 'broken', listen: `unix:${join(dir, 'broken.sock')}`, node: (_req, res) => { res.statusCode = 500; res.end('no'); } },
  ]);
  const ok = rt.targets.get('ok') as { port: number };

  const good = await load([`127.0.0.1:${ok.port}`, '--requests', '40', '--concurrency', '4', '--uri', '/ping?x=1', '--method', 'HEAD']);
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /: 40 requests in [\d.]+ s at concurrency 4/);
  assert.match(good.stdout, /throughput \d+ req\/s; latency ms p50 [\d.]+ p95 [\d.]+ p99 [\d.]+ max [\d.]+/);
  assert.match(good.stdout, /statuses 200=40/);
  assert.equal(seen.length, 40);
  assert.ok(seen.every((line) => line === 'HEAD /ping?x=1'));

  const bad = await load([`unix:${join(dir, 'broken.sock')}`, '--requests', '5']);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /statuses 500=5/);
});

test('load refuses what it must not do, with exit 2: a non-loopback target, a bad count', async () => {
  const remote = await load(['192.0.2.1:9002', '--requests', '1']);
  assert.equal(remote.code, 2);
  assert.match(remote.stderr, /refusing 192\.0\.2\.1:9002: load sends traffic to loopback addresses and Unix sockets only/);
  const count = await load(['--requests', 'many']);
  assert.equal(count.code, 2);
  assert.match(count.stderr, /--requests must be a positive integer, not "many"/);
});
