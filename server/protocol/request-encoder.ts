/**
 * @module request-encoder
 * Builds an SCGI request the way nginx does (CONTENT_LENGTH first, then SCGI=1, then the rest):
 * for the `load` command and the tests. Pure.
 *
 *   "<len>:" CONTENT_LENGTH \0 <n> \0 SCGI \0 1 \0 … "," <body>
 */

export interface ScgiRequestOptions {
  method?: string;
  uri?: string;
  headers?: Record<string, string>;
  /** Extra CGI variables, e.g. { HTTPS: 'on', REMOTE_ADDR: '203.0.113.9' }. */
  env?: Record<string, string>;
  body?: Buffer | string;
}

export function encodeScgiRequest(options: ScgiRequestOptions = {}): Buffer {
  const body = options.body === undefined ? Buffer.alloc(0) : Buffer.from(options.body);
  const uri = options.uri ?? '/';
  const queryAt = uri.indexOf('?');
  const env: Record<string, string> = {
    CONTENT_LENGTH: String(body.length),
    SCGI: '1',
    REQUEST_METHOD: options.method ?? 'GET',
    REQUEST_URI: uri,
    QUERY_STRING: queryAt === -1 ? '' : uri.slice(queryAt + 1),
    SERVER_PROTOCOL: 'HTTP/1.1',
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_PORT: '50000',
    SERVER_NAME: 'localhost',
    SERVER_PORT: '80',
    HTTP_HOST: 'localhost',
    ...options.env,
  };
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    env[`HTTP_${name.toUpperCase().replaceAll('-', '_')}`] = value;
  }
  return encodeNetstringEnv(env, body);
}

/** Encodes pairs in the given order; for tests of malformed input, pass the pairs raw. */
export function encodeNetstringEnv(env: Record<string, string>, body: Buffer = Buffer.alloc(0)): Buffer {
  const block = Buffer.concat(Object.entries(env).map(([k, v]) => Buffer.from(`${k}\0${v}\0`, 'latin1')));
  return Buffer.concat([Buffer.from(`${block.length}:`), block, Buffer.from(','), body]);
}
