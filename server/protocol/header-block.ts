/**
 * @module header-block
 * Decodes the payload of the SCGI netstring into an environment object. Pure: a Buffer in, an
 * object out, or a typed error.
 *
 * SCGI spec (python.ca/scgi/protocol.txt):
 *   headers ::= header*          header ::= name NUL value NUL
 *   "The first header must be CONTENT_LENGTH"; "duplicate names are not allowed" (kept for CGI
 *   variables; repeated HTTP_* headers are joined, see mergeRepeated);
 *   a header "SCGI" with value "1" must be present (lighttpd sends it last, nginx first after
 *   CONTENT_LENGTH), so its position is not checked.
 *
 *   "70:"  CONTENT_LENGTH NUL "27" NUL  SCGI NUL "1" NUL  REQUEST_METHOD NUL "POST" NUL ... ","
 *          \___________________ header block, 70 bytes ______________________________/
 */
import { errors } from '../../shared/errors.js';

/** SCGI environment: header names to values, decoded as latin1 like Node's own HTTP parser. */
export type ScgiEnv = Record<string, string>;

/** A CONTENT_LENGTH beyond 2^53 could not be counted exactly; 15 digits is ample. */
const MAX_CONTENT_LENGTH_DIGITS = 15;
const NUL = 0;

export interface HeaderBlock {
  env: ScgiEnv;
  contentLength: number;
}

/**
 * An object with no inherited keys that V8 still keeps in fast mode: `Object.create(null)` would
 * do the former but starts in dictionary mode, slower for every later lookup by the apps.
 */
const EnvPrototype = Object.create(null) as object;
function EnvObject(this: ScgiEnv): void {}
EnvObject.prototype = EnvPrototype;
const newEnv = (): ScgiEnv => new (EnvObject as unknown as new () => ScgiEnv)();

/**
 * A front end sends the same names in the same order on every request (its scgi_params, then the
 * client's headers), so the names of earlier blocks are kept by position and matched in place:
 * no new string per name, and a key V8 has already internalized. A mismatch (another front end,
 * other client headers) just takes a fresh slice and remembers it. Bounded by position.
 */
const recentNames: string[] = [];
const MAX_REMEMBERED_NAMES = 64;

export function parseHeaderBlock(block: Buffer): HeaderBlock {
  const end = block.length;
  if (end === 0 || block[end - 1] !== NUL) {
    throw new errors.DOW_ERR_HEADER_FORMAT('header block must end with a NUL byte');
  }
  // One decode for the whole block, then slices of it: far cheaper than a decode per name and value.
  const text = block.toString('latin1');
  const env = newEnv();
  let pos = 0;
  let index = 0;
  let first = true;
  while (pos < end) {
    const nameEnd = text.indexOf('\0', pos);
    if (nameEnd === pos) throw new errors.DOW_ERR_HEADER_FORMAT(`empty header name at byte ${pos}`);
    const valueEnd = nameEnd === end - 1 ? -1 : text.indexOf('\0', nameEnd + 1);
    if (valueEnd === -1) {
      throw new errors.DOW_ERR_HEADER_FORMAT(`header name without a value at byte ${pos}`);
    }
    const name = nameAt(text, index, pos, nameEnd);
    index++;
    const value = text.slice(nameEnd + 1, valueEnd);
    pos = valueEnd + 1;
    const previous = env[name];
    if (previous !== undefined) {
      env[name] = mergeRepeated(name, previous, value);
      continue;
    }
    if (first && name !== 'CONTENT_LENGTH') {
      throw new errors.DOW_ERR_CONTENT_LENGTH(`first header is ${JSON.stringify(name)}`);
    }
    first = false;
    env[name] = value;
  }
  const contentLength = parseContentLength(env.CONTENT_LENGTH);
  if (env.SCGI !== '1') {
    const why = env.SCGI === undefined ? 'absent' : `value ${JSON.stringify(env.SCGI)}`;
    // nginx sends SCGI=1 only from its scgi_params file, with REQUEST_METHOD and the rest: both
    // missing means the include is (measured with nginx 1.22: CONTENT_LENGTH and HTTP_* only).
    throw new errors.DOW_ERR_SCGI_MISSING(env.SCGI === undefined && env.REQUEST_METHOD === undefined
      ? `${why}, and so is REQUEST_METHOD: is \`include scgi_params;\` missing from the nginx location?`
      : why);
  }
  return { env, contentLength };
}

/** The name of pair `index`, spanning text[start, end): the remembered string when it matches. */
function nameAt(text: string, index: number, start: number, end: number): string {
  let name = recentNames[index] as string | undefined;
  if (name === undefined || name.length !== end - start || !text.startsWith(name, start)) {
    name = text.slice(start, end);
    if (index < MAX_REMEMBERED_NAMES) recentNames[index] = name;
  }
  return name;
}

/**
 * The environment of a header block the native parser (native/src/scgi-parse.c) has validated:
 * `pairs` holds (name offset, name length, value offset, value length) per pair, into `text`, the
 * block decoded as latin1. Its checks (first pair, SCGI, CONTENT_LENGTH, repeats) were made in C;
 * repeated HTTP_* names are joined here as parseHeaderBlock joins them.
 */
export function envFromPairs(text: string, pairs: Uint32Array, count: number): ScgiEnv {
  const env = newEnv();
  for (let i = 0; i < count; i++) {
    const at = i * 4;
    const nameStart = pairs[at] as number;
    const valueStart = pairs[at + 2] as number;
    const name = nameAt(text, i, nameStart, nameStart + (pairs[at + 1] as number));
    const value = text.slice(valueStart, valueStart + (pairs[at + 3] as number));
    const previous = env[name];
    env[name] = previous === undefined ? value : mergeRepeated(name, previous, value);
  }
  return env;
}

/**
 * The spec allows no repeated names, and CGI variables stay that strict. But nginx 1.22 (Debian
 * stable) forwards every repeated request header as its own HTTP_* pair (a second X-Forwarded-For
 * from a proxy chain, two Accept lines), and `scgi_param HTTP_HOST $http_host` after Debian's
 * scgi_params sends HTTP_HOST twice: refusing those would turn ordinary traffic into 400s. So
 * repeated HTTP_* values are joined as an HTTP server joins repeated headers (newer nginx does the
 * same itself), with two exceptions: cookies join with "; ", and for the host the later value
 * wins, as the config that repeats it intends.
 */
function mergeRepeated(name: string, previous: string, value: string): string {
  if (!name.startsWith('HTTP_')) throw new errors.DOW_ERR_HEADER_DUPLICATE(JSON.stringify(name));
  if (name === 'HTTP_HOST') return value;
  return joinHeaderValues(name, previous, value);
}

/**
 * Repeated values of one header (as its HTTP_* variable) joined as Node's parser joins them: Cookie
 * with "; " (RFC 6265 5.4: a ", " would fold two cookies into one value), the rest with ", ".
 */
export function joinHeaderValues(variable: string, previous: string, value: string): string {
  return previous + (variable === 'HTTP_COOKIE' ? '; ' : ', ') + value;
}

function parseContentLength(raw: string | undefined): number {
  if (raw === undefined) throw new errors.DOW_ERR_CONTENT_LENGTH('absent');
  if (raw.length === 0 || raw.length > MAX_CONTENT_LENGTH_DIGITS) {
    throw new errors.DOW_ERR_CONTENT_LENGTH(JSON.stringify(raw));
  }
  let value = 0;
  for (let i = 0; i < raw.length; i++) {
    const digit = raw.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) throw new errors.DOW_ERR_CONTENT_LENGTH(JSON.stringify(raw));
    value = value * 10 + digit;
  }
  return value;
}
