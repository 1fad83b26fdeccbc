/**
 * @module console-capture
 * What a worker's app prints (console.log, console.error, process.stdout.write, a library's
 * warnings) goes to the app's own log file, as `pm2 logs <app>` shows an app's output, rather than
 * to the supervisor's stdout, where every app's output would be mixed.
 *
 * Each write becomes one line of the app's logger, in the format of the rest of that file: JSON
 * lines (the default for a file) stay JSON lines throughout, so `jq`, `pino-pretty` and a log
 * shipper read the whole file, and each of the app's lines carries its time, pid and stream (what
 * PM2 adds only with --time). Raw text between JSON lines would break every one of those readers,
 * while a tail of the file still shows the text itself as `msg`. With `log.format: 'pretty'` the
 * line is the readable one, time and pid before the text.
 */
import type { Logger } from 'pino';

type Write = typeof process.stdout.write;

/**
 * From now on, writes to process.stdout and process.stderr go to `log` instead, whatever its
 * level: the server's log.level filters the server's lines, never the app's output. stdout at
 * level info, stderr at error (PM2's error log), each with `stream`. One line per write, its
 * trailing newline dropped: a multi-line write (a stack, an inspected object) stays one entry.
 */
export function captureConsole(log: Logger, fileFailed: () => boolean): void {
  const out = log.child({ stream: 'stdout' }, { level: 'info' });
  const err = log.child({ stream: 'stderr' }, { level: 'info' });
  // A file that cannot be written (a worker running as `user` in a folder it may not write) must
  // not swallow the app's output: from then on it goes where it went without a file per app.
  const toStdout = process.stdout.write.bind(process.stdout) as Write;
  const toStderr = process.stderr.write.bind(process.stderr) as Write;
  const captured = (line: (text: string) => void, original: Write): Write => {
    const write = writeTo(line);
    return ((...args: Parameters<Write>) => (fileFailed() ? original(...args) : write(...args))) as Write;
  };
  process.stdout.write = captured((text) => out.info(text), toStdout);
  process.stderr.write = captured((text) => err.error(text), toStderr);
}

/** A stream's `write` that hands each write's text to `line` (exported for its tests). */
export function writeTo(line: (text: string) => void): Write {
  return ((chunk: string | Uint8Array, encoding?: BufferEncoding | ((err?: Error | null) => void), callback?: (err?: Error | null) => void): boolean => {
    const done = typeof encoding === 'function' ? encoding : callback;
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    // console.log() writes "\n": an empty line, as on a terminal.
    if (text !== '') line(text.endsWith('\n') ? text.slice(0, text.endsWith('\r\n') ? -2 : -1) : text);
    // As a stream calls it: after this write, never inside it.
    if (done) process.nextTick(done);
    return true;
  }) as Write;
}
