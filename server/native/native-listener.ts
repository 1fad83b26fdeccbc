/**
 * @module native-listener
 * A listening socket served by the native I/O core. The addon accepts and reads the request head
 * in C and raises one event per request; this module turns the events into NativeSockets and
 * hands them to the listener's owner (server.ts) at the same points where node:net would: a
 * connection whose head is still arriving, a complete head, or a head the parser refused.
 */
import { errors } from '../../shared/errors.js';
import { envFromPairs, type ScgiEnv } from '../protocol/header-block.js';
import type { ScgiLimits } from '../protocol/limits.js';
import { LISTEN_BACKLOG } from '../listen/listen-address.js';
import { errnoException } from './errno.js';
import { FAILED_CALL, NativeEvent, type NativeBinding } from './native-binding.js';
import { NativeSocket } from './native-socket.js';
import { kNativeOwner } from '../core/symbols.js';

export interface NativeListenerOwner {
  /** A new connection (its head may still be arriving, or be complete: head() or refused() follows). */
  connection(socket: NativeSocket): void;
  /** The head was read and parsed in C; `rest` is what came after it in the same read. */
  head(socket: NativeSocket, env: ScgiEnv, contentLength: number, rest: Buffer | undefined): void;
  /** The head was refused: every byte read so far, for the JavaScript parser to word the error. */
  refused(socket: NativeSocket, replay: Buffer): void;
  acceptError(err: NodeJS.ErrnoException): void;
}

/**
 * How long the kernel holds a connection that sent nothing yet before handing it over anyway
 * (TCP_DEFER_ACCEPT). Front ends send the request with the handshake's last ACK, so this only
 * delays connections that would idle, which headerTimeout then times from their accept.
 */
const DEFER_ACCEPT_SECONDS = 1;

interface Core {
  binding: NativeBinding;
  pairs: Uint32Array;
  sockets: Map<number, NativeSocket>;
  owners: Map<number, NativeListenerOwner>;
}

let core: Core | null = null;

function coreOf(binding: NativeBinding): Core {
  if (core !== null) return core;
  const sockets = new Map<number, NativeSocket>();
  const owners = new Map<number, NativeListenerOwner>();
  const pairs = binding.init(dispatch);
  core = { binding, pairs, sockets, owners };
  return core;
}

export class NativeListener {
  private closed = false;

  private constructor(
    private readonly core: Core,
    readonly id: number,
  ) {}

  /**
   * Accepts on a copy of `fd` (the caller keeps and closes its own). `ownsSocket`: this process
   * bound it (not a worker's copy of the supervisor's socket).
   */
  static open(binding: NativeBinding, fd: number, backlog: number, limits: ScgiLimits, owner: NativeListenerOwner, address: string, ownsSocket: boolean): NativeListener {
    const state = coreOf(binding);
    const id = binding.listen(fd, backlog, DEFER_ACCEPT_SECONDS, limits.maxHeaderBytes, limits.maxBodyBytes, ownsSocket);
    if (id < 0) throw new errors.DOW_ERR_LISTEN(address, `native I/O core: ${errnoException(-id, 'listen').code}`);
    state.owners.set(id, owner);
    return new NativeListener(state, id);
  }

  /**
   * TCP_DEFER_ACCEPT off, so that handshakes under way complete at once; and unless new SYNs are
   * refused already, listen() again with a backlog of 0: see stopHandshakes() in
   * server/listen/listen-address.ts.
   */
  stopHandshakes(synsRefused: boolean): void {
    if (!this.closed) this.core.binding.setBacklog(this.id, synsRefused ? LISTEN_BACKLOG : 0);
  }

  /** Stops accepting; connections accepted already go on (their owner stays known to them). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.core.binding.closeListener(this.id);
    // Its sockets keep their owner (kOwner); no new one can come.
    this.core.owners.delete(this.id);
  }
}

/** Every event of the addon comes here; arguments as addon-events.c's emit_to_js() and dispatch_errno() pass them. */
function dispatch(kind: NativeEvent, id: number, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, f?: unknown, g?: unknown, h?: unknown): void {
  const state = core as Core;
  switch (kind) {
    case NativeEvent.WAIT:
      accepted(state, id, a as number, b as string | undefined, c as number | undefined);
      return;
    case NativeEvent.REQUEST: {
      const socket = accepted(state, id, a as number, b as string | undefined, c as number | undefined);
      const block = d as string;
      const rest = g as Buffer | undefined;
      // The netstring: its length's digits, ':', the block, ','; then what followed it.
      socket.bytesRead += String(block.length).length + block.length + 2 + (rest?.length ?? 0);
      ownerOf(socket).head(socket, envFromPairs(block, h as Uint32Array, e as number), f as number, rest);
      return;
    }
    case NativeEvent.BAD: {
      const socket = accepted(state, id, a as number, b as string | undefined, c as number | undefined);
      socket.bytesRead += (d as Buffer).length;
      ownerOf(socket).refused(socket, d as Buffer);
      return;
    }
    case NativeEvent.DATA:
      state.sockets.get(id)?.onNativeData(a as Buffer);
      return;
    case NativeEvent.EOF:
      state.sockets.get(id)?.onNativeEnd();
      return;
    case NativeEvent.DRAIN:
      state.sockets.get(id)?.onNativeDrain();
      return;
    case NativeEvent.ERROR:
      state.sockets.get(id)?.onNativeError(a as number, FAILED_CALL[b as number] ?? 'read');
      return;
    case NativeEvent.ACCEPT_ERROR:
      state.owners.get(id)?.acceptError(errnoException(a as number, 'accept'));
      return;
  }
}

function ownerOf(socket: NativeSocket): NativeListenerOwner {
  return (socket as unknown as Record<symbol, NativeListenerOwner>)[kNativeOwner] as NativeListenerOwner;
}

/** The socket of `id`, made and announced to its listener's owner on first sight. */
function accepted(state: Core, id: number, listener: number, address: string | undefined, port: number | undefined): NativeSocket {
  let socket = state.sockets.get(id);
  if (socket !== undefined) return socket;
  socket = new NativeSocket(id, state.binding, address, port);
  const owner = state.owners.get(listener) as NativeListenerOwner;
  (socket as unknown as Record<symbol, NativeListenerOwner>)[kNativeOwner] = owner;
  state.sockets.set(id, socket);
  socket.once('close', forget);
  owner.connection(socket);
  return socket;
}

function forget(this: NativeSocket): void {
  core?.sockets.delete(this.id);
}
