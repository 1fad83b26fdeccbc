/**
 * SCGI parser: every split offset, a table of malformed inputs with their error codes, and
 * property-based fuzzing (arbitrary bytes only ever produce typed errors).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DragonError } from '../../shared/errors.js';
import { ScgiParser } from '../../server/protocol/scgi-parser.js';
import { DEFAULT_LIMITS } from '../../server/protocol/limits.js';
import { encodeNetstringEnv, encodeScgiRequest } from '../helpers/scgi-client.js';

interface Parsed {
  env: Record<string, string> | null;
  contentLength: number;
  body: Buffer;
  ended: boolean;
}

function parseChunks(chunks: Buffer[], limits = DEFAULT_LIMITS): Parsed {
  const parsed: Parsed = { env: null, contentLength: -1, body: Buffer.alloc(0), ended: false };
  const bodyParts: Buffer[] = [];
  const parser = new ScgiParser(
    {
      onHeaders(env, contentLength) {
        assert.equal(parsed.env, null, 'onHeaders called twice');
        parsed.env = { ...env };
        parsed.contentLength = contentLength;
      },
      onBody(chunk) {
        assert.ok(parsed.env, 'body before headers');
        bodyParts.push(Buffer.from(chunk));
      },
      onBodyEnd() {
        assert.equal(parsed.ended, false, 'onBodyEnd called twice');
        parsed.ended = true;
      },
    },
    limits,
  );
  for (const chunk of chunks) parser.execute(chunk);
  parsed.body = Buffer.concat(bodyParts);
  return parsed;
}

function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DragonError, `expected a DragonError, got ${String(err)}`);
    return err.code;
  }
  return 'no error';
}

const request = encodeScgiRequest({ method: 'POST', uri: '/a?b=c', body: 'hello=world', headers: { 'X-Test': 'yes' } });

test('parses a request split at every offset into two and three chunks', () => {
  const whole = parseChunks([request]);
  assert.equal(whole.env?.REQUEST_METHOD, 'POST');
  assert.equal(whole.env?.REQUEST_URI, '/a?b=c');
  assert.equal(whole.env?.HTTP_X_TEST, 'yes');
  assert.equal(whole.body.toString(), 'hello=world');
  assert.equal(whole.ended, true);
  for (let i = 0; i <= request.length; i++) {
    const two = parseChunks([request.subarray(0, i), request.subarray(i)]);
    assert.deepEqual(two, whole, `split at ${i}`);
    for (let j = i; j <= request.length; j += 7) {
      const three = parseChunks([request.subarray(0, i), request.subarray(i, j), request.subarray(j)]);
      assert.deepEqual(three, whole, `split at ${i}/${j}`);
    }
  }
});

test('parses byte by byte', () => {
  const chunks = [...request].map((byte) => Buffer.from([byte]));
  assert.deepEqual(parseChunks(chunks), parseChunks([request]));
});

test('SCGI=1 may come last, as lighttpd sends it', () => {
  const parsed = parseChunks([encodeNetstringEnv({ CONTENT_LENGTH: '0', REQUEST_METHOD: 'GET', SCGI: '1' })]);
  assert.equal(parsed.env?.SCGI, '1');
  assert.equal(parsed.ended, true);
});

test('a zero-length body ends right after the headers', () => {
  const parsed = parseChunks([encodeScgiRequest({})]);
  assert.equal(parsed.contentLength, 0);
  assert.equal(parsed.ended, true);
});

test('names such as __proto__ are ordinary keys', () => {
  const parsed = parseChunks([encodeNetstringEnv({ CONTENT_LENGTH: '0', SCGI: '1', __proto__x: 'a', constructor: 'b' })]);
  assert.equal(parsed.env?.constructor, 'b');
});

const block = (text: string): Buffer => Buffer.from(`${Buffer.byteLength(text, 'latin1')}:${text},`, 'latin1');

const malformed: Array<[string, Buffer, string]> = [
  ['letters in the length', Buffer.from('abc:'), 'DOW_ERR_NETSTRING_LENGTH'],
  ['no digits before the colon', Buffer.from(':x,'), 'DOW_ERR_NETSTRING_LENGTH'],
  ['a leading zero', Buffer.from('024:CONTENT_LENGTH\u00000\u0000SCGI\u00001\u0000,'), 'DOW_ERR_NETSTRING_LENGTH'],
  ['an empty header block', Buffer.from('0:,'), 'DOW_ERR_HEADER_FORMAT'],
  ['too many length digits', Buffer.from('1234567:'), 'DOW_ERR_HEADER_TOO_LARGE'],
  ['a header block over the limit', Buffer.from('65537:'), 'DOW_ERR_HEADER_TOO_LARGE'],
  ['a missing comma', Buffer.from('24:CONTENT_LENGTH\u00000\u0000SCGI\u00001\u0000;'), 'DOW_ERR_NETSTRING_COMMA'],
  ['no trailing NUL', block('CONTENT_LENGTH\u00000\u0000SCGI\u00001'), 'DOW_ERR_HEADER_FORMAT'],
  ['a name without a value', block('CONTENT_LENGTH\u00000\u0000SCGI\u0000'), 'DOW_ERR_HEADER_FORMAT'],
  ['an empty name', block('CONTENT_LENGTH\u00000\u0000\u0000x\u0000SCGI\u00001\u0000'), 'DOW_ERR_HEADER_FORMAT'],
  ['CONTENT_LENGTH not first', block('SCGI\u00001\u0000CONTENT_LENGTH\u00000\u0000'), 'DOW_ERR_CONTENT_LENGTH'],
  ['CONTENT_LENGTH not decimal', block('CONTENT_LENGTH\u0000-1\u0000SCGI\u00001\u0000'), 'DOW_ERR_CONTENT_LENGTH'],
  ['CONTENT_LENGTH empty', block('CONTENT_LENGTH\u0000\u0000SCGI\u00001\u0000'), 'DOW_ERR_CONTENT_LENGTH'],
  ['CONTENT_LENGTH in hex', block('CONTENT_LENGTH\u00000x10\u0000SCGI\u00001\u0000'), 'DOW_ERR_CONTENT_LENGTH'],
  ['CONTENT_LENGTH of 16 digits', block('CONTENT_LENGTH\u00001234567890123456\u0000SCGI\u00001\u0000'), 'DOW_ERR_CONTENT_LENGTH'],
  ['a duplicate name', block('CONTENT_LENGTH\u00000\u0000SCGI\u00001\u0000A\u0000x\u0000A\u0000y\u0000'), 'DOW_ERR_HEADER_DUPLICATE'],
  ['SCGI missing', block('CONTENT_LENGTH\u00000\u0000REQUEST_METHOD\u0000GET\u0000'), 'DOW_ERR_SCGI_MISSING'],
  ['SCGI not 1', block('CONTENT_LENGTH\u00000\u0000SCGI\u00002\u0000'), 'DOW_ERR_SCGI_MISSING'],
  ['a body over the limit', block('CONTENT_LENGTH\u000016777217\u0000SCGI\u00001\u0000'), 'DOW_ERR_BODY_TOO_LARGE'],
  // Named for what it is; a lower-case first byte is still a bad length.
  ['an HTTP request sent to the SCGI port', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'DOW_ERR_HTTP_ON_SCGI_PORT'],
  ['a lower-case letter where the length belongs', Buffer.from('x5:abcde,'), 'DOW_ERR_NETSTRING_LENGTH'],
];

for (const [name, input, code] of malformed) {
  test(`rejects ${name} with ${code}`, () => {
    assert.equal(errorCode(() => parseChunks([input])), code);
    // The same verdict whatever the chunking.
    assert.equal(errorCode(() => parseChunks([...input].map((byte) => Buffer.from([byte])))), code);
  });
}

test('repeated HTTP_* headers are joined (nginx 1.22 sends each line); the later HTTP_HOST wins', () => {
  const parsed = parseChunks([block(
    'CONTENT_LENGTH\u00000\u0000SCGI\u00001\u0000HTTP_X_FORWARDED_FOR\u00001.1.1.1\u0000HTTP_COOKIE\u0000a=1\u0000' +
    'HTTP_HOST\u0000example.org\u0000HTTP_X_FORWARDED_FOR\u00002.2.2.2\u0000HTTP_COOKIE\u0000b=2\u0000HTTP_HOST\u0000example.org:8080\u0000',
  )]);
  assert.equal(parsed.env?.HTTP_X_FORWARDED_FOR, '1.1.1.1, 2.2.2.2');
  assert.equal(parsed.env?.HTTP_COOKIE, 'a=1; b=2');
  assert.equal(parsed.env?.HTTP_HOST, 'example.org:8080');
  assert.equal(errorCode(() => parseChunks([block('CONTENT_LENGTH\u00000\u0000SCGI\u00001\u0000REMOTE_ADDR\u0000a\u0000REMOTE_ADDR\u0000b\u0000')])), 'DOW_ERR_HEADER_DUPLICATE');
});

test('names remembered from earlier blocks never stand in for different names at the same position', () => {
  const head = 'CONTENT_LENGTH\u00000\u0000SCGI\u00001\u0000';
  // Same length, other bytes; a prefix of the remembered name; a longer name starting with it.
  const sequence = [
    { HTTP_AAA: 'one', HTTP_X: 'x' },
    { HTTP_BBB: 'two', HTTP_XY: 'xy' },
    { HTTP_BB: 'three', HTTP_X: 'x2' },
    { HTTP_AAA: 'four', HTTP_XYZ: 'xyz' },
  ];
  for (const headers of sequence) {
    const text = head + Object.entries(headers).map(([name, value]) => `${name}\u0000${value}\u0000`).join('');
    assert.deepEqual(parseChunks([block(text)]).env, { CONTENT_LENGTH: '0', SCGI: '1', ...headers });
  }
});

test('limits are configurable', () => {
  const small = { ...DEFAULT_LIMITS, maxHeaderBytes: 100, maxBodyBytes: 5 };
  assert.equal(errorCode(() => parseChunks([Buffer.from('101:')], small)), 'DOW_ERR_HEADER_TOO_LARGE');
  assert.equal(errorCode(() => parseChunks([encodeScgiRequest({ body: '123456' }).subarray(0, 200)], { ...small, maxHeaderBytes: 1000 })), 'DOW_ERR_BODY_TOO_LARGE');
});

test('bytes after the body are ignored', () => {
  const parsed = parseChunks([Buffer.concat([encodeScgiRequest({ body: 'ab' }), Buffer.from('junk')])]);
  assert.equal(parsed.body.toString(), 'ab');
});

test('fuzz: arbitrary bytes produce a request or a typed error, never anything else', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (parts) => {
      try {
        parseChunks(parts.map((part) => Buffer.from(part)));
      } catch (err) {
        if (!(err instanceof DragonError)) throw err;
      }
    }),
    { numRuns: 3000 },
  );
});

test('fuzz: mutated valid requests produce a request or a typed error', () => {
  fc.assert(
    fc.property(fc.nat(request.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(request.length), (at, byte, split) => {
      const mutated = Buffer.from(request);
      mutated[at] = byte;
      try {
        parseChunks([mutated.subarray(0, split), mutated.subarray(split)]);
      } catch (err) {
        if (!(err instanceof DragonError)) throw err;
      }
    }),
    { numRuns: 3000 },
  );
});

test('fuzz: any valid environment and body round-trips through any chunking', () => {
  const name = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,20}$/).filter((n) => n !== 'CONTENT_LENGTH' && n !== 'SCGI');
  const value = fc.string({ maxLength: 40 }).map((s) => s.replace(/\0/g, ''));
  fc.assert(
    fc.property(
      fc.dictionary(name, value, { maxKeys: 10 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.array(fc.nat(500), { maxLength: 5 }),
      (extra, bodyBytes, cuts) => {
        const body = Buffer.from(bodyBytes);
        const env = { CONTENT_LENGTH: String(body.length), SCGI: '1', ...extra };
        const latin1 = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, Buffer.from(v, 'latin1').toString('latin1')]));
        const wire = encodeNetstringEnv(env, body);
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let last = 0;
        for (const point of points) {
          chunks.push(wire.subarray(last, point));
          last = point;
        }
        chunks.push(wire.subarray(last));
        const parsed = parseChunks(chunks);
        assert.deepEqual(parsed.env, latin1);
        assert.deepEqual(parsed.body, body);
        assert.equal(parsed.ended, true);
      },
    ),
    { numRuns: 1000 },
  );
});
