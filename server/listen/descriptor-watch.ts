/**
 * @module descriptor-watch
 * Logs "accept failed … out of file descriptors" when this process runs out of descriptors.
 * Node never says so itself: at EMFILE libuv closes its spare descriptor, accepts the waiting
 * connections and closes them at once (uv__emfile_trick), and reports nothing to the server
 * (checked: 100 connections under `prlimit --nofile=40` give 80 silent closes and no 'error').
 * So the count of open descriptors is watched instead (Linux: /proc/self/fd and /proc/self/limits,
 * both read at every check).
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';

export const WATCH_INTERVAL_MS = 1_000;
const LOG_INTERVAL_MS = 10_000;
/**
 * Counted as "out" this close to the limit: libuv's spare descriptor, the one readdir itself
 * opens, and a few a request may open (a log file, the store's pipe) would fail next.
 */
const MARGIN = 3;

/** The soft RLIMIT_NOFILE, or null where /proc/self/limits does not exist (not Linux). */
export function descriptorLimit(): number | null {
  try {
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return match && match[1] !== 'unlimited' ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** Open descriptors now, or null when even the directory cannot be opened (EMFILE: all in use). */
function openDescriptors(): number | null {
  try {
    return readdirSync('/proc/self/fd').length - 1; // less the one readdir held
  } catch {
    return null;
  }
}

let users = 0;
let timer: NodeJS.Timeout | null = null;

/**
 * Starts the process-wide watch (once, however many servers ask) and returns its stop. One
 * line every 10 s while descriptors are out, naming the count and the limit, and one when
 * they are back.
 */
export function watchDescriptors(log: Logger): () => void {
  users += 1;
  if (timer === null && descriptorLimit() !== null) timer = startTimer(log);
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    users -= 1;
    if (users === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  };
}

function startTimer(log: Logger): NodeJS.Timeout {
  let lastLogAt = -Infinity;
  let out = false;
  const t = setInterval(() => {
    // Read at every check: `prlimit --pid` or a systemd reload changes it under a running
    // process. Null when even /proc/self/limits cannot be opened (every descriptor in use) or
    // the limit was raised to unlimited.
    const limit = descriptorLimit();
    const open = openDescriptors();
    const exhausted = open === null || (limit !== null && open >= limit - MARGIN);
    if (exhausted) {
      const now = performance.now();
      if (now - lastLogAt >= LOG_INTERVAL_MS) {
        lastLogAt = now;
        // Never a limit read earlier: a stale one would say "all 20000 in use" at a limit of 256.
        const count = open === null ? (limit === null ? 'all' : `all ${limit}`) : `${open} of ${limit}`;
        log.error({ code: 'EMFILE', open, limit }, `accept failed: out of file descriptors (${count} in use): new connections to this process's listeners are closed as soon as they arrive; raise the limit (ulimit -n, systemd LimitNOFILE=) or lower threads and queue`);
      }
      out = true;
    } else if (out) {
      out = false;
      lastLogAt = -Infinity;
      log.info(`file descriptors available again (${open} of ${limit ?? 'unlimited'} in use)`);
    }
  }, WATCH_INTERVAL_MS);
  t.unref();
  return t;
}
