/**
 * @module fetch-bridge
 * Runs a fetch handler on a Node request/response pair: a web Request built from the
 * IncomingMessage (its body streamed with Readable.toWeb's backpressure), the Response written
 * back through the ServerResponse. Used where node:http owns the connection (`protocol: 'http'`
 * apps) and for a `type: 'auto'` function found to be a fetch handler; an SCGI fetch handler
 * under `type: 'fetch'` takes the direct path in adapters/fetch instead.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { enterApp } from '../enter-app.js';
import { errors } from '../../../shared/errors.js';
import type { ScgiRequestInfo } from '../scgi-request-info.js';

export type FetchFunction = (request: Request, context: ScgiRequestInfo | undefined) => unknown;

export interface BridgeOptions {
  /** The scheme the client used (from the front end: HTTPS, or a trusted X-Forwarded-Proto). */
  https: boolean;
  /** Aborts when the client leaves or the server ends the request; absent: never. */
  signal?: AbortSignal;
  /** For the error naming a handler that returned no Response. */
  appName?: string;
}

/** Throws DOW_ERR_REQUEST_INVALID for a request undici refuses (a header HTTP does not allow). */
export function requestFromNode(req: IncomingMessage, options: BridgeOptions): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  const method = req.method ?? 'GET';
  const init: RequestInit & { duplex?: 'half' } = { method, headers };
  try {
    for (let i = 0; i < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
    if (method !== 'GET' && method !== 'HEAD') {
      init.body = Readable.toWeb(req) as ReadableStream<Uint8Array>;
      init.duplex = 'half';
    }
    if (options.signal !== undefined) init.signal = options.signal;
    return new Request(`${options.https ? 'https' : 'http'}://${headers.get('host') ?? 'localhost'}${req.url ?? '/'}`, init);
  } catch (err) {
    throw new errors.DOW_ERR_REQUEST_INVALID(err instanceof Error ? err.message : String(err));
  }
}

export async function serveFetchOverNode(
  fn: FetchFunction,
  req: IncomingMessage,
  res: ServerResponse,
  context: ScgiRequestInfo | undefined,
  options: BridgeOptions,
): Promise<void> {
  const request = requestFromNode(req, options);
  const response = await enterApp(() => fn(request, context));
  if (!(response instanceof Response)) {
    throw new errors.DOW_ERR_FETCH_RESULT(options.appName ?? context?.app ?? 'the app', describeValue(response));
  }
  await writeFetchResponse(response, res);
}

export async function writeFetchResponse(response: Response, res: ServerResponse): Promise<void> {
  res.statusCode = response.status;
  if (response.statusText) res.statusMessage = response.statusText;
  for (const [name, value] of response.headers) if (name !== 'set-cookie') res.setHeader(name, value);
  // Headers joins repeated Set-Cookie with ", ", which breaks cookies with dates in them.
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  if (response.body === null) {
    res.end();
    return;
  }
  await pipeline(Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>), res);
}

/** What a handler returned instead of a Response, for the error message. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'Object'})`;
  return typeof value;
}
