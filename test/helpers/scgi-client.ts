/**
 * @module scgi-client
 * A small SCGI client for tests: sends a request (encoded as nginx does, server/protocol/
 * request-encoder.ts) over a real socket and parses the CGI-style response.
 */
import { connect } from 'node:net';
import { encodeScgiRequest, type ScgiRequestOptions } from '../../server/protocol/request-encoder.js';
import { scaledMs } from './wait.js';

export { encodeNetstringEnv, encodeScgiRequest, type ScgiRequestOptions } from '../../server/protocol/request-encoder.js';

export interface ScgiResponse {
  status: number;
  reason: string;
  /** Lower-case names; repeated headers keep every value. */
  headers: Map<string, string[]>;
  body: Buffer;
  raw: Buffer;
}

export type Target = { port: number; host?: string } | { path: string };

export function sendRaw(target: Target, payload: Buffer | Buffer[], options: { halfClose?: boolean; timeoutMs?: number; allowReset?: boolean } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = 'path' in target ? connect(target.path) : connect(target.port, target.host ?? '127.0.0.1');
    const chunks: Buffer[] = [];
    // Generous by default: a first request may wait for a whole server to start on a busy machine.
    const timeoutMs = options.timeoutMs ?? scaledMs(30_000);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete response within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      // A reset is how the server cuts a response that already started.
      if (options.allowReset && err.code === 'ECONNRESET') resolve(Buffer.concat(chunks));
      else reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.on('connect', () => {
      for (const part of Array.isArray(payload) ? payload : [payload]) socket.write(part);
      if (options.halfClose) socket.end();
    });
  });
}

export function parseScgiResponse(raw: Buffer): ScgiResponse {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd === -1) throw new Error(`no complete head in ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  const lines = raw.toString('latin1', 0, headEnd).split('\r\n');
  const statusMatch = /^Status: (\d{3}) ?(.*)$/.exec(lines[0] ?? '');
  if (!statusMatch) throw new Error(`first line is not a CGI Status line: ${JSON.stringify(lines[0])}`);
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return { status: Number(statusMatch[1]), reason: statusMatch[2] ?? '', headers, body: raw.subarray(headEnd + 4), raw };
}

export async function scgiRequest(target: Target, options: ScgiRequestOptions = {}): Promise<ScgiResponse> {
  return parseScgiResponse(await sendRaw(target, encodeScgiRequest(options)));
}
