/**
 * @module fetch-sniffer
 * A plain function exported under `type: 'auto'` may be a Node listener `(req, res)` or a fetch
 * handler `(request) => Response`; nothing tells them apart before a call. It is run as a Node
 * listener until it returns a Response (or a promise of one): that answer is written, and from
 * then on it gets a real Request, through a bridge slower than `type: 'fetch'`'s direct path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { NodeListener } from './node-adapter.js';

type AnyFunction = (...args: unknown[]) => unknown;

const HINT = "under type: 'auto' a plain function is first run as a Node (req, res) listener; if it is a fetch handler, (request) => Response, set type: 'fetch' for the app";

/** `onDetected` is called once, when the function turns out to be a fetch handler. */
export function sniffFetchHandler(fn: AnyFunction, onDetected: () => void): NodeListener {
  let fetchMode = false;
  /** A request answered the Node way: it is a listener, and its errors need no hint. */
  let nodeConfirmed = false;
  const detected = (response: Response, res: ServerResponse): Promise<void> => {
    if (!fetchMode) {
      fetchMode = true;
      onDetected();
    }
    return writeResponse(response, res);
  };
  const hinted = (err: unknown): never => {
    if (!nodeConfirmed && !fetchMode && err instanceof Error && !err.message.includes(HINT)) err.message += ` (${HINT})`;
    throw err;
  };
  return (req: IncomingMessage, res: ServerResponse): unknown => {
    if (fetchMode) return serveAsFetch(fn, req, res);
    // Answered the Node way once: a listener for good, called as it is from then on.
    if (nodeConfirmed) return fn(req, res);
    res.once('finish', () => {
      if (!fetchMode) nodeConfirmed = true;
    });
    let result: unknown;
    try {
      result = fn(req, res);
    } catch (err) {
      return hinted(err);
    }
    if (result instanceof Response) return detected(result, res);
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
      return (result as Promise<unknown>).then((value) => (value instanceof Response ? detected(value, res) : value), hinted);
    }
    return result;
  };
}

async function serveAsFetch(fn: AnyFunction, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string);
  const method = req.method ?? 'GET';
  const withBody = method !== 'GET' && method !== 'HEAD';
  const init: RequestInit & { duplex?: 'half' } = { method, headers };
  if (withBody) {
    init.body = Readable.toWeb(req) as ReadableStream<Uint8Array>;
    init.duplex = 'half';
  }
  const https = (req.scgi?.env.HTTPS ?? '').toLowerCase();
  const scheme = https === 'on' || https === '1' ? 'https' : 'http';
  const request = new Request(`${scheme}://${headers.get('host') ?? 'localhost'}${req.url ?? '/'}`, init);
  const response = await fn(request, req.scgi);
  if (!(response instanceof Response)) throw new TypeError(`the fetch handler returned ${typeof response}, not a Response`);
  await writeResponse(response, res);
}

async function writeResponse(response: Response, res: ServerResponse): Promise<void> {
  res.statusCode = response.status;
  if (response.statusText) res.statusMessage = response.statusText;
  for (const [name, value] of response.headers) if (name !== 'set-cookie') res.setHeader(name, value);
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  if (response.body === null) {
    res.end();
    return;
  }
  await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>), res);
}
