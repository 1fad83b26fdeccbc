/**
 * @module response-head
 * Serializes a CGI-style response head, the only form every SCGI front end accepts:
 *
 *   Status: 200 OK\r\n
 *   Content-Type: text/plain\r\n
 *   Set-Cookie: a=1\r\n          <- one line per value; never folded with ", "
 *   \r\n
 *
 * No `HTTP/1.1 200 OK` line: Apache's mod_proxy_scgi rejects it, nginx only tolerates it. No
 * Transfer-Encoding: the body is close-delimited and nginx would pass chunk framing through raw.
 */
import { STATUS_CODES } from 'node:http';

export type HeaderValue = string | number | readonly string[];

export function statusLine(status: number, reason?: string): string {
  return `Status: ${status} ${reason || STATUS_CODES[status] || 'Unknown'}\r\n`;
}

/**
 * Hop-by-hop headers that describe the backend connection, which SCGI does not have; forwarding
 * them would make the front end misframe the body (Transfer-Encoding) or drop its own keep-alive.
 */
export function isHopByHop(lowerName: string): boolean {
  return lowerName === 'transfer-encoding' || lowerName === 'connection' || lowerName === 'keep-alive';
}

/** Appends `Name: value\r\n` lines; an array becomes one line per element. */
export function headerLines(name: string, value: HeaderValue): string {
  if (typeof value === 'string') return `${name}: ${value}\r\n`;
  if (typeof value === 'number') return `${name}: ${value}\r\n`;
  let out = '';
  for (const item of value) out += `${name}: ${item}\r\n`;
  return out;
}

/**
 * The one response in HTTP rather than CGI form: to an HTTP client that connected to an SCGI port
 * directly, which would take a `Status:` line for HTTP/0.9 garbage (curl refuses it).
 */
export function httpResponse(status: number, body: string, extraHeaders = ''): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n${extraHeaders}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** A complete head for responses we make ourselves (400, 413, 503, 504, 500). */
export function simpleResponse(status: number, body: string, extraHeaders = ''): string {
  const withBody = body.length > 0;
  return (
    statusLine(status) +
    extraHeaders +
    (withBody ? `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : '') +
    '\r\n' +
    body
  );
}
