/**
 * @module logger
 * pino, printing readable lines on a terminal (time, pid, level, message, like the original's
 * `2016-01-09 01:51:19,225 24425 [INFO] UP on 127.0.0.1:9002`) and JSON lines otherwise, to
 * stdout or to `log.file`, which `reopenLogFiles()` (SIGUSR1, for logrotate) opens afresh.
 */
import { chownSync, closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { errors } from '../../shared/errors.js';
import { pino, type DestinationStream, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

/**
 * pino-pretty is loaded only by a process that prints for a terminal: it weighs ~3 MiB of RSS,
 * which every worker and the supervisor of a server logging JSON (systemd, files) paid for nothing.
 */
const loadPretty = (): typeof PinoPretty => createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;

/** 'auto': readable on a terminal, JSON when stdout is a pipe, a journal or a file (and for log.file). */
export type LogFormat = 'pretty' | 'json' | 'auto';

export interface LogOptions {
  level?: string;
  format?: LogFormat;
  /** Append to this file instead of stdout; every process of a server appends to the same file. */
  file?: string;
  /** For tests: write here instead of stdout or a file. */
  destination?: NodeJS.WritableStream;
}

type FileDestination = DestinationStream & { reopen(): void; flushSync(): void };

/** What `{app}` stands for in the supervisor's own file: no app name can contain a `-`. */
export const SUPERVISOR_LOG_NAME = 'dragon-on-wheels';

/**
 * `log.file` as the settings hold it: `file`, the supervisor's own lines; `appFile`, when it named
 * a folder or a pattern with `{app}`, where each app's lines go instead (absolute paths both).
 */
export interface LogFiles {
  file?: string;
  appFile?: string;
}

/** `log.file` (absolute) as LogFiles: a folder holds `<app>.log` and dragon-on-wheels.log. */
export function logFilesOf(path: string, isFolder: boolean): LogFiles {
  if (path.includes('{app}')) return { file: path.replaceAll('{app}', SUPERVISOR_LOG_NAME), appFile: path };
  if (isFolder) return { file: join(path, `${SUPERVISOR_LOG_NAME}.log`), appFile: join(path, '{app}.log') };
  return { file: path };
}

/** Where an app's lines go: its own file, or the one every process shares (absent: stdout). */
export function appLogFile(files: LogFiles, app: string): string | undefined {
  return files.appFile === undefined ? files.file : files.appFile.replaceAll('{app}', app);
}

/** Every log file this process writes, for reopenLogFiles(). */
const files = new Set<FileDestination>();
/** A log.file of this process could not be written: what the app prints then stays on stdout and stderr. */
let fileFailed = false;

export function logFileFailed(): boolean {
  return fileFailed;
}

/** The format 'auto' stands for in this process. */
export function resolveLogFormat(format: LogFormat | undefined, file: string | undefined, stdoutIsTTY: boolean): 'pretty' | 'json' {
  if (format === 'pretty' || format === 'json') return format;
  return file === undefined && stdoutIsTTY ? 'pretty' : 'json';
}

export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? 'info';
  const format = resolveLogFormat(options.format, options.file, process.stdout.isTTY === true);
  const target = options.destination ?? (options.file === undefined ? undefined : openLogFile(options.file));
  if (format === 'json') {
    // Asynchronous (pino flushes it at exit): a request's access line costs a buffer append.
    return target ? pino({ level }, target) : pino({ level }, pino.destination({ dest: 1, sync: false }));
  }
  // In-process and synchronous: a logging worker thread is not worth it at a server's log volume,
  // and lines must not be lost when the process exits right after a fatal config error.
  const stream = loadPretty()({
    colorize: false,
    sync: true,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss,l',
    // app and worker are fields for machines: on a terminal the pid column is the worker's, and
    // the message names the app (prefixed when it does not already).
    // stream: an app's output (console-capture), whose level already says stdout or stderr.
    ignore: 'hostname,app,worker,stream',
    messageFormat: withAppName,
    singleLine: true,
    destination: target ?? 1,
  });
  return pino({ level, base: { pid: process.pid } }, stream);
}

/**
 * "shop: uncaught exception …": a worker's own lines (its errors, bad requests, accept failures)
 * rarely say which app they are about, and on a terminal the app field is not shown.
 */
export function withAppName(log: Record<string, unknown>, messageKey: string): string {
  const msg = String(log[messageKey] ?? '');
  const app = log.app;
  if (typeof app !== 'string' || app === '' || mentions(msg, app)) return msg;
  return `${app}: ${msg}`;
}

/** `name` as a whole word in `text`: "shop" in "shop: …" or "(shop, 2 workers)", not in "shopping". */
function mentions(text: string, name: string): boolean {
  for (let at = text.indexOf(name); at !== -1; at = text.indexOf(name, at + 1)) {
    const before = text[at - 1];
    const after = text[at + name.length];
    if ((before === undefined || !/\w/.test(before)) && (after === undefined || !/\w/.test(after))) return true;
  }
  return false;
}

function openLogFile(path: string): FileDestination {
  // append (O_APPEND): the supervisor and its workers share the file without overwriting each
  // other's lines; mkdir: a fresh /var/log/dragon/ is created rather than failing the start.
  const dest = pino.destination({ dest: path, sync: false, append: true, mkdir: true }) as unknown as FileDestination;
  // A file this process may not open (a worker running as `user`, a read-only folder) must not
  // kill it with an unhandled 'error': said once on stderr, which a service manager keeps.
  let told = false;
  (dest as unknown as NodeJS.EventEmitter).on('error', (err: Error) => {
    // fd 2 itself: a worker's process.stderr may be captured into this very file.
    if (!told) writeToStderr(`dragon-on-wheels (pid ${process.pid}): cannot write log.file ${path}: ${err.message}\n`);
    told = true;
    fileFailed = true;
  });
  files.add(dest);
  return dest;
}

function writeToStderr(text: string): void {
  try {
    writeSync(2, text);
  } catch {
    // stderr closed too: nowhere left to say it
  }
}

/**
 * Every log file this run will write (the supervisor's and each app's) is created now if missing,
 * before anything forks: a path that cannot be written (a file where a folder should be, a folder
 * without the right) is an error naming it, where pino would fail later in every process. Started
 * as root with `user`, each file is given to the user, whom the workers (and, after start, the
 * supervisor) run as, so they can append to it and reopen it.
 */
export function prepareLogFiles(paths: Iterable<string>, owner?: { uid: number; gid: number }): void {
  for (const path of new Set(paths)) {
    try {
      mkdirSync(dirname(path), { recursive: true });
      closeSync(openSync(path, 'a'));
      if (owner) chownSync(path, owner.uid, owner.gid);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new errors.DOW_ERR_LOG_FILE(path, e.code === 'ENOTDIR' || e.code === 'EEXIST' ? `${e.code}: a file stands where a folder of its path should be` : e.message);
    }
  }
}

/** After logrotate moved the files away: write to new files at the same paths (nginx's USR1). */
export function reopenLogFiles(): number {
  for (const dest of files) dest.reopen();
  return files.size;
}
