/**
 * @module access-log
 * The opt-in access log (`log: { access: true | 'combined' }`): one line per finished request,
 * written by the process that served it (a worker, with its pid) to the server's log destination.
 */
import { pino, type Logger } from 'pino';

/** true is 'json': a pino line like every other (readable on a terminal, JSON elsewhere). */
export type AccessLogFormat = 'json' | 'combined';

export interface AccessEntry {
  app: string;
  startMs: number;
  method: string;
  /** Path and query as the client asked (mount included). */
  uri: string;
  protocol: string;
  status: number;
  /** Bytes written to the front end, response head included. */
  bytes: number;
  /** Accepted to finished. */
  durationMs: number;
  /** Accepted to admitted (time waiting for a thread). */
  queueMs: number;
  remoteAddr: string;
  referer: string;
  userAgent: string;
}

export type AccessLogWriter = (entry: AccessEntry) => void;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Apache's %t: [27/Nov/2026:05:02:40 +0000], always in UTC so lines sort across processes. */
function clfTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `[${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()] as string}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000]`;
}

/** A value inside double quotes, as nginx escapes it (quotes, backslashes and controls as \xHH). */
function quoted(value: string): string {
  return value === '' ? '"-"' : `"${value.replace(/["\\\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}"`;
}

/**
 * Apache/nginx "combined" plus what SCGI adds, so that log analysers (GoAccess, awstats) read the
 * first nine fields as they are:
 *   127.0.0.1 - - [27/Nov/2026:05:02:40 +0000] "GET /x HTTP/1.1" 200 123 "-" "curl/8" app=shop pid=4242 ms=1.2 queue_ms=0.0
 */
export function formatCombined(entry: AccessEntry, pid: number): string {
  return `${entry.remoteAddr || '-'} - - ${clfTime(entry.startMs)} ${quoted(`${entry.method} ${entry.uri} ${entry.protocol}`)} `
    + `${entry.status} ${entry.bytes} ${quoted(entry.referer)} ${quoted(entry.userAgent)} `
    + `app=${entry.app} pid=${pid} ms=${entry.durationMs.toFixed(1)} queue_ms=${entry.queueMs.toFixed(1)}\n`;
}

export function createAccessLog(log: Logger, format: AccessLogFormat): AccessLogWriter {
  if (format === 'json') {
    return (e) => log.info(
      { access: true, app: e.app, method: e.method, url: e.uri, status: e.status, bytes: e.bytes, ms: round(e.durationMs), queueMs: round(e.queueMs), remote: e.remoteAddr },
      `${e.app}: ${e.method} ${e.uri} ${e.status} ${e.bytes} B ${round(e.durationMs)} ms`,
    );
  }
  // The logger's own destination (stdout or log.file): one file for logrotate to move. Raw text
  // bypasses the level and the JSON framing, as the combined format is meant for log analysers.
  const stream = (log as unknown as Record<symbol, { write(line: string): void }>)[pino.symbols.streamSym];
  if (stream === undefined) throw new TypeError('the logger has no destination stream');
  return (e) => stream.write(formatCombined(e, process.pid));
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
