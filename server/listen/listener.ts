/**
 * @module listener
 * A listener as the Server sees it: what to listen on and serve (ListenerSpec), and, once open,
 * what a stop does with it (OpenListener), whichever kind (listen-net.ts, native/, http/) built it.
 */
import type { AppOptions } from '../host/app-host.js';
import type { SocketOwner } from './listen-address.js';

export type Processor = { app: AppOptions } | { stats: true };

export interface ListenerSpec {
  listen: string;
  /**
   * A socket already bound and listening in another process (a worker's copy of the
   * supervisor's): accepted on as it is, never bound, chmod-ed or unlinked here.
   */
  handle?: object;
  /** File mode for a Unix socket; nginx's workers must be able to connect. */
  socketMode?: number;
  /** Owner and group of a Unix socket's file (-1: unchanged). */
  socketOwner?: SocketOwner;
  processor: Processor;
}

/** A listening socket, open: a builder returns one or throws having closed what it opened. */
export interface OpenListener {
  /** The bound address (port 0 resolved), or the spec's for a socket received as a handle. */
  address: string;
  /** Bound here (in-process mode), not a worker's copy of the supervisor's socket. */
  own: boolean;
  /** The first step of a stop (listen-address.ts, stopHandshakes): whether new SYNs are refused now. */
  stopHandshakes(): boolean;
  close(): Promise<void>;
}

/** accept() failed after listen (EMFILE under a flood, ECONNABORTED): logged, never fatal. */
export type AcceptErrorHandler = (address: string, err: NodeJS.ErrnoException) => void;
