/**
 * A short libFuzzer run of the native SCGI parser under ASan and UBSan (the long run is
 * scripts/fuzz.sh, its figures in docs/architecture.md). Needs Debian's clang and libFuzzer
 * (clang, libclang-rt-14-dev): in CI a missing clang fails the test, elsewhere it skips.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NATIVE_DIR, buildFuzzer, findClang } from '../helpers/native-parse-cli.js';

const clang = findClang();
const skip = clang === null && !process.env.CI ? 'clang is not installed (apt-get install clang libclang-rt-14-dev)' : false;

test('libFuzzer finds no crash in 20 s over the seed corpus', { skip, timeout: 120_000 }, async (t) => {
  assert.ok(clang, 'clang is required in CI (.ci/run installs it): apt-get install clang libclang-rt-14-dev');
  const dir = mkdtempSync(join(tmpdir(), 'dow-native-fuzz-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fuzzer = join(dir, 'scgi-parse-fuzz');
  buildFuzzer(fuzzer);
  mkdirSync(join(dir, 'corpus'));

  // New entries go to the first directory, a temporary one; the committed seeds are only read.
  const args = ['-max_total_time=20', '-runs=50000000', '-timeout=10', '-rss_limit_mb=2048', `-artifact_prefix=${dir}/`,
    `-dict=${join(NATIVE_DIR, 'fuzz', 'scgi.dict')}`, join(dir, 'corpus'), join(NATIVE_DIR, 'fuzz', 'corpus')];
  const child = spawn(fuzzer, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    log = (log + text).slice(-20_000);
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));

  const findings = readdirSync(dir).filter((name) => /^(crash|leak|timeout|oom|slow-unit)-/.test(name));
  assert.deepEqual(findings, [], `the fuzzer left inputs behind:\n${log.slice(-4000)}`);
  assert.equal(signal, null, log.slice(-4000));
  assert.equal(code, 0, log.slice(-4000));
  assert.match(log, /Done \d+ runs/, 'the run ended normally');
});
