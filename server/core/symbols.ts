/**
 * @module symbols
 * The keys of every property the server sets on objects it does not own (sockets, responses,
 * Requests), in one place so that each says whose it is and none collides with another's.
 */

// ── on an HTTP connection's socket: what outlives one request (http-exchange.ts) ────────────

/** The connection's real peer, kept before a request presents its forwarded client on the socket. */
export const kHttpPeer = Symbol('dragon-on-wheels.httpPeer');
/** The listener's trust function with this peer's answer kept (trustForPeer). */
export const kHttpTrust = Symbol('dragon-on-wheels.httpTrust');
/** Socket bytes read when the last request finished: the next one counts its own from there. */
export const kHttpReadMark = Symbol('dragon-on-wheels.httpReadMark');
/** Socket bytes written when the last request finished. */
export const kHttpWriteMark = Symbol('dragon-on-wheels.httpWriteMark');

// ── on an HTTP connection's socket: one request at a time (http-listener.ts) ────────────────

/** How many requests the connection has begun: 0 until its first one arrives. */
export const kHttpServed = Symbol('dragon-on-wheels.httpServed');
/** A request of this connection is with the app host (queued or running) and not yet closed. */
export const kHttpBusy = Symbol('dragon-on-wheels.httpBusy');
/** Pipelined requests parsed behind the busy one, oldest first. */
export const kHttpHeld = Symbol('dragon-on-wheels.httpHeld');

// ── found by listeners shared by every socket or response, instead of a closure each ────────

/** On a ServerResponse of an HTTP app: the HttpExchange it answers. */
export const kResponseExchange = Symbol('dragon-on-wheels.responseExchange');
/** On an SCGI connection's socket: its ScgiConnection (the adapters' Exchange). */
export const kSocketExchange = Symbol('dragon-on-wheels.socketExchange');
/** On a socket of the native I/O core: the owner of the listener that accepted it. */
export const kNativeOwner = Symbol('dragon-on-wheels.nativeOwner');

// ── on the Request a fetch handler receives (fetch-adapter.ts) ──────────────────────────────

/** The Exchange the Request reads its body from and whose ending aborts its signal. */
export const kRequestExchange = Symbol('dragon-on-wheels.requestExchange');
/** The Request's AbortController, made when the handler first reads `signal`. */
export const kRequestController = Symbol('dragon-on-wheels.requestController');
