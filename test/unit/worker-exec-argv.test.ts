/**
 * workerExecArgv: which of the supervisor's Node flags a worker is forked with.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { workerExecArgv } from '../../server/supervisor/worker-process.js';

test('loader flags carry over; test, watch and inspect flags do not', () => {
  assert.deepEqual(workerExecArgv(['--import', 'tsx', '--test', '--watch', '--inspect-brk', '--enable-source-maps']), ['--import', 'tsx', '--enable-source-maps']);
  assert.deepEqual(workerExecArgv(['--test-name-pattern=x', '--require', './pre.cjs', '--inspect=127.0.0.1:9230']), ['--require', './pre.cjs']);
});

test('a dropped flag whose value is a separate argument drops the value too (it was loaded as the worker script)', () => {
  assert.deepEqual(workerExecArgv(['--import', 'tsx', '--test-name-pattern', 'hangs in a worker', '--test-reporter', 'spec']), ['--import', 'tsx']);
  assert.deepEqual(workerExecArgv(['--test-name-pattern', '-x', '--import', 'tsx']), ['--import', 'tsx'], 'a value flag takes the next argument even when it starts with a dash');
  assert.deepEqual(workerExecArgv(['--watch-path', 'src', '--test-concurrency', '1', '--conditions', 'dev']), ['--conditions', 'dev']);
});

test('a boolean dropped flag keeps the flag that follows it', () => {
  assert.deepEqual(workerExecArgv(['--test', '--import', 'tsx']), ['--import', 'tsx']);
  assert.deepEqual(workerExecArgv(['--test-only', '--experimental-vm-modules']), ['--experimental-vm-modules']);
  assert.deepEqual(workerExecArgv(['--import', 'tsx', '--test']), ['--import', 'tsx']);
});
