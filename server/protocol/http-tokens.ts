/**
 * @module http-tokens
 * Checks what an SCGI head forwards as HTTP (REQUEST_METHOD, HTTP_* names) the way an HTTP parser
 * checks a request line and field names. Pure; apart from the framing both parsers (C and
 * header-block.ts) check, and run after either.
 */
import { errors } from '../../shared/errors.js';
import type { ScgiEnv } from './header-block.js';

/**
 * RFC 9110 5.6.2: a method and a field name are tokens,
 *   tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
 * Node's parser answers anything else with 400. Over SCGI, a REQUEST_METHOD or HTTP_* name holding
 * CR, LF or a space would reach the app as `req.method` or a header no HTTP client could send
 * ("GET\r\nX-Injected: 1"), to be echoed into logs, proxies and responses.
 */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Names already found to be tokens: a front end sends the same few dozen on every request, so
 * each is tested once. Bounded, so a client sending new names cannot grow it.
 */
const checkedNames = new Set<string>();
const MAX_CHECKED_NAMES = 1024;

/** Throws DOW_ERR_REQUEST_INVALID (400, as for a header undici refuses) for a method or HTTP_* name that is not a token. */
export function checkHttpTokens(env: ScgiEnv): void {
  const method = env.REQUEST_METHOD;
  if (method !== undefined && !TOKEN.test(method)) {
    throw new errors.DOW_ERR_REQUEST_INVALID(`REQUEST_METHOD ${JSON.stringify(method)} is not an HTTP token`);
  }
  for (const name in env) {
    if (checkedNames.has(name)) continue;
    if (name.startsWith('HTTP_') && !TOKEN.test(name)) {
      throw new errors.DOW_ERR_REQUEST_INVALID(`header ${JSON.stringify(name)} is not an HTTP token`);
    }
    if (checkedNames.size < MAX_CHECKED_NAMES) checkedNames.add(name);
  }
}
