/**
 * @module listen-fds
 * systemd's socket activation (sd_listen_fds(3)): the listening sockets a .socket unit or
 * `systemd-socket-activate` passed us as fds 3, 4, … named by LISTEN_FDNAMES, which a
 * `listen: 'systemd:<name>'` takes instead of binding.
 */
import { errors } from '../../shared/errors.js';

/** sd_listen_fds(3): passed fds start right after stdin, stdout and stderr. */
const SD_LISTEN_FDS_START = 3;

export type ListenFds = ReadonlyMap<string, number>;

/**
 * Reads LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES and removes them from `env`, as
 * sd_listen_fds(1) does, so that worker processes and anything an app spawns do not take the
 * sockets for theirs. The variables are ignored unless LISTEN_PID is this process: they were
 * meant for a parent that exec'd or forked us without clearing them.
 */
export function takeListenFds(env: NodeJS.ProcessEnv, pid: number): ListenFds {
  const { LISTEN_PID: forPid, LISTEN_FDS: count, LISTEN_FDNAMES: names } = env;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  const fds = new Map<string, number>();
  if (forPid === undefined || count === undefined || Number(forPid) !== pid) return fds;
  const n = Number(count);
  if (!Number.isInteger(n) || n <= 0) return fds;
  // Unnamed sockets are called "unknown" by systemd; the first of a name wins, as a listen
  // address can only name one.
  const nameList = names === undefined ? [] : names.split(':');
  for (let i = 0; i < n; i++) {
    const name = nameList[i] || 'unknown';
    if (!fds.has(name)) fds.set(name, SD_LISTEN_FDS_START + i);
  }
  return fds;
}

let inherited: ListenFds = new Map();

/** Called once by the command line with what takeListenFds found. */
export function useListenFds(fds: ListenFds): void {
  inherited = fds;
}

/** The fd passed under `name`; a DOW_ERR_LISTEN naming what was passed if there is none. */
export function listenFd(name: string): number {
  const fd = inherited.get(name);
  if (fd !== undefined) return fd;
  const why = inherited.size === 0
    ? 'no sockets were passed (LISTEN_FDS for this process is unset: start it from a .socket unit or systemd-socket-activate)'
    : `no socket of that name was passed (names passed: ${[...inherited.keys()].join(', ')}; set FileDescriptorName= in the .socket unit)`;
  throw new errors.DOW_ERR_LISTEN(`systemd:${name}`, why);
}
