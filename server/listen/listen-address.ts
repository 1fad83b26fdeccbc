/**
 * @module listen-address
 * Listens on a parsed address (see shared/listen-address.ts). For Unix sockets a
 * file left behind by a dead process is removed, while the socket of a live process is never
 * touched: a connect attempt tells them apart (ECONNREFUSED means nobody listens).
 */
import { chmod, chown, lstat, unlink } from 'node:fs/promises';
import { connect, type Server } from 'node:net';
import { errors } from '../../shared/errors.js';
import { formatListenAddress, parseListenAddress, type ListenAddress } from '../../shared/listen-address.js';
import { listenFd } from '../systemd/listen-fds.js';
import { loadNative } from '../native/native-binding.js';
import { incomingConnections } from './incoming-connections.js';

/** The original used listen(5), which dropped connections under load; the kernel caps this. */
export const LISTEN_BACKLOG = 4096;

/**
 * How long a stopping listener keeps accepting with new handshakes refused (see stopHandshakes) before
 * it closes: what was queued is accepted and served meanwhile.
 */
const BACKLOG_SWEEP_MS = 100;

/** The longest a stop waits after the sweep for handshakes under way to come in (see sweepBacklog). */
export const HANDSHAKE_SETTLE_MAX_MS = 2000;
const SETTLE_POLL_MS = 10;

/**
 * The accept window of a stop, between stopHandshakes and the close: BACKLOG_SWEEP_MS, then, for
 * the TCP ports whose new handshakes are refused, until none is on its way in any more
 * (incoming-connections.ts; at most HANDSHAKE_SETTLE_MAX_MS longer). Resolves in the check phase
 * right after a poll phase has accepted, so that a close that follows at once resets nothing.
 * Where SYNs are not refused, more keep coming, so only the sweep applies.
 *
 * Two reads in a row must find nothing: a read sees a listener's queue before the handshakes, so
 * one that completes in between is in neither; with new SYNs refused, the second read finds it
 * queued, and after a first empty read no handshake is left to complete.
 */
export async function sweepBacklog(refusingPorts: readonly number[]): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, BACKLOG_SWEEP_MS));
  await new Promise((resolve) => setImmediate(resolve));
  if (refusingPorts.length === 0) return;
  const deadline = performance.now() + HANDSHAKE_SETTLE_MAX_MS;
  let emptyReads = 0;
  while (emptyReads < 2 && performance.now() < deadline) {
    const counts = await Promise.all(refusingPorts.map((port) => incomingConnections(port)));
    emptyReads = counts.every((n) => n === 0) ? emptyReads + 1 : 0;
    if (emptyReads === 0) await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
    // The close comes right after: from the check phase, after a poll phase has accepted.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The TCP port of a listen address as shown (`host:port`, `[v6]:port`); null for any other kind. */
export function tcpPortOf(address: string): number | null {
  const parsed = parseListenAddress(address);
  return parsed.kind === 'tcp' ? parsed.port : null;
}

/** A Unix socket's file mode unless configured (`socketMode`): nginx's workers, in the group, must connect. */
export const DEFAULT_SOCKET_MODE = 0o660;

/**
 * The first step of a stop that resets nothing. close() on a listening socket resets every
 * connection in its accept queue, and under load new handshakes keep completing until the very
 * close (each a 502 at nginx for a POST, which it will not retry elsewhere). So the kernel is told
 * to drop new SYNs (refuseHandshakes) while the handshakes under way complete into the accept
 * queue, whose room stays as it was; the stop then accepts what is queued and on its way
 * (sweepBacklog) and closes with nothing left to reset. The clients whose SYN was dropped retry after 1 s and meet a
 * closed socket, a refused connect that nginx fails over to another upstream server even for a
 * POST.
 *
 * Where the addon is not built, listen() again with a backlog of 0 does part of that: Linux drops
 * SYNs while the accept queue is full (tcp_conn_request), but one connection still fits, one may
 * complete between the last accept and the close, and a handshake under way that finds the queue
 * full is left half-open, to be reset by the close. libuv's uv_listen() simply calls listen() again.
 *
 * `outlivesProcess`: a socket systemd passed stays open for the next process, which would inherit
 * the filter; nothing in its queue is reset by our close anyway. Returns whether the filter is on.
 */
export function stopHandshakes(handle: unknown, outlivesProcess: boolean): boolean {
  // TCP only: on a Unix socket's handle (Pipe) a second listen() leaves the handle open after
  // close() on Node 20 (the process never exits, its socket file stays), and Unix sockets are
  // no front end's failover path anyway.
  const h = handle as { constructor?: { name?: string }; listen?: (backlog: number) => number } | null;
  if (h?.constructor?.name !== 'TCP') return false;
  if (!outlivesProcess && refuseHandshakes(h)) return true;
  h.listen?.(0);
  return false;
}

/** The addon's SYN filter on a TCP handle's socket (native/src/addon-listeners.c): whether it is on. */
export function refuseHandshakes(handle: unknown): boolean {
  const fd = (handle as { fd?: number } | null)?.fd;
  return typeof fd === 'number' && fd >= 0 && loadNative().binding?.refuseHandshakes(fd) === 0;
}

/** Who owns a Unix socket's file (`socketOwner`, `socketGroup`); -1 leaves one unchanged. */
export interface SocketOwner {
  uid: number;
  gid: number;
}

export async function listenOn(server: Server, address: ListenAddress, socketMode: number, owner: SocketOwner | null = null): Promise<ListenAddress> {
  if (address.kind === 'unix') await removeStaleSocket(address.path);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new errors.DOW_ERR_LISTEN(formatListenAddress(address), err.code === 'EADDRINUSE' ? 'address already in use' : err.message));
    };
    server.once('error', onError);
    // A socket passed by systemd is already bound and listening; its mode and owner are the
    // .socket unit's (SocketMode=, SocketUser=, SocketGroup=).
    const options = address.kind === 'unix'
      ? { path: address.path, backlog: LISTEN_BACKLOG }
      : address.kind === 'systemd'
        ? { fd: listenFd(address.name), backlog: LISTEN_BACKLOG }
        : { host: address.host, port: address.port, backlog: LISTEN_BACKLOG };
    server.listen(options, () => {
      server.off('error', onError);
      resolve();
    });
  });
  if (address.kind === 'unix') {
    await setSocketFileAccess(address.path, socketMode, owner);
    return address;
  }
  if (address.kind === 'systemd') return address;
  const bound = server.address();
  return bound !== null && typeof bound === 'object' ? { kind: 'tcp', host: address.host, port: bound.port } : address;
}

/** Accepts on a listening socket received from another process; returns its address text. */
export async function listenOnHandle(server: Server, handle: object, address: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(handle, LISTEN_BACKLOG, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return address;
}

/**
 * Mode, then owner, right after bind and before any worker accepts: a front end in the socket's
 * group never sees it with the wrong owner for longer than these two calls.
 */
export async function setSocketFileAccess(path: string, socketMode: number, owner: SocketOwner | null): Promise<void> {
  await chmod(path, socketMode);
  if (!owner || (owner.uid === -1 && owner.gid === -1)) return;
  await chown(path, owner.uid, owner.gid).catch((err: NodeJS.ErrnoException) => {
    // chown(2): only root may give a file away; its owner may change its group to one of its own.
    const why = err.code === 'EPERM'
      ? `not permitted to give the socket to uid ${owner.uid} gid ${owner.gid} (needs root, or for socketGroup alone membership of the group: SupplementaryGroups= in a systemd unit)`
      : err.message;
    throw new errors.DOW_ERR_LISTEN(`unix:${path}`, why);
  });
}

export async function removeStaleSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = await lstat(path);
  } catch {
    return;
  }
  if (!stat.isSocket()) {
    throw new errors.DOW_ERR_LISTEN(`unix:${path}`, 'a file that is not a socket is in the way');
  }
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code !== 'ECONNREFUSED'));
  });
  if (live) throw new errors.DOW_ERR_LISTEN(`unix:${path}`, 'another process is listening there');
  await unlink(path);
}
