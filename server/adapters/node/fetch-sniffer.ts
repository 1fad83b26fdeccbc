/**
 * @module fetch-sniffer
 * A plain function exported under `type: 'auto'` may be a Node listener `(req, res)` or a fetch
 * handler `(request) => Response`; nothing tells them apart before a call. It is run as a Node
 * listener until it returns a Response (or a promise of one): that answer is written, and from
 * then on it gets a real Request, through a bridge slower than `type: 'fetch'`'s direct path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isHttps } from '../request-target.js';
import { serveFetchOverNode, writeFetchResponse } from './fetch-bridge.js';
import type { NodeListener } from './node-adapter.js';

type AnyFunction = (...args: unknown[]) => unknown;
type FetchFunction = Parameters<typeof serveFetchOverNode>[0];

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
    return writeFetchResponse(response, res);
  };
  const hinted = (err: unknown): never => {
    if (!nodeConfirmed && !fetchMode && err instanceof Error && !err.message.includes(HINT)) err.message += ` (${HINT})`;
    throw err;
  };
  return (req: IncomingMessage, res: ServerResponse): unknown => {
    if (fetchMode) return serveFetchOverNode(fn as FetchFunction, req, res, req.scgi, { https: req.scgi !== undefined && isHttps(req.scgi.env) });
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
