/**
 * @module logger
 * pino, printing readable lines by default (time, pid, level, message, like the original's
 * `2016-01-09 01:51:19,225 24425 [INFO] UP on 127.0.0.1:9002`) and JSON when asked.
 */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'pretty' | 'json';

export function createLogger(options: { level?: string; format?: LogFormat; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? 'info';
  if (options.format === 'json') {
    return options.destination ? pino({ level }, options.destination) : pino({ level });
  }
  // In-process and synchronous: a logging worker thread is not worth it at a server's log volume,
  // and lines must not be lost when the process exits right after a fatal config error.
  const stream = pretty({
    colorize: false,
    sync: true,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss,l',
    ignore: 'hostname',
    messageFormat: '{msg}',
    singleLine: true,
    destination: options.destination ?? 1,
  });
  return pino({ level, base: { pid: process.pid } }, stream);
}
