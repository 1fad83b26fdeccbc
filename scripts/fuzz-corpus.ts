/**
 * Writes the seed corpus of the native parser's fuzzer (native/fuzz/corpus/): requests in the
 * shapes nginx, lighttpd and Apache send (pair lists shortened from test/artifacts/
 * frontends-env.json, as the e2e harness captured them), and one input per refusal.
 * Run: `npx tsx scripts/fuzz-corpus.ts`. The files are committed; rerun only to change them.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeFuzzInput, type FuzzProfile } from '../test/helpers/native-parse-cli.js';

type Pairs = Array<[string, string]>;

const netstring = (pairs: Pairs, body = ''): string => {
  const block = pairs.map(([name, value]) => `${name}\0${value}\0`).join('');
  return `${Buffer.byteLength(block, 'latin1')}:${block},${body}`;
};

// nginx 1.22 with Debian's scgi_params: SCGI=1 follows the CGI variables it lists, then HTTP_*.
const nginx: Pairs = [
  ['CONTENT_LENGTH', '0'], ['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/app/x?q=%C3%BC'],
  ['QUERY_STRING', 'q=%C3%BC'], ['CONTENT_TYPE', ''], ['DOCUMENT_URI', '/app/x'],
  ['DOCUMENT_ROOT', '/usr/share/nginx/html'], ['SCGI', '1'], ['SERVER_PROTOCOL', 'HTTP/1.1'],
  ['REQUEST_SCHEME', 'http'], ['REMOTE_ADDR', '127.0.0.1'], ['REMOTE_PORT', '50412'],
  ['SERVER_PORT', '8080'], ['SERVER_NAME', 'localhost'], ['HTTP_HOST', '127.0.0.1:8080'],
  ['HTTP_USER_AGENT', 'curl/7.88.1'], ['HTTP_ACCEPT', '*/*'],
];
// lighttpd 1.4: SCGI=1 last, SCRIPT_NAME and PATH_INFO present.
const lighttpd: Pairs = [
  ['CONTENT_LENGTH', '8'], ['QUERY_STRING', 'q=%C3%BC&x=1'], ['REQUEST_URI', '/app/sub/p%C3%A4th?q=%C3%BC&x=1'],
  ['REDIRECT_STATUS', '200'], ['SCRIPT_NAME', '/app'], ['PATH_INFO', '/sub/p\u00e4th'],
  ['SERVER_SOFTWARE', 'lighttpd/1.4.69'], ['REQUEST_METHOD', 'POST'], ['REMOTE_ADDR', '127.0.0.1'],
  ['HTTP_HOST', '127.0.0.1:8081'], ['CONTENT_TYPE', 'application/x-www-form-urlencoded'], ['SCGI', '1'],
];
// Apache 2.4 mod_proxy_scgi: SCGI second, a lower-case variable, the body after the comma.
const apache: Pairs = [
  ['CONTENT_LENGTH', '8'], ['SCGI', '1'], ['proxy-scgi-pathinfo', '1'],
  ['CONTENT_TYPE', 'application/x-www-form-urlencoded'], ['HTTP_HOST', '127.0.0.1:8082'],
  ['SERVER_SOFTWARE', 'Apache/2.4.62 (Debian)'], ['SCRIPT_FILENAME', 'proxy:scgi://127.0.0.1:4000/sub'],
  ['REQUEST_METHOD', 'POST'], ['REQUEST_URI', '/app/sub'], ['SCRIPT_NAME', '/app/sub'],
];
const minimal: Pairs = [['CONTENT_LENGTH', '0'], ['SCGI', '1']];

/** [file name, profile, wire text (latin1)] */
const seeds: Array<[string, FuzzProfile, string]> = [
  ['nginx-get', { limits: 0, split: 40 }, netstring(nginx)],
  ['nginx-repeated-headers', { limits: 0, split: 7, step: 3 }, netstring([
    ...nginx, ['HTTP_X_FORWARDED_FOR', '10.0.0.1'], ['HTTP_COOKIE', 'a=1'], ['HTTP_X_FORWARDED_FOR', '10.0.0.2'],
    ['HTTP_COOKIE', 'b=2'], ['HTTP_HOST', 'example.org'],
  ])],
  ['lighttpd-post', { limits: 0, split: 300, step: 16 }, netstring(lighttpd, 'a=1&b=22')],
  ['apache-post', { limits: 0, split: 2, preallocate: true }, netstring(apache, 'a=1&b=22')],
  ['pipelined-extra-bytes', { limits: 0, split: 33 }, netstring([['CONTENT_LENGTH', '2'], ['SCGI', '1']], 'abjunk')],
  ['small-limits-body', { limits: 1, split: 10, step: 1 }, netstring([['CONTENT_LENGTH', '5'], ['SCGI', '1']], 'hello')],
  ['err-http-on-scgi-port', { limits: 0, split: 3 }, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['err-netstring-length', { limits: 0, split: 1 }, 'x5:abcde,'],
  ['err-leading-zero', { limits: 0, split: 1 }, `0${netstring(minimal)}`],
  ['err-header-too-large', { limits: 0, split: 3 }, '65537:'],
  ['err-too-many-digits', { limits: 2, split: 2 }, '10000:'],
  ['err-empty-block', { limits: 0, split: 1 }, '0:,'],
  ['err-netstring-comma', { limits: 0, split: 26 }, netstring(minimal).replace(/,$/, ';')],
  ['err-header-format', { limits: 0, split: 9 }, netstring([['CONTENT_LENGTH', '0'], ['', 'x'], ['SCGI', '1']])],
  ['err-content-length', { limits: 0, split: 5 }, netstring([['SCGI', '1'], ['CONTENT_LENGTH', '0']])],
  ['err-content-length-hex', { limits: 0, split: 12 }, netstring([['CONTENT_LENGTH', '0x10'], ['SCGI', '1']])],
  ['err-header-duplicate', { limits: 0, split: 20 }, netstring([...minimal, ['REMOTE_ADDR', 'a'], ['REMOTE_ADDR', 'b']])],
  ['err-scgi-missing', { limits: 0, split: 20 }, netstring([['CONTENT_LENGTH', '0'], ['HTTP_HOST', 'x']])],
  ['err-scgi-not-one', { limits: 0, split: 27 }, netstring([['CONTENT_LENGTH', '0'], ['SCGI', '2']])],
  ['err-body-too-large', { limits: 1, split: 20 }, netstring([['CONTENT_LENGTH', '6'], ['SCGI', '1']], 'abcdef')],
];

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'native', 'fuzz', 'corpus');
mkdirSync(dir, { recursive: true });
for (const file of readdirSync(dir)) rmSync(join(dir, file));
for (const [name, profile, wire] of seeds) {
  writeFileSync(join(dir, name), encodeFuzzInput(profile, Buffer.from(wire, 'latin1')));
}
console.log(`wrote ${seeds.length} seeds to ${dir}`);
