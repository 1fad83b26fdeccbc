/**
 * @module listen-native
 * The listener of an SCGI app served by the native I/O core: the addon accepts and reads heads on
 * a duplicate of the socket's descriptor, and each event reaches the same ScgiConnection shell as
 * node:net's connections do, so the limits and the stats are the same.
 */
import type { Socket } from 'node:net';
import { errors } from '../../shared/errors.js';
import { formatListenAddress, parseListenAddress } from '../../shared/listen-address.js';
import type { ScgiConnection } from '../scgi/connection.js';
import { exchangeOf } from '../adapters/exchange.js';
import { DEFAULT_SOCKET_MODE, LISTEN_BACKLOG, refuseHandshakes } from '../listen/listen-address.js';
import type { AcceptErrorHandler, ListenerSpec, OpenListener } from '../listen/listener.js';
import type { ScgiLimits } from '../protocol/limits.js';
import { bindListeningSocket } from '../supervisor/listen-handle.js';
import type { NativeBinding } from './native-binding.js';
import { NativeListener } from './native-listener.js';

/**
 * The socket is bound here as the supervisor binds one (never listened on by libuv), or is a
 * worker's copy of the supervisor's. `serve` attaches the ScgiConnection to a new connection.
 */
export async function listenScgiNative(
  spec: ListenerSpec,
  binding: NativeBinding,
  limits: ScgiLimits,
  serve: (socket: Socket) => void,
  onAcceptError: AcceptErrorHandler,
): Promise<OpenListener> {
  const bound = spec.handle ? null : await bindListeningSocket(parseListenAddress(spec.listen), spec.socketMode ?? DEFAULT_SOCKET_MODE, spec.socketOwner ?? null);
  const handle = (spec.handle ?? bound?.handle) as { fd?: number; close(callback?: () => void): void };
  const address = bound ? formatListenAddress(bound.address) : spec.listen;
  const closeHandle = (): Promise<void> => bound?.close() ?? new Promise<void>((resolve) => handle.close(resolve));
  let listener: NativeListener;
  try {
    if (typeof handle.fd !== 'number' || handle.fd < 0) throw new errors.DOW_ERR_LISTEN(address, 'native I/O core: the socket has no descriptor');
    listener = NativeListener.open(binding, handle.fd, LISTEN_BACKLOG, limits, {
      connection: (socket) => serve(socket as unknown as Socket),
      head: (socket, env, contentLength, rest) => {
        const connection = exchangeOf(socket as unknown as Socket) as ScgiConnection;
        connection.onParsedHead(env, contentLength);
        if (rest !== undefined) connection.onData(rest);
      },
      refused: (socket, replay) => (exchangeOf(socket as unknown as Socket) as ScgiConnection).onData(replay),
      acceptError: (err) => onAcceptError(address, err),
    }, address, spec.handle === undefined);
  } catch (err) {
    await closeHandle();
    throw err;
  }
  return {
    address,
    own: spec.handle === undefined,
    stopHandshakes: () => {
      // Bound here and not systemd's: see stopHandshakes() in server/listen/listen-address.ts.
      const refusing = bound !== null && bound.address.kind !== 'systemd' && refuseHandshakes(handle);
      listener.stopHandshakes(refusing);
      return refusing;
    },
    close: () => {
      listener.close();
      return closeHandle();
    },
  };
}
