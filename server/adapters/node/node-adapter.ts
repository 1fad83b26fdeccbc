/**
 * @module node-adapter
 * Runs a Node request listener (`(req, res) => void`: Express, Koa's callback(), Fastify's
 * server handler, plain node:http code) on an SCGI exchange. It builds a real IncomingMessage and
 * ServerResponse on the connection's own socket, so frameworks see the objects they expect.
 *
 * Why not feed a synthetic HTTP/1.0 head through Node's parser: measured ~111 µs/request against
 * ~100 µs for building the pair directly, and the parser route reports httpVersion 1.0.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { BodySink } from '../body-sink.js';
import { exchangeOf, type Exchange } from '../exchange.js';
import { peerOf } from '../../listen/peer-name.js';
import { enterApp } from '../enter-app.js';
import { headerPairs, isHttps } from '../request-target.js';
import type { ScgiRequestInfo } from '../scgi-request-info.js';
import { storeCgiHeader } from './cgi-header.js';
import { internalSymbol } from './internal-symbol.js';

export type NodeListener = (req: IncomingMessage, res: ServerResponse) => unknown;

declare module 'node:http' {
  interface IncomingMessage {
    scgi?: ScgiRequestInfo;
  }
}

function noop(): void {}

/**
 * IncomingMessage builds `headers` from `rawHeaders` on first read, as many as this symbol counts
 * (Node's parser sets it); pinned in test/unit/node-internals.test.ts. Apps that never read
 * headers then never pay for the object.
 */
const kHeadersCount = internalSymbol(new IncomingMessage(null as unknown as Socket), 'kHeadersCount');

export function runNodeListener(listener: NodeListener, exchange: Exchange): void {
  const socket = exchange.socket;
  presentClient(socket, exchange.env);
  const req = new IncomingMessage(socket);
  req.method = exchange.target.method;
  req.url = exchange.target.url;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = '1.1';
  const raw = headerPairs(exchange.env);
  req.rawHeaders = raw;
  if (kHeadersCount !== undefined) (req as unknown as Record<symbol, number>)[kHeadersCount] = raw.length;
  else req.headers = headersOf(raw);
  req.scgi = exchange.info;
  if (exchange.target.mount !== '') {
    // What Express (its router) gives a sub-app mounted with app.use('/shop', app): baseUrl is
    // the prefix, originalUrl the full URL, so `res.redirect(req.baseUrl + '/cart')` stays under
    // the mount and request loggers show the path the client asked for.
    const mounted = req as IncomingMessage & { baseUrl?: string; originalUrl?: string };
    mounted.baseUrl = exchange.target.mount;
    mounted.originalUrl = exchange.env.REQUEST_URI || exchange.target.mount + exchange.target.url;
  }
  req._read = resumeSocket;
  req._destroy = destroyRequest;

  const res = new ServerResponse(req);
  const internals = res as unknown as { _storeHeader: unknown; useChunkedEncodingByDefault: boolean };
  internals._storeHeader = storeCgiHeader;
  internals.useChunkedEncodingByDefault = false;
  res.shouldKeepAlive = false;
  res.sendDate = false;
  // SCGI front ends answer `Expect: 100-continue` themselves; an interim 100 from us would be
  // taken for the final head.
  res.writeContinue = noop;
  res.write = writeStreaming as ServerResponse['write'];
  res.assignSocket(socket);
  res.on('finish', onResponseFinish);
  exchange.onResponse(res);

  exchange.takeBody(new IncomingMessageSink(req));

  enterApp(() => listener(req, res)).then(undefined, (err: unknown) => exchange.appFailed(err));
}

/** The fallback should a Node version lack the lazy getter: SCGI names are unique, so no joining. */
function headersOf(raw: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) headers[raw[i] as string] = raw[i + 1] as string;
  return headers;
}

function resumeSocket(this: IncomingMessage): void {
  this.socket.resume();
}

/**
 * node:http's IncomingMessage destroys the socket along with an unfinished request. Here the
 * connection owns the socket: it may still have to answer (408, 500) after the body is abandoned.
 * What apps observe stays the same: 'aborted' for an incomplete body, then 'error' (only if
 * someone listens, as in Node) and 'close'.
 */
function destroyRequest(this: IncomingMessage, err: Error | null, callback: (err?: Error | null) => void): void {
  // Destroyed with an error = the client or the server gave up mid-exchange, as in node:http.
  if (err !== null && (!this.readableEnded || !this.complete)) {
    this.aborted = true;
    this.emit('aborted');
  }
  callback(err !== null && this.listenerCount('error') > 0 ? err : null);
}

/**
 * An app that calls write() streams (res.end() alone does not go through it): from then on each
 * chunk must leave at once, so Nagle's algorithm is switched off for this connection. Delegates to
 * whatever write the prototype has now (Express swaps the prototype after this is set).
 */
function writeStreaming(this: ServerResponse, ...args: unknown[]): boolean {
  const internals = this as ServerResponse & { streaming?: boolean };
  if (internals.streaming !== true) {
    internals.streaming = true;
    // Only a streaming response can fill the socket buffer and wait for 'drain': end() does not.
    this.socket?.setNoDelay(true).on('drain', onSocketDrain);
  }
  return (Object.getPrototypeOf(this) as { write: (...a: unknown[]) => boolean }).write.apply(this, args);
}

/**
 * node:http's server relays the socket's 'drain' to the response; without it a response that
 * filled the socket buffer (anything piped, over ~64 KB) waits forever.
 */
function onSocketDrain(this: Socket): void {
  const res = (this as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (res?.writableNeedDrain) res.emit('drain');
}

function onResponseFinish(this: ServerResponse): void {
  // The exchange is over: 'close' for the request (no 'aborted': the client did not leave), and
  // an unread body is abandoned with the connection rather than drained as keep-alive would need.
  this.req.destroy();
  exchangeOf(this.socket)?.responseFinished(this.statusCode);
}

/**
 * The socket is nginx's, but apps read the client from it (Express `req.ip` via
 * `req.socket.remoteAddress`, Koa `ctx.ip`, Fastify `request.ip`, and `socket.encrypted` for the
 * protocol). SCGI gives one request per connection, so the socket can simply carry the client's
 * identity as own properties that shadow net.Socket's getters.
 */
function presentClient(socket: Socket, env: Record<string, string>): void {
  const address = env.REMOTE_ADDR;
  if (address) {
    // net.Socket answers remoteAddress/remotePort/remoteFamily from this cache once it is set
    // (pinned in test/unit/node-internals.test.ts); cheaper than redefining the getters.
    (socket as Socket & { _peername: unknown })._peername = peerOf(address, Number(env.REMOTE_PORT) || undefined);
  }
  if (isHttps(env)) (socket as Socket & { encrypted?: boolean }).encrypted = true;
}

class IncomingMessageSink implements BodySink {
  constructor(private readonly req: IncomingMessage) {}
  push(chunk: Buffer): boolean {
    return this.req.push(chunk);
  }
  end(): void {
    this.req.complete = true;
    this.req.push(null);
  }
  abort(err: Error): void {
    this.req.destroy(err);
  }
}
