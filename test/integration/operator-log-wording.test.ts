/**
 * Log lines an operator reads: the UP line names the I/O an app really gets, and a pretty line
 * from a worker names its app.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { loadNative } from '../../server/native/native-binding.js';
import { createLogger, withAppName } from '../../server/logs/logger.js';
import { poolApp, startSupervisor } from '../helpers/supervisor.js';

test('the UP line of an HTTP app with workers does not say "native I/O" (the native core serves SCGI only)', { skip: loadNative().binding === null ? 'no native core: the SCGI line would not say it either' : false }, async (t) => {
  const http = poolApp({ name: 'web' });
  http.options.protocol = 'http';
  const scgi = poolApp({ name: 'shop' });
  scgi.options.io = 'native';
  const { logs } = await startSupervisor(t, [http, scgi]);
  const up = (name: string): string => String(logs.find((l) => l.app === name && /^UP on/.test(String(l.msg)))?.msg);
  assert.match(up('web'), /\(web, HTTP, 1 worker/);
  assert.doesNotMatch(up('web'), /native I\/O/);
  assert.match(up('shop'), /, native I\/O$/, 'an SCGI app on the native core still says so');
});

test('pretty log lines carrying an app name that the message does not mention are prefixed with it', () => {
  const lines: string[] = [];
  const destination = new Writable({ write(chunk: Buffer, _e, done) { lines.push(chunk.toString()); done(); } });
  const log = createLogger({ format: 'pretty', destination }).child({ app: 'shop', worker: 4242 });
  log.error('uncaught exception (serving goes on): boom');
  log.info('UP on 127.0.0.1:9002 (shop, 2 workers)');
  assert.match(lines[0] ?? '', /ERROR \(\d+\): shop: uncaught exception \(serving goes on\): boom/);
  assert.doesNotMatch(lines[1] ?? '', /shop: UP/, 'a line that names the app is left as it is');
  assert.equal(withAppName({ msg: 'shopping cart failed', app: 'shop' }, 'msg'), 'shop: shopping cart failed', 'a word that only contains the name does not count');
  assert.equal(withAppName({ msg: 'no app here' }, 'msg'), 'no app here');
});
