#!/usr/bin/env node
// Builds the native I/O core (native/, see docs/architecture.md) with node-gyp: npm runs this on
// install, as better-sqlite3 builds its addon. The core is optional: if it cannot be built (no C
// compiler, not Linux), this says why and exits 0, and apps with io 'auto' serve through node:net.
//
//   npm run build:native                      the release build, in native/build
//   npm run build:native -- --asan <dir>      an AddressSanitizer + UBSan build of a copy in <dir>
//                                             (scripts/test-asan.sh)
//   npm run build:native -- --fault <dir>     a build of a copy in <dir> whose injectFault() makes a
//                                             chosen Node-API call fail (tests of the addon's glue);
//                                             with --asan too, under the sanitizers
//   npm run build:native -- --coverage <dir>  a build of a copy in <dir> that records which lines
//                                             and branches run (gcov; scripts/test-coverage.mjs)
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const asan = args.includes('--asan');
const fault = args.includes('--fault');
const coverage = args.includes('--coverage');
const target = args.find((arg) => !arg.startsWith('--'));
let directory = join(root, 'native');

if (process.platform !== 'linux') {
  console.log(`dragon-on-wheels: the native I/O core is Linux-only; on ${process.platform} apps are served through node:net`);
  process.exit(0);
}

const env = { ...process.env };
if (asan || fault || coverage) {
  if (!target) {
    console.error('usage: build-native.mjs [--asan] [--fault] [--coverage] <dir>');
    process.exit(2);
  }
  directory = resolve(target);
  mkdirSync(directory, { recursive: true });
  cpSync(join(root, 'native', 'binding.gyp'), join(directory, 'binding.gyp'));
  cpSync(join(root, 'native', 'src'), join(directory, 'src'), { recursive: true });
  env.CC = 'gcc';
}
if (asan) {
  // gcc's sanitizers, as Node itself is built with gcc here: the test run preloads gcc's libasan.
  const sanitize = '-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1';
  env.CFLAGS = sanitize;
  env.LDFLAGS = '-fsanitize=address,undefined';
}
if (coverage) {
  // Unoptimised, so that each line and branch counted is one of the source's.
  env.CFLAGS = '--coverage -O0 -g';
  env.LDFLAGS = '--coverage';
}
if (fault) env.CFLAGS = `${env.CFLAGS ?? ''} -DDOW_FAULT_INJECTION`.trim();

// npm hands its own node-gyp to install scripts (and its nodedir setting with it).
const gyp = env.npm_config_node_gyp;
const command = gyp && existsSync(gyp) ? [process.execPath, gyp] : ['node-gyp'];
const result = spawnSync(command[0], [...command.slice(1), 'rebuild', '--directory', directory], { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (result.status === 0) {
  console.log(`dragon-on-wheels: native I/O core built in ${join(directory, 'build', 'Release')}`);
  process.exit(0);
}
const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
const why = result.error ? result.error.message : output;
if (asan || fault || coverage) {
  console.error(`the ${asan ? 'AddressSanitizer' : coverage ? 'coverage' : 'fault-injection'} build failed:\n${why}`);
  process.exit(1);
}
console.warn(`dragon-on-wheels: the native I/O core was not built; apps with io 'auto' are served through node:net.\n${why}`);
process.exit(0);
