/**
 * @module sd-notify
 * systemd's service notifications (sd_notify(3)): READY=1, RELOADING=1, STOPPING=1, STATUS=,
 * WATCHDOG=1, each one datagram to the AF_UNIX socket named by NOTIFY_SOCKET. A no-op without
 * NOTIFY_SOCKET; a failed send is logged once and never throws.
 *
 * Node's dgram has no AF_UNIX datagram sockets. Sent with unix-dgram, an optional dependency (a
 * small native addon, last released 2025-08, built from source by npm; when it is missing, that is
 * logged once and nothing is sent): the datagram then comes from this process, so
 * systemd accepts it with the default NotifyAccess=main. Not chosen: Debian's `systemd-notify`
 * command, whose datagram comes from its own short-lived pid (it needs NotifyAccess=all, and
 * systemd 252 attributes a message by looking up the sender's cgroup, which fails once the
 * sender has exited: the documented race, closed only by BARRIER=1 in systemd 254), and a
 * process spawned per message.
 * unix-dgram cannot address an abstract socket (`@name`): that is logged, and nothing is sent.
 */
import { createRequire } from 'node:module';
import type { Logger } from 'pino';

interface DgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, callback: (err?: Error) => void): void;
  close(): void;
  on(event: 'error', listener: (err: Error) => void): void;
}
interface UnixDgram {
  createSocket(type: 'unix_dgram'): DgramSocket;
}

export interface Notifier {
  /** False without NOTIFY_SOCKET: every call is then a no-op. */
  readonly enabled: boolean;
  /** One datagram of `KEY=value` lines, e.g. { READY: 1, STATUS: 'serving' }. */
  notify(fields: Record<string, string | number>): void;
  /** Sends WATCHDOG=1 at half of WATCHDOG_USEC, if systemd asked for it; stops on close. */
  startWatchdog(): void;
  close(): void;
}

/** The CLOCK_MONOTONIC time systemd wants with RELOADING=1 (MONOTONIC_USEC, systemd 253+). */
export function monotonicUsec(): string {
  // process.hrtime is libuv's uv_hrtime: CLOCK_MONOTONIC on Linux.
  return String(process.hrtime.bigint() / 1000n);
}

/** Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from `env` (the CLI passes process.env). */
export function createNotifier(env: NodeJS.ProcessEnv, log: Logger): Notifier {
  const socketPath = env.NOTIFY_SOCKET;
  // As sd_notify(3)'s unset_environment: children (workers, what apps spawn) must not notify.
  delete env.NOTIFY_SOCKET;
  const watchdogUsec = Number(env.WATCHDOG_USEC);
  const watchdogPid = env.WATCHDOG_PID;
  delete env.WATCHDOG_USEC;
  delete env.WATCHDOG_PID;
  if (!socketPath) return { enabled: false, notify() {}, startWatchdog() {}, close() {} };

  let failed = false;
  const fail = (why: string): void => {
    if (failed) return;
    failed = true;
    log.warn(`systemd notification to ${socketPath} failed: ${why} (further failures are not logged)`);
  };
  let dgram: UnixDgram | null = null;
  if (socketPath.startsWith('@')) fail('abstract sockets (@name) are not supported; nothing is sent');
  else {
    try {
      dgram = createRequire(import.meta.url)('unix-dgram') as UnixDgram;
    } catch (err) {
      fail(`unix-dgram is not available (${(err as Error).message})`);
    }
  }
  let watchdog: NodeJS.Timeout | null = null;

  const notify = (fields: Record<string, string | number>): void => {
    if (!dgram) return;
    const text = Object.entries(fields).map(([k, v]) => `${k}=${String(v).replace(/\n/g, ' ')}`).join('\n');
    const buf = Buffer.from(`${text}\n`);
    try {
      // One socket per message, as libsystemd does: messages are rare (start, reload, stop, the
      // watchdog), and no socket is left open to keep the event loop alive.
      const socket = dgram.createSocket('unix_dgram');
      socket.on('error', (err) => fail(err.message));
      socket.send(buf, 0, buf.length, socketPath, (err) => {
        if (err) fail(err.message);
      });
      socket.close();
    } catch (err) {
      fail((err as Error).message);
    }
  };

  return {
    enabled: true,
    notify,
    startWatchdog() {
      if (watchdog || !(watchdogUsec > 0)) return;
      if (watchdogPid !== undefined && Number(watchdogPid) !== process.pid) return;
      // From the supervisor's event loop: a loop stuck for WATCHDOG_USEC gets the service killed
      // and restarted (WatchdogSec=). Half the period, as sd_watchdog_enabled(3) advises.
      watchdog = setInterval(() => notify({ WATCHDOG: 1 }), Math.max(1, Math.floor(watchdogUsec / 2000)));
      watchdog.unref();
    },
    close() {
      if (watchdog) clearInterval(watchdog);
      watchdog = null;
    },
  };
}
