/**
 * @module listen-handle
 * Binds a listening socket in the supervisor without accepting on it: its workers accept, each on
 * a copy passed over IPC. Because the supervisor keeps the socket open for the server's whole
 * life, a connection that arrives while no worker accepts (a restart, a reload) waits in the
 * kernel's backlog instead of being refused.
 *
 * Node has no public API for a bound socket that is not in the event loop; the cluster module
 * uses the same internal (`net._createServerHandle`) for its SCHED_NONE mode.
 */
import net from 'node:net';
import { lookup } from 'node:dns/promises';
import { getSystemErrorName } from 'node:util';
import { errors } from '../../shared/errors.js';
import { formatListenAddress, type ListenAddress } from '../../shared/listen-address.js';
import { loadNative } from '../native/native-binding.js';
import { LISTEN_BACKLOG, removeStaleSocket, stopHandshakes, setSocketFileAccess, type SocketOwner } from '../listen/listen-address.js';
import { listenFd } from '../systemd/listen-fds.js';

interface ServerHandle {
  getsockname?(out: { port?: number }): number;
  close(callback?: () => void): void;
}

type CreateServerHandle = (address: string, port: number, addressType: number, fd: number | undefined, flags: number) => ServerHandle | number;

const createServerHandle = (net as unknown as { _createServerHandle?: CreateServerHandle })._createServerHandle;

export interface BoundSocket {
  handle: object;
  /** The address as it will be shown: port 0 resolved to the port the kernel chose. */
  address: ListenAddress;
  /**
   * Where a hung worker's connections are found in the kernel's tables (open-connections.ts):
   * the port or the path; null for a Unix socket passed by systemd, whose path Node cannot read.
   */
  local: { port: number } | { path: string } | null;
  /**
   * Starts accepting in the supervisor too: during a stop, connections already in the backlog are
   * accepted here (paused, unread) and handed to a draining worker rather than reset by the close.
   * Resolves to the TCP port whose new handshakes are now refused (for sweepBacklog), or null.
   */
  acceptHere(onConnection: (socket: net.Socket) => void): Promise<number | null>;
  /** Closes the supervisor's copy: once the workers closed theirs, new connections are refused. */
  close(): Promise<void>;
}

export async function bindListeningSocket(address: ListenAddress, socketMode: number, owner: SocketOwner | null = null): Promise<BoundSocket> {
  if (typeof createServerHandle !== 'function') {
    throw new errors.DOW_ERR_LISTEN(formatListenAddress(address), `this Node.js (${process.version}) has no net._createServerHandle; use workers: 0`);
  }
  let handle: ServerHandle | number;
  let bound: ListenAddress = address;
  let local: BoundSocket['local'] = address.kind === 'unix' ? { path: address.path } : null;
  if (address.kind === 'systemd') {
    // Passed by systemd, bound and listening already: Node wraps the fd as a TCP or a pipe
    // handle by what the fd is (guessHandleType), as cluster does for `listen({ fd })`.
    handle = createServerHandle('', 0, 0, listenFd(address.name), 0);
    if (typeof handle === 'number') {
      throw new errors.DOW_ERR_LISTEN(formatListenAddress(address), `the passed fd is not a listening TCP or Unix stream socket (${getSystemErrorName(handle)})`);
    }
    const out: { port?: number } = {};
    handle.getsockname?.(out);
    if (out.port) local = { port: out.port };
  } else if (address.kind === 'unix') {
    await removeStaleSocket(address.path);
    handle = createServerHandle(address.path, -1, -1, undefined, 0);
  } else {
    const ip = net.isIP(address.host) ? address.host : (await lookup(address.host)).address;
    handle = createServerHandle(ip, address.port, net.isIP(ip), undefined, 0);
  }
  if (typeof handle === 'number') {
    const code = getSystemErrorName(handle);
    throw new errors.DOW_ERR_LISTEN(formatListenAddress(address), code === 'EADDRINUSE' ? 'address already in use' : code);
  }
  const h = handle;
  if (address.kind === 'unix') await setSocketFileAccess(address.path, socketMode, owner);
  else if (address.kind === 'tcp') {
    // libuv defers a bind's EADDRINUSE to listen(), which only the workers call; an unbound
    // socket would then listen on a random port. An unbound socket reports port 0.
    const out: { port?: number } = {};
    h.getsockname?.(out);
    if (!out.port || (address.port !== 0 && out.port !== address.port)) {
      h.close();
      throw new errors.DOW_ERR_LISTEN(formatListenAddress(address), 'address already in use');
    }
    bound = { ...address, port: out.port };
    local = { port: out.port };
  }
  let server: net.Server | null = null;
  let closed: Promise<void> | null = null;
  return {
    handle: h,
    address: bound,
    local,
    acceptHere(onConnection) {
      if (server || closed) return Promise.resolve(null);
      const s = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, onConnection);
      server = s;
      return new Promise((resolve) => {
        // A listen error leaves the workers' copies as they were; accept errors later (EMFILE)
        // must not kill the supervisor: the connection then stays in the backlog.
        s.on('error', () => resolve(null));
        let refusing = false;
        // listen() on the handle runs at once: stopHandshakes below comes after it (its fallback
        // is another listen(), with a backlog of 0).
        s.listen(h, LISTEN_BACKLOG, () => resolve(refusing && bound.kind === 'tcp' ? bound.port : null));
        // Workers' native listeners set TCP_DEFER_ACCEPT on this socket and, being copies, leave
        // it on: a connection the kernel still holds back at the close would be reset.
        const fd = (h as { fd?: number }).fd;
        if (typeof fd === 'number' && fd >= 0) loadNative().binding?.stopDeferring(fd);
        refusing = stopHandshakes(h, address.kind === 'systemd');
      });
    },
    close() {
      // libuv unlinks a Unix socket's file when it closes the handle that bound it.
      closed ??= new Promise<void>((resolve) => (server ? server.close(() => resolve()) : h.close(resolve)));
      return closed;
    },
  };
}
