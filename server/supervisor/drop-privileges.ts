/**
 * @module drop-privileges
 * `user`/`group`: once everything that needs root is done (sockets bound and chown-ed, the store
 * open, the dashboard listening), the supervisor switches to the configured user for good, as
 * uWSGI's master does. A supervisor left as root (Gunicorn's arbiter) would keep a root process
 * reading IPC from app code for the server's whole life; dropped, reloads and restarts still work
 * because workers only need a fork (they inherit the user).
 */
import { chown, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { RunAs } from '../config/config-credentials.js';

/**
 * The store's writer (this process) keeps writing after the switch; SQLite's -wal and -shm
 * files, created as root when the store opened, must be the user's too, and its folder must be
 * writable for SQLite to remove them at a clean stop (otherwise they stay, harmlessly).
 */
export async function handOverStore(storePath: string, runAs: RunAs, log: Logger): Promise<void> {
  for (const file of [storePath, `${storePath}-wal`, `${storePath}-shm`]) {
    await chown(file, runAs.uid, runAs.gid).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
  const dir = dirname(storePath);
  const s = await stat(dir);
  const writable = (s.uid === runAs.uid && (s.mode & 0o200) !== 0)
    || (s.gid === runAs.gid && (s.mode & 0o020) !== 0)
    || (s.mode & 0o002) !== 0;
  if (!writable) {
    log.warn(`timing store: ${dir} is not writable by ${runAs.user}; SQLite cannot remove its -wal and -shm files at a stop (make the folder the user's, e.g. systemd's StateDirectory=)`);
  }
}

/**
 * setgroups, setgid, setuid, in that order: after setuid nothing else could be changed. The
 * supplementary groups are emptied, as libuv does for the workers it forks with a uid, so that
 * every process of the server has the same credentials.
 */
export function dropPrivileges(runAs: RunAs, log: Logger): void {
  if (process.getuid?.() === runAs.uid && process.getgid?.() === runAs.gid) return;
  process.setgroups?.([]);
  process.setgid?.(runAs.gid);
  process.setuid?.(runAs.uid);
  process.env.HOME = runAs.home;
  process.env.USER = runAs.user;
  process.env.LOGNAME = runAs.user;
  log.info(`running as ${runAs.user} (uid ${runAs.uid}, gid ${runAs.gid})`);
}
