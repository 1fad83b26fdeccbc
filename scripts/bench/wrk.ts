/**
 * @module wrk
 * Runs Debian's wrk against a loopback URL for a bounded time and parses its report (with
 * --latency) into numbers. The parser is pure and takes wrk's text as printed by wrk 4.1.
 */
import { execFile } from 'node:child_process';

export interface WrkResult {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** connect + read + write + timeout socket errors. */
  socketErrors: number;
  /** wrk's "Non-2xx or 3xx responses". */
  non2xx: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function durationMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!match) throw new Error(`wrk: cannot read the duration ${JSON.stringify(text)}`);
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}

/**
 *   Latency Distribution
 *      50%  512.00us
 *      99%    2.31ms
 *   123456 requests in 10.00s, 15.07MB read
 *   Socket errors: connect 0, read 0, write 0, timeout 0
 *   Non-2xx or 3xx responses: 12
 * Requests/sec:  12345.67
 */
export function parseWrkOutput(text: string): WrkResult {
  const p50 = /^\s+50%\s+(\S+)/m.exec(text);
  const p99 = /^\s+99%\s+(\S+)/m.exec(text);
  const total = /^\s+(\d+) requests in ([\d.]+)(us|ms|s|m),/m.exec(text);
  const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  if (!p50 || !p99 || !total || !rate) throw new Error(`wrk: unexpected output:\n${text}`);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requests: Number(total[1]),
    seconds: durationMs(`${total[2]}${total[3]}`) / 1000,
    requestsPerSecond: Number(rate[1]),
    p50Ms: durationMs(p50[1] as string),
    p99Ms: durationMs(p99[1] as string),
    socketErrors: errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
  };
}

export interface WrkOptions {
  url: string;
  seconds: number;
  connections: number;
  threads: number;
}

/** The exact wrk command line, for the report. */
export function wrkArgs(o: WrkOptions): string[] {
  // --timeout 2s: a request slower than that counts as a timeout error rather than a latency.
  return [`-t${o.threads}`, `-c${o.connections}`, `-d${o.seconds}s`, '--timeout', '2s', '--latency', o.url];
}

export function runWrk(o: WrkOptions): Promise<WrkResult> {
  if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(o.url)) throw new Error(`wrk: loopback targets only, not ${o.url}`);
  return new Promise((resolve, reject) => {
    // wrk stops itself after -d; the kill timeout bounds the run even if it hangs.
    execFile('wrk', wrkArgs(o), { timeout: (o.seconds + 15) * 1000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`wrk failed: ${err.message}\n${stdout}${stderr}`));
        return;
      }
      try {
        resolve(parseWrkOutput(stdout));
      } catch (parseError) {
        reject(parseError as Error);
      }
    });
  });
}
