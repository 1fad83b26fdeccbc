/**
 * @module matrix-client
 * The compatibility matrix's HTTP client (node:http: it may set Host, and it streams), sending
 * from 127.0.0.2 so that an app reporting that address read REMOTE_ADDR, not the front end's socket.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { scaledMs, waitUntil } from './wait.js';

/**
 * The client connects from 127.0.0.2 while every front end reaches the backend from 127.0.0.1,
 * so an app that reports 127.0.0.2 read REMOTE_ADDR, not the front end's socket.
 */
export const CLIENT_ADDRESS = '127.0.0.2';
/**
 * Socket idle time before a request counts as stalled: generous, and stretched by
 * DOW_TEST_SLOWDOWN, since a front end that buffers a 5 MB upload and an app under
 * AddressSanitizer on a busy machine can leave the client's socket quiet for many seconds.
 */
const REQUEST_TIMEOUT_MS = scaledMs(60_000);

export interface RequestOptions {
  method?: string;
  host: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function open(base: string, path: string, options: RequestOptions, onResponse: (res: http.IncomingMessage, req: http.ClientRequest) => void, onError: (err: Error) => void): http.ClientRequest {
  const req = http.request(base + path, {
    method: options.method ?? 'GET',
    headers: { host: options.host, ...options.headers },
    agent: false,
    localAddress: CLIENT_ADDRESS,
  }, (res) => onResponse(res, req));
  req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms: ${path}`)));
  req.on('error', onError);
  req.end(options.body);
  return req;
}

export function request(base: string, path: string, options: RequestOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    open(base, path, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }, reject);
  });
}

/** Hashes the body as it streams in, never holding it. */
export function requestHash(base: string, path: string, options: RequestOptions): Promise<{ status: number; bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    open(base, path, options, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash.update(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest('hex') }));
      res.on('error', reject);
    }, reject);
  });
}

/** Times each SSE event's arrival, and the end, in ms since the request was sent. */
/** GETs an event stream; `onEvent` sees each event's data as it arrives. */
export function requestEvents(base: string, path: string, options: RequestOptions, onEvent: (data: string) => void = () => {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; events: Array<{ data: string; atMs: number }>; endMs: number }> {
  const sentAt = Date.now();
  return new Promise((resolve, reject) => {
    open(base, path, options, (res) => {
      const events: Array<{ data: string; atMs: number }> = [];
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = /^data: ?(.*)$/m.exec(block)?.[1];
          if (data !== undefined) {
            events.push({ data, atMs: Date.now() - sentAt });
            onEvent(data);
          }
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, events, endMs: Date.now() - sentAt }));
      res.on('error', reject);
    }, reject);
  });
}

/**
 * Sends the request and hangs up once the app is handling it (`inApp`), whatever has arrived by
 * then: a fixed delay raced the front end on a slow machine (under AddressSanitizer the client
 * could leave before the request reached the app, and there was nothing to abort).
 */
export async function requestAndLeave(base: string, path: string, options: RequestOptions, inApp: () => boolean): Promise<void> {
  const req = open(base, path, options, (res) => res.on('data', () => {}).on('error', () => {}), () => {});
  try {
    await waitUntil('the request inside the app', inApp, { intervalMs: 20 });
  } finally {
    req.destroy();
  }
}

export const json = (reply: Reply): Record<string, unknown> => JSON.parse(reply.body.toString('utf8')) as Record<string, unknown>;
