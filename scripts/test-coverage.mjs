#!/usr/bin/env node
// `node scripts/test-coverage.mjs native|node [test files...]`: what each test file reaches, and
// the fewest files, cheapest first, that together reach all of it: how `npm run test:asan`'s list
// was chosen, and why `npm run test:node-lines`'s was not cut (scripts/test-files.sh). A file
// that reaches nothing the others do not adds time to a stage, not checks.
//
//   native  the lines and branches of the native core (native/src) that run, on a gcov build of
//           it: what `npm run test:asan`'s sanitizers can report on. Candidates:
//           `test-files.sh asan-candidates`.
//   node    the blocks of Node's own JavaScript (its `node:` modules: http, net, child_process,
//           the IPC channel, streams...) that run, from V8's coverage (NODE_V8_COVERAGE): what can
//           differ between Node lines. Candidates: `test-files.sh node-lines-candidates`. On
//           2026-12-07 it took 69 of the 114 (1,882 of 2,318 s) to reach every block, most of
//           them for a few blocks each, so `test:node-lines` runs them all.
//
// Each file runs alone (two at a time), child processes included (they inherit the settings).
// A process killed with SIGKILL writes no counts: a test whose server is killed so at its end is
// counted short (test-files.sh keeps such a one by name), and what a worker killed by a test ran
// is counted only where another process runs the same code and exits.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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

const work = mkdtempSync(join(tmpdir(), 'dow-test-coverage.'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** The native core on a gcov build: each file's counts under a folder of its own (GCOV_PREFIX). */
function nativeMeasure() {
  run('npm', ['run', '--silent', 'build:native', '--', '--coverage', join(work, 'addon')]);
  const objects = join(work, 'addon', 'build', 'Release', 'obj.target', 'dow_native', 'src');
  const addon = join(work, 'addon', 'build', 'Release', 'dow_native.node');
  return {
    candidates: 'asan-candidates',
    what: 'lines and branches of native/src',
    env: (dir) => ({ DOW_IO: 'native', DOW_NATIVE_ADDON: addon, GCOV_PREFIX: dir }),
    reached(dir) {
      const counts = join(dir, objects);
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
    },
  };
}

/**
 * Node's own modules, from V8's block coverage. A block is listed where its count differs from
 * the block around it, so the same code can be listed in one file's run and implied in another's:
 * that can only make the chosen set larger, never leave a reached block out.
 */
function nodeMeasure() {
  return {
    candidates: 'node-lines-candidates',
    what: "blocks of Node's own modules",
    env: (dir) => ({ NODE_V8_COVERAGE: dir }),
    reached(dir) {
      const keys = new Set();
      let reports;
      try {
        reports = readdirSync(dir).filter((name) => name.endsWith('.json'));
      } catch {
        return keys;
      }
      for (const report of reports) {
        let parsed;
        try {
          parsed = JSON.parse(readFileSync(join(dir, report), 'utf8'));
        } catch {
          continue; // a process that died while writing it
        }
        for (const script of parsed.result) {
          // The test runner's own code is the harness, not what the tests check.
          if (!script.url.startsWith('node:') || script.url.startsWith('node:internal/test_runner') || script.url === 'node:test') continue;
          for (const fn of script.functions) {
            for (const range of fn.ranges) if (range.count > 0) keys.add(`${script.url}:${range.startOffset}-${range.endOffset}`);
          }
        }
      }
      return keys;
    },
  };
}

const [kind, ...given] = process.argv.slice(2);
if (kind !== 'native' && kind !== 'node') {
  console.error('usage: test-coverage.mjs native|node [test files...]');
  process.exit(2);
}
const measure = kind === 'native' ? nativeMeasure() : nodeMeasure();
const files = given.length > 0 ? given : run('bash', ['scripts/test-files.sh', measure.candidates]).trim().split('\n');

/** Runs one test file; resolves with its wall time and whether it passed. */
function runFile(file, dir) {
  const started = performance.now();
  const env = { ...process.env, ...measure.env(dir) };
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-timeout=300000', file], { cwd: root, env, stdio: ['ignore', 'ignore', 'ignore'] });
    child.on('exit', (code) => resolveRun({ seconds: (performance.now() - started) / 1000, passed: code === 0 }));
  });
}

const results = new Array(files.length);
let next = 0;
await Promise.all(Array.from({ length: PARALLEL }, async () => {
  while (next < files.length) {
    const index = next++;
    const dir = join(work, 'counts', String(index));
    const outcome = await runFile(files[index], dir);
    results[index] = { file: files[index], ...outcome, keys: measure.reached(dir) };
    console.error(`${outcome.passed ? 'ran' : 'FAILED'} ${files[index]} in ${outcome.seconds.toFixed(1)} s: ${results[index].keys.size} ${measure.what}`);
  }
}));

// Greedy set cover, weighted by time: each step takes the file that adds the most keys not yet
// reached per second of its own run.
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
const seconds = (list) => list.reduce((s, r) => s + r.seconds, 0).toFixed(0);
console.log(`${union.size} ${measure.what} reached by ${results.length} files in ${seconds(results)} s; all of them by these ${chosen.length}, in ${seconds(chosen)} s:`);
for (const r of chosen) console.log(`  ${r.file}  +${r.gain} (${r.keys.size} in all, ${r.seconds.toFixed(1)} s)`);
const failed = results.filter((r) => !r.passed);
if (failed.length > 0) console.log(`failed here (their counts are partial): ${failed.map((r) => r.file).join(' ')}`);
console.log(`not needed: ${results.filter((r) => !chosen.some((c) => c.file === r.file)).map((r) => r.file).join(' ')}`);
