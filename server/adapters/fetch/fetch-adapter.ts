/**
 * @module fetch-adapter
 * Runs a fetch handler (`(request: Request, context) => Response | Promise<Response>`, e.g.
 * Hono's `app.fetch`) on an SCGI exchange, streaming bodies both ways: the request body is a
 * ReadableStream fed from the socket with backpressure, and the response body is written as the
 * handler's stream yields it, waiting for 'drain'.
 */
import type { ScgiRequestInfo } from '../scgi-request-info.js';
import type { BodySink } from '../body-sink.js';
import type { Exchange } from '../exchange.js';
import { errors } from '../../../shared/errors.js';
import { Outcome } from '../../../shared/timing-row.js';
import { headerLines, isHopByHop, statusLine } from '../../protocol/response-head.js';
import { enterApp } from '../enter-app.js';
import { headerPairs, isHttps } from '../request-target.js';
import { describeValue } from '../node/fetch-bridge.js';
import { kRequestController, kRequestExchange } from '../../core/symbols.js';

export type FetchHandler = (request: Request, context: ScgiRequestInfo) => Response | Promise<Response>;

export function runFetchHandler(handler: FetchHandler, exchange: Exchange, appName: string): void {
  let request: Request;
  try {
    request = buildRequest(exchange);
  } catch (err) {
    // undici refuses header names and values HTTP does not allow (a `(` in a name, CR or LF in
    // a value), which SCGI can carry: the client's fault, so a 400 without a stack, not a 500.
    exchange.refuse(new errors.DOW_ERR_REQUEST_INVALID(err instanceof Error ? err.message : String(err)));
    return;
  }
  enterApp(() => handler(request, exchange.info)).then(
    (response) => {
      if (!(response instanceof Response)) {
        throw new errors.DOW_ERR_FETCH_RESULT(appName, describeValue(response));
      }
      return writeResponse(exchange, response);
    },
  ).catch((err: unknown) => exchange.appFailed(err));
}

/**
 * A Request whose `signal` aborts when the client goes away or the server ends the request
 * (timeout). The signal is made on first use: following an AbortSignal costs undici ~7 µs per
 * request, and aborting one ~10 µs more, for the many handlers that never look at it.
 */
class ScgiRequest extends Request {
  readonly [kRequestExchange]: Exchange;
  [kRequestController]: AbortController | undefined;

  constructor(url: string, init: RequestInit, exchange: Exchange) {
    super(url, init);
    this[kRequestExchange] = exchange;
  }
}

// An accessor over Request's own one: the DOM typings declare `signal` a plain property.
Object.defineProperty(ScgiRequest.prototype, 'signal', {
  configurable: true,
  get(this: ScgiRequest): AbortSignal {
    let controller = this[kRequestController];
    if (controller === undefined) {
      const created = new AbortController();
      controller = this[kRequestController] = created;
      const exchange = this[kRequestExchange];
      const abortIfCut = (): void => {
        if (exchange.outcome !== null && exchange.outcome !== Outcome.ANSWERED) created.abort();
      };
      // Ended already (the handler looks late): decide now; else when the connection closes.
      if (exchange.outcome !== null || exchange.closed) abortIfCut();
      else exchange.socket.once('close', abortIfCut);
    }
    return controller.signal;
  },
});

function buildRequest(exchange: Exchange): Request {
  const env = exchange.env;
  const headers = new Headers();
  const pairs = headerPairs(env);
  for (let i = 0; i < pairs.length; i += 2) headers.append(pairs[i] as string, pairs[i + 1] as string);
  const host = env.HTTP_HOST || (env.SERVER_NAME ? `${env.SERVER_NAME}:${env.SERVER_PORT ?? ''}`.replace(/:$/, '') : 'localhost');
  const url = `${isHttps(env) ? 'https' : 'http'}://${host}${exchange.target.url}`;
  const method = exchange.target.method;
  const withBody = exchange.contentLength > 0 && method !== 'GET' && method !== 'HEAD';
  const init: RequestInit & { duplex?: 'half' } = { method, headers };
  if (withBody) {
    init.body = bodyStream(exchange);
    init.duplex = 'half';
  } else if (exchange.contentLength > 0) {
    exchange.takeBody(DISCARD);
  }
  return new ScgiRequest(url, init, exchange);
}

const DISCARD: BodySink = { push: () => true, end: () => {}, abort: () => {} };

function bodyStream(exchange: Exchange): ReadableStream<Uint8Array> {
  let sink: StreamSink | undefined;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        sink = new StreamSink(controller, exchange);
        exchange.takeBody(sink);
      },
      pull() {
        exchange.socket.resume();
      },
      cancel() {
        sink?.cancel();
      },
    },
    // Let the socket's own buffer hold bytes until the handler asks for them.
    { highWaterMark: 1 },
  );
}

class StreamSink implements BodySink {
  private cancelled = false;
  constructor(
    private readonly controller: ReadableStreamDefaultController<Uint8Array>,
    private readonly exchange: Exchange,
  ) {}
  push(chunk: Buffer): boolean {
    if (this.cancelled) return true;
    this.controller.enqueue(chunk);
    return (this.controller.desiredSize ?? 0) > 0;
  }
  end(): void {
    if (!this.cancelled) this.controller.close();
  }
  abort(err: Error): void {
    if (!this.cancelled) this.controller.error(err);
  }
  cancel(): void {
    this.cancelled = true;
    this.exchange.socket.resume();
  }
}

async function writeResponse(exchange: Exchange, response: Response): Promise<void> {
  const socket = exchange.socket;
  if (exchange.closed) {
    await response.body?.cancel();
    return;
  }
  let head = statusLine(response.status, response.statusText);
  let hasCookies = false;
  for (const [name, value] of response.headers) {
    // Headers joins repeated Set-Cookie with ", ", which breaks cookies with dates in them.
    if (name === 'set-cookie') hasCookies = true;
    else if (!isHopByHop(name)) head += headerLines(name, value);
  }
  if (hasCookies) head += headerLines('set-cookie', response.headers.getSetCookie());
  head += '\r\n';
  const status = response.status;
  const noBody = exchange.target.method === 'HEAD' || status === 204 || status === 304 || response.body === null;
  exchange.headSent(status);
  if (noBody) {
    socket.write(head, 'latin1');
    await response.body?.cancel();
    exchange.responseFinished(status);
    return;
  }
  // Corked, the head leaves with the first body chunk in one writev instead of two writes.
  socket.cork();
  socket.write(head, 'latin1');
  let corked = true;
  const uncork = (): void => {
    if (corked) {
      corked = false;
      socket.uncork();
    }
  };
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  try {
    for (let chunks = 0; ; chunks++) {
      const { done, value } = await reader.read();
      if (done) break;
      if (exchange.closed) {
        uncork();
        await reader.cancel();
        return;
      }
      // A second chunk means a streamed body: let each chunk leave at once (see server.ts).
      if (chunks === 1) socket.setNoDelay(true);
      const flowing = socket.write(value);
      uncork();
      if (!flowing) await drained(socket);
    }
  } catch (err) {
    uncork();
    exchange.appFailed(err);
    return;
  }
  uncork();
  exchange.responseFinished(status);
}

function drained(socket: Exchange['socket']): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
