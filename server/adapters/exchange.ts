/**
 * @module exchange
 * The surface of one SCGI request that adapters work with. The connection implements it; the
 * adapters (Node listener, fetch handler) only translate between it and the app's API.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ScgiRequestInfo } from './scgi-request-info.js';
import type { RequestTarget } from './request-target.js';
import type { BodySink } from './body-sink.js';
import type { ScgiEnv } from '../protocol/header-block.js';
import type { DragonError } from '../../shared/errors.js';
import type { Ending } from '../host/request-phase.js';
import { kSocketExchange } from '../core/symbols.js';

export interface Exchange {
  readonly socket: Socket;
  readonly env: ScgiEnv;
  readonly target: RequestTarget;
  readonly contentLength: number;
  /** What `req.scgi` (Node) or the handler's second argument (fetch) exposes. */
  readonly info: ScgiRequestInfo;
  /** Routes the body (what arrived so far, and the rest) into the sink. */
  takeBody(sink: BodySink): void;
  /** The Node response, so a timeout can tell whether its head went out. */
  onResponse(res: ServerResponse): void;
  /** The fetch adapter wrote its head itself. */
  headSent(status: number): void;
  /** The whole response was handed to the socket; the connection closes after it. */
  responseFinished(status: number): void;
  /** The app threw or rejected: 500 if nothing was sent, else the connection is cut. */
  appFailed(err: unknown): void;
  /** The request cannot be handed to the app as it is (the client's fault): its status, logged. */
  refuse(err: DragonError): void;
  /** True once the socket closed, whatever ended the exchange. */
  readonly closed: boolean;
  /** How the exchange ended: null while it runs, ANSWERED when the app's response went out. */
  readonly outcome: Ending | null;
}

// Listeners shared by every socket find the socket's exchange through its key, not a closure each.
export function exchangeOf(socket: Socket | null): Exchange | undefined {
  return socket ? (socket as unknown as Record<symbol, Exchange | undefined>)[kSocketExchange] : undefined;
}

export function attachExchange(socket: Socket, exchange: Exchange): void {
  (socket as unknown as Record<symbol, Exchange>)[kSocketExchange] = exchange;
}
