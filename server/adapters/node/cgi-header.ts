/**
 * @module cgi-header
 * Makes a Node ServerResponse write a CGI head (`Status: 200 OK`) instead of an HTTP/1.1 status
 * line, and never chunked framing. It replaces `_storeHeader`, the one internal method that builds
 * the head; test/unit/node-internals.test.ts pins the internals this relies on.
 *
 * The override is set on the response object itself, not on a subclass: Express swaps the
 * prototype of every response (`Object.setPrototypeOf(res, app.response)`), which would drop a
 * subclass method, while an own property survives.
 */
import { OutgoingMessage, validateHeaderName, validateHeaderValue, type ServerResponse } from 'node:http';
import { headerLines, isHopByHop, statusLine, type HeaderValue } from '../../protocol/response-head.js';
import { internalSymbol } from './internal-symbol.js';

/** Node keeps set headers under this symbol as `{ lowercase: [name, value] }`. */
const kOutHeaders = internalSymbol(new OutgoingMessage(), 'kOutHeaders');

interface OutgoingInternals {
  _header: string | null;
  _headerSent: boolean;
  _last: boolean;
  chunkedEncoding: boolean;
  [key: symbol]: unknown;
}

type Response = ServerResponse & OutgoingInternals;

export function storeCgiHeader(this: Response, _firstLine: string, headers: unknown): void {
  let head = statusLine(this.statusCode, this.statusMessage);
  if (headers !== null && headers !== undefined) {
    if (kOutHeaders !== undefined && headers === this[kOutHeaders]) {
      // Already validated by setHeader().
      const stored = headers as Record<string, [string, HeaderValue]>;
      for (const key in stored) {
        const entry = stored[key] as [string, HeaderValue];
        if (!isHopByHop(key)) head += headerLines(entry[0], entry[1]);
      }
    } else if (Array.isArray(headers)) {
      // writeHead(status, [[name, value], ...]) or writeHead(status, [name, value, ...]).
      if (headers.length > 0 && Array.isArray(headers[0])) {
        for (const pair of headers as Array<[string, HeaderValue]>) head += checkedLines(pair[0], pair[1]);
      } else {
        for (let i = 0; i + 1 < headers.length; i += 2) head += checkedLines(headers[i], headers[i + 1]);
      }
    } else {
      const object = headers as Record<string, HeaderValue>;
      for (const name of Object.keys(object)) head += checkedLines(name, object[name] as HeaderValue);
    }
  }
  // Close-delimited: the connection ends with the body, as SCGI defines.
  this.chunkedEncoding = false;
  this._last = true;
  this._header = head + '\r\n';
  this._headerSent = false;
}

/** writeHead() with literal headers skips setHeader(), so validate here: no CR/LF injection. */
function checkedLines(name: string, value: HeaderValue): string {
  validateHeaderName(name);
  if (value === undefined) return '';
  if (Array.isArray(value)) for (const item of value) validateHeaderValue(name, item);
  else validateHeaderValue(name, String(value));
  return isHopByHop(name.toLowerCase()) ? '' : headerLines(name, value);
}
