/**
 * What a worker's app prints, as console-capture hands it to the app's logger: one line per write,
 * the trailing newline dropped, bytes as text, and the stream's callback called after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeTo } from '../../server/logs/console-capture.js';

test('writeTo: one line per write, newline dropped, bytes decoded, empty writes skipped, callbacks called', async () => {
  const lines: string[] = [];
  const write = writeTo((text) => lines.push(text));
  assert.equal(write('cart 7 saved\n'), true);
  write('two\nlines\r\n');
  write('\n');
  write('');
  write('no newline');
  write(Buffer.from('bytes ✓\n'));
  const called: string[] = [];
  await new Promise<void>((resolve) => write('with encoding\n', 'utf8', () => { called.push('encoding'); resolve(); }));
  await new Promise<void>((resolve) => write('with callback\n', () => { called.push('callback'); resolve(); }));
  assert.deepEqual(lines, ['cart 7 saved', 'two\nlines', '', 'no newline', 'bytes ✓', 'with encoding', 'with callback']);
  assert.deepEqual(called, ['encoding', 'callback']);
});
