#!/usr/bin/env node
// `node scripts/native-coverage.mjs [test files...]`: which lines and branches of the native core
// (native/src) each test file runs, on a gcov build of it, and the fewest files, cheapest first,
// that together run every one of them. It is how `npm run test:asan`'s list was chosen
// (scripts/test-files.sh): the sanitizers can only report on code that runs, and a file whose
// every line and branch others run too adds time to that stage, not checks.
//
// Without arguments it measures `bash scripts/test-files.sh asan-candidates`. Each file runs alone
// (two at a time), with DOW_IO=native, the addon given by DOW_NATIVE_ADDON and gcov's counts
// written under a folder of its own (GCOV_PREFIX), worker processes included. A process killed
// with SIGKILL writes no counts: a test whose server is killed so at its end is counted short
// (test-files.sh keeps such a one by name), and what a worker killed by a test ran before its
// kill is counted only where another process runs the same code and exits.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PARALLEL = 2;

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 30, ...options });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

const work = mkdtempSync(join(tmpdir(), 'dow-native-coverage.'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const files = process.argv.length > 2 ? process.argv.slice(2) : run('bash', ['scripts/test-files.sh', 'asan-candidates']).trim().split('\n');

run('npm', ['run', '--silent', 'build:native', '--', '--coverage', join(work, 'addon')]);
const objects = join(work, 'addon', 'build', 'Release', 'obj.target', 'dow_native', 'src');
const addon = join(work, 'addon', 'build', 'Release', 'dow_native.node');

/** Runs one test file on the coverage build; resolves with its wall time and whether it passed. */
function measure(file, index) {
  const started = performance.now();
  const env = { ...process.env, DOW_IO: 'native', DOW_NATIVE_ADDON: addon, GCOV_PREFIX: join(work, 'counts', String(index)) };
  return new Promise((resolveRun) => {
    const child = spawn('node', ['--import', 'tsx', '--test', '--test-timeout=300000', file], { cwd: root, env, stdio: ['ignore', 'ignore', 'ignore'] });
    child.on('exit', (code) => resolveRun({ seconds: (performance.now() - started) / 1000, passed: code === 0 }));
  });
}

/** Every line and branch of native/src that file `index` ran, as "file:line" and "file:line:branch". */
function reached(index) {
  const counts = join(work, 'counts', String(index), objects);
  const keys = new Set();
  let gcdas;
  try {
    gcdas = readdirSync(counts).filter((name) => name.endsWith('.gcda'));
  } catch {
    return keys; // it never loaded the addon
  }
  for (const gcda of gcdas) {
    const gcno = gcda.replace(/\.gcda$/, '.gcno');
    copyFileSync(join(objects, gcno), join(counts, gcno));
    const report = JSON.parse(run('gcov', ['--json-format', '--stdout', '--branch-probabilities', gcda], { cwd: counts }));
    for (const source of report.files) {
      const name = basename(source.file);
      for (const line of source.lines) {
        if (line.count > 0) keys.add(`${name}:${line.line_number}`);
        line.branches.forEach((branch, i) => {
          if (branch.count > 0) keys.add(`${name}:${line.line_number}:${i}`);
        });
      }
    }
  }
  return keys;
}

const results = new Array(files.length);
let next = 0;
await Promise.all(Array.from({ length: PARALLEL }, async () => {
  while (next < files.length) {
    const index = next++;
    const outcome = await measure(files[index], index);
    results[index] = { file: files[index], ...outcome, keys: reached(index) };
    console.error(`${outcome.passed ? 'ran' : 'FAILED'} ${files[index]} in ${outcome.seconds.toFixed(1)} s: ${results[index].keys.size} lines and branches`);
  }
}));

// Greedy set cover, weighted by time: each step takes the file that adds the most not yet run
// lines and branches per second of its own run.
const union = new Set(results.flatMap((r) => [...r.keys]));
const covered = new Set();
const chosen = [];
const left = results.filter((r) => r.keys.size > 0);
while (covered.size < union.size) {
  let best = null;
  let bestGain = 0;
  for (const r of left) {
    let gain = 0;
    for (const key of r.keys) if (!covered.has(key)) gain++;
    if (gain > 0 && (best === null || gain / r.seconds > bestGain / best.seconds)) {
      best = r;
      bestGain = gain;
    }
  }
  if (best === null) break;
  for (const key of best.keys) covered.add(key);
  left.splice(left.indexOf(best), 1);
  chosen.push({ ...best, gain: bestGain });
}
console.log(`${union.size} lines and branches of native/src run by ${results.length} files in ${results.reduce((s, r) => s + r.seconds, 0).toFixed(0)} s; all of them by these ${chosen.length}, in ${chosen.reduce((s, r) => s + r.seconds, 0).toFixed(0)} s:`);
for (const r of chosen) console.log(`  ${r.file}  +${r.gain} (${r.keys.size} in all, ${r.seconds.toFixed(1)} s)`);
const failed = results.filter((r) => !r.passed);
if (failed.length > 0) console.log(`failed on the coverage build (their counts are partial): ${failed.map((r) => r.file).join(' ')}`);
console.log(`not needed: ${results.filter((r) => !chosen.some((c) => c.file === r.file)).map((r) => r.file).join(' ')}`);
