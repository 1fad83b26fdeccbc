/**
 * Short libFuzzer runs of the native core under ASan and UBSan: the SCGI parser, the pieces a
 * connection is made of (head reader, write queue, id table) against plain models, and the
 * connection state machine with a scripted socket, loop and JavaScript. The long runs
 * are scripts/fuzz.sh, their figures in docs/architecture.md. Needs Debian's clang and libFuzzer
 * (clang, libclang-rt-14-dev): in CI a missing clang fails the tests, elsewhere they skip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FUZZ_TARGETS, NATIVE_DIR, buildFuzzer, findClang, type FuzzTarget } from '../helpers/native-parse-cli.js';
import { withoutSanitizer } from '../helpers/sanitizer-env.js';
import { testDirSync } from '../helpers/temp-dir.js';

const clang = findClang();
const skip = process.env.DOW_TEST_SANITIZED
  // test:asan: these are sanitized builds of their own, which never load the addon; npm test runs them.
  ? 'the fuzzers do not load the addon (npm test runs them)'
  // test:node-lines: nor do they run on Node.
  : process.env.DOW_TEST_NODE_LINE ? 'the fuzzers do not depend on the Node line (npm test runs them)'
  : clang === null && !process.env.CI ? 'clang is not installed (apt-get install clang libclang-rt-14-dev)' : false;

const RUNS: Array<[FuzzTarget, number, string]> = [
  ['scgi-parse', 20, 'the SCGI parser'],
  ['conn', 15, "a connection's head reader, write queue and id table"],
  ['machine', 15, 'the connection state machine, with a scripted socket, loop and JavaScript'],
];

for (const [target, seconds, what] of RUNS) {
  test(`libFuzzer finds no crash in ${what} in ${seconds} s over the seed corpus`, { skip, timeout: 120_000 }, async (t) => {
    assert.ok(clang, 'clang is required in CI (.ci/run installs it): apt-get install clang libclang-rt-14-dev');
    const dir = testDirSync(t, `native-fuzz-${target}`);
    const fuzzer = join(dir, `${target}-fuzz`);
    buildFuzzer(fuzzer, target);
    mkdirSync(join(dir, 'corpus'));

    // New entries go to the first directory, a temporary one; the committed seeds are only read.
    const { corpus, dict } = FUZZ_TARGETS[target];
    const args = [`-max_total_time=${seconds}`, '-runs=50000000', '-timeout=10', '-rss_limit_mb=2048', `-artifact_prefix=${dir}/`,
      `-dict=${join(NATIVE_DIR, dict)}`, join(dir, 'corpus'), join(NATIVE_DIR, corpus)];
    const child = spawn(fuzzer, args, { stdio: ['ignore', 'ignore', 'pipe'], env: withoutSanitizer() });
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
}
