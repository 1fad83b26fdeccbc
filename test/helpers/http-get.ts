/**
 * @module http-get
 * One GET over node:http for tests that check what a server or front end answers: status,
 * headers and the whole body as text, with a deadline so that a silent server fails the test.
 */
import http from 'node:http';
import { scaledMs } from './wait.js';

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface HttpGetOptions {
  /** A keep-alive agent to reuse a connection; absent, a new connection per request. */
  agent?: http.Agent;
  /** An object, or a flat raw list [name, value, name, value…] to send repeated lines apart. */
  headers?: http.OutgoingHttpHeaders | string[];
  timeoutMs?: number;
}

export function httpGet(url: string, { agent, headers, timeoutMs = 30_000 }: HttpGetOptions = {}): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: agent ?? false, ...(headers === undefined ? {} : { headers }) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.setTimeout(scaledMs(timeoutMs), () => req.destroy(new Error(`no answer within ${scaledMs(timeoutMs)} ms: ${url}`)));
    req.on('error', reject);
  });
}
