/**
 * @module cgi-env
 * The CGI-style env of a request that came over HTTP, so that `req.scgi.env` reads the same
 * whichever protocol carried it.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestTarget } from '../adapters/request-target.js';
import { joinHeaderValues } from '../protocol/header-block.js';
import type { ClientIdentity } from './trust-proxy.js';

/** The CGI variables an SCGI front end would have sent, for code written against `req.scgi.env`. */
export function cgiEnvOf(req: IncomingMessage, client: ClientIdentity, target: RequestTarget): Record<string, string> {
  const uri = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  const query = uri.indexOf('?');
  const env: Record<string, string> = {
    REQUEST_METHOD: target.method,
    REQUEST_URI: uri,
    QUERY_STRING: query === -1 ? '' : uri.slice(query + 1),
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    REMOTE_ADDR: client.address ?? '',
  };
  if (client.https) env.HTTPS = 'on';
  if (target.mount !== '') env.SCRIPT_NAME = target.mount;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toUpperCase().replaceAll('-', '_');
    const key = name === 'CONTENT_TYPE' || name === 'CONTENT_LENGTH' ? name : `HTTP_${name}`;
    const previous = env[key];
    env[key] = previous === undefined ? (raw[i + 1] as string) : joinHeaderValues(key, previous, raw[i + 1] as string);
  }
  return env;
}
