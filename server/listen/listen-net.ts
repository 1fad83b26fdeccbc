/**
 * @module listen-net
 * A listener on node:net: an SCGI app's or the stats port's, and the listening half of an HTTP
 * app's (http/listen-http.ts).
 */
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { formatListenAddress, parseListenAddress } from '../../shared/listen-address.js';
import { DEFAULT_SOCKET_MODE, listenOn, listenOnHandle, stopHandshakes } from './listen-address.js';
import type { AcceptErrorHandler, ListenerSpec, OpenListener } from './listener.js';

/** `serve` gets each accepted connection. */
export function listenNet(spec: ListenerSpec, serve: (socket: Socket) => void, onAcceptError: AcceptErrorHandler): Promise<OpenListener> {
  // Nagle stays on for the common one-write response (TCP_NODELAY costs a setsockopt per
  // connection); adapters turn it off as soon as a response streams.
  const net = createNetServer({ allowHalfOpen: true, noDelay: false }, serve);
  return listenNetServer(net, spec, onAcceptError, () => new Promise<void>((resolve) => net.close(() => resolve())));
}

/** Listens with `net` on the spec's address, or on the handle it was given; `close` closes it. */
export async function listenNetServer(net: NetServer, spec: ListenerSpec, onAcceptError: AcceptErrorHandler, close: () => Promise<void>): Promise<OpenListener> {
  let address: string;
  try {
    address = spec.handle
      ? await listenOnHandle(net, spec.handle, spec.listen)
      : formatListenAddress(await listenOn(net, parseListenAddress(spec.listen), spec.socketMode ?? DEFAULT_SOCKET_MODE, spec.socketOwner ?? null));
  } catch (err) {
    await close();
    throw err;
  }
  // After listen, errors are accept() failures: out of file descriptors (EMFILE) under a
  // connection flood, or ECONNABORTED. Unhandled they would kill the process; the listener
  // keeps accepting once descriptors are free again.
  net.on('error', (err: NodeJS.ErrnoException) => onAcceptError(address, err));
  return {
    address,
    own: spec.handle === undefined,
    stopHandshakes: () => stopHandshakes((net as NetServer & { _handle?: unknown })._handle, parseListenAddress(spec.listen).kind === 'systemd'),
    close,
  };
}
