/**
 * The C parser (native/src/scgi-parse.c) against the TypeScript reference: the same requests,
 * split the same way, must give the same env, content length, body offset and body, or the same
 * DOW_ERR_* code. Requests in front-end shapes, structured faults, mutations and random bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { errors } from '../../shared/errors.js';
import {
  FUZZ_LIMITS, NATIVE_DIR, buildParseCli, decodeFuzzInput, parseWithC, parseWithTs, type ParserLimits,
} from '../helpers/native-parse-cli.js';
import { makeTempDirSync, removeTempDirSync } from '../helpers/temp-dir.js';

const dir = makeTempDirSync('native-parser');
const cli = buildParseCli(dir);
test.after(() => removeTempDirSync(dir));

const DEFAULT = FUZZ_LIMITS[0] as ParserLimits;

function same(wire: Buffer, limits: ParserLimits, cuts: number[] = [], workspace: 'lazy' | 'full' = 'lazy'): void {
  const expected = parseWithTs(wire, limits, cuts);
  const actual = parseWithC(cli, wire, limits, cuts, workspace);
  assert.deepStrictEqual(actual, expected, `input ${JSON.stringify(wire.toString('latin1'))} cuts ${cuts.join(',')} limits ${JSON.stringify(limits)}`);
}

const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');
const netstring = (pairs: Array<[string, string]>, body = ''): Buffer => {
  const block = pairs.map(([name, value]) => `${name}\0${value}\0`).join('');
  return latin1(`${Buffer.byteLength(block, 'latin1')}:${block},${body}`);
};

test('every C error code is one the TypeScript parser throws, and the reverse', () => {
  const source = readFileSync(join(NATIVE_DIR, 'src', 'scgi-parse.c'), 'utf8');
  const cCodes = [...source.matchAll(/"(DOW_ERR_[A-Z_]+)"/g)].map((match) => match[1]).sort();
  const tsSource = ['scgi-parser.ts', 'header-block.ts']
    .map((file) => readFileSync(join(NATIVE_DIR, '..', 'server', 'protocol', file), 'utf8')).join('\n');
  const tsCodes = [...new Set([...tsSource.matchAll(/errors\.(DOW_ERR_[A-Z_]+)/g)].map((match) => match[1]))].sort();
  assert.deepEqual(cCodes, tsCodes);
  for (const code of cCodes) assert.ok(code !== undefined && code in errors, `${code} is in shared/errors.ts`);
});

test('the seed corpus: each file whole, split and stepped as the fuzzer does, gives what its name says', () => {
  const corpus = join(NATIVE_DIR, 'fuzz', 'corpus');
  const expected: Record<string, string> = {
    'err-http-on-scgi-port': 'DOW_ERR_HTTP_ON_SCGI_PORT',
    'err-netstring-length': 'DOW_ERR_NETSTRING_LENGTH',
    'err-leading-zero': 'DOW_ERR_NETSTRING_LENGTH',
    'err-header-too-large': 'DOW_ERR_HEADER_TOO_LARGE',
    'err-too-many-digits': 'DOW_ERR_HEADER_TOO_LARGE',
    'err-empty-block': 'DOW_ERR_HEADER_FORMAT',
    'err-netstring-comma': 'DOW_ERR_NETSTRING_COMMA',
    'err-header-format': 'DOW_ERR_HEADER_FORMAT',
    'err-content-length': 'DOW_ERR_CONTENT_LENGTH',
    'err-content-length-hex': 'DOW_ERR_CONTENT_LENGTH',
    'err-header-duplicate': 'DOW_ERR_HEADER_DUPLICATE',
    'err-scgi-missing': 'DOW_ERR_SCGI_MISSING',
    'err-scgi-not-one': 'DOW_ERR_SCGI_MISSING',
    'err-body-too-large': 'DOW_ERR_BODY_TOO_LARGE',
  };
  const files = readdirSync(corpus);
  assert.ok(files.length >= 12, `a dozen seeds or more (found ${files.length})`);
  for (const file of files) {
    const input = decodeFuzzInput(readFileSync(join(corpus, file)));
    if (input === null) continue;
    const { wire, limits, split, step } = input;
    const whole = parseWithTs(wire, limits);
    const want = expected[file];
    if (want !== undefined) assert.deepEqual(whole, { error: want }, file);
    else if (file.startsWith('err-') === false && !file.startsWith('crash-')) assert.ok('env' in whole && whole.done, `${file} is a complete request`);
    same(wire, limits);
    same(wire, limits, [split]);
    same(wire, limits, Array.from({ length: Math.ceil(wire.length / step) }, (_, i) => (i + 1) * step));
  }
});

test('the malformed table of scgi-parser.test.ts, byte by byte', () => {
  const cases = [
    'abc:', ':x,', '024:CONTENT_LENGTH\u00000\u0000SCGI\u00001\u0000,', '0:,', '1234567:', '65537:',
    '24:CONTENT_LENGTH\u00000\u0000SCGI\u00001\u0000;', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'x5:abcde,', 'A', 'a', '',
  ].map(latin1);
  cases.push(
    netstring([['CONTENT_LENGTH', '0'], ['SCGI', '']]).subarray(0, -1),
    netstring([['SCGI', '1'], ['CONTENT_LENGTH', '0']]),
    netstring([['CONTENT_LENGTH', '1234567890123456'], ['SCGI', '1']]),
    netstring([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['REMOTE_ADDR', 'a'], ['REMOTE_ADDR', 'b']]),
    netstring([['CONTENT_LENGTH', '16777217'], ['SCGI', '1']]),
  );
  for (const wire of cases) {
    same(wire, DEFAULT);
    same(wire, DEFAULT, Array.from({ length: wire.length }, (_, i) => i + 1));
  }
});

test('limits: the digit rule and the edges of each bound', () => {
  const small = FUZZ_LIMITS[1] as ParserLimits;
  for (const wire of ['256:', '257:', '0256:', '1000:', '99:', '9999:'].map(latin1)) {
    same(wire, small);
    same(wire, FUZZ_LIMITS[2] as ParserLimits);
  }
  const body = (n: number): Buffer => netstring([['CONTENT_LENGTH', String(n)], ['SCGI', '1']], 'x'.repeat(n));
  for (const n of [0, 4, 5, 6, 1000, 1001]) for (const limits of FUZZ_LIMITS) same(body(n), limits);
  same(netstring([['CONTENT_LENGTH', '999999999999999'], ['SCGI', '1']]), FUZZ_LIMITS[3] as ParserLimits);
  same(latin1('4294967295:abc'), FUZZ_LIMITS[3] as ParserLimits);
  same(latin1('4294967296:'), FUZZ_LIMITS[3] as ParserLimits);
  same(latin1('12345678901:'), FUZZ_LIMITS[3] as ParserLimits);
  const big = netstring([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['HTTP_X', 'v'.repeat(65536 - 30)]]);
  same(big, DEFAULT);
  same(big, DEFAULT, [5, 70000], 'full');
});

// ---- generated inputs ------------------------------------------------------------------------

const latin1Text = (maxLength: number): fc.Arbitrary<string> =>
  fc.uint8Array({ maxLength }).map((bytes) => Buffer.from(bytes.filter((b) => b !== 0)).toString('latin1'));

/** Names a front end sends, and the ones that make rules fire: repeats, prefixes, lower case. */
const poolName = fc.constantFrom('CONTENT_LENGTH', 'SCGI', 'HTTP_HOST', 'HTTP_COOKIE', 'HTTP_X', 'HTTP_', 'HTTP',
  'REMOTE_ADDR', 'REQUEST_METHOD', 'proxy-scgi-pathinfo', 'A', '\u00e4', '__proto__', 'constructor');
const poolValue = fc.constantFrom('', '0', '1', '12', 'x', '0x1', '-1', ' 1', '01', '999999999999999', '1234567890123456', 'a\u00ff');
const anyName = fc.oneof(poolName, latin1Text(12).filter((name) => name.length > 0));
const anyValue = fc.oneof(poolValue, latin1Text(20));

/** An arbitrary pair list wrapped in a netstring, its length right or off, its comma or another byte. */
const structured = fc.record({
  pairs: fc.array(fc.tuple(anyName, anyValue), { maxLength: 8 }),
  lead: fc.constantFrom<'CONTENT_LENGTH' | 'none'>('CONTENT_LENGTH', 'CONTENT_LENGTH', 'none'),
  scgiAt: fc.option(fc.nat(8)),
  body: latin1Text(12),
  lengthDelta: fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 0, 1, -1, 5),
  comma: fc.constantFrom(',', ',', ',', ',', ',', ',', ';', '\0'),
  trailer: fc.constantFrom('', '', '\0', 'x\0'),
}).map(({ pairs, lead, scgiAt, body, lengthDelta, comma, trailer }) => {
  const list: Array<[string, string]> = [...pairs];
  if (scgiAt !== null) list.splice(Math.min(scgiAt, list.length), 0, ['SCGI', '1']);
  if (lead === 'CONTENT_LENGTH') list.unshift(['CONTENT_LENGTH', String(body.length)]);
  const block = list.map(([name, value]) => `${name}\0${value}\0`).join('') + trailer;
  return latin1(`${Math.max(0, block.length + lengthDelta)}:${block}${comma}${body}`);
});

/** Valid requests in the shapes the three front ends send, with repeated HTTP_* lines. */
const valid = fc.record({
  pairs: fc.array(fc.tuple(fc.oneof(fc.constantFrom('HTTP_HOST', 'HTTP_COOKIE', 'HTTP_X_FORWARDED_FOR'), fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,15}$/)), latin1Text(30)), { maxLength: 12 })
    .map((pairs) => pairs.filter(([name], i) => name.startsWith('HTTP_') || pairs.findIndex(([other]) => other === name) === i)
      .filter(([name]) => name !== 'CONTENT_LENGTH' && name !== 'SCGI')),
  scgiAt: fc.nat(12),
  body: fc.uint8Array({ maxLength: 40 }),
}).map(({ pairs, scgiAt, body }) => {
  const list: Array<[string, string]> = [...pairs];
  list.splice(Math.min(scgiAt, list.length), 0, ['SCGI', '1']);
  list.unshift(['CONTENT_LENGTH', String(body.length)]);
  const block = list.map(([name, value]) => `${name}\0${value}\0`).join('');
  return Buffer.concat([latin1(`${block.length}:${block},`), Buffer.from(body)]);
});

/** A valid request with a few bytes replaced, inserted or removed, biased to the syntax bytes. */
const mutated = fc.tuple(valid, fc.array(fc.tuple(fc.constantFrom('set', 'insert', 'delete', 'truncate'), fc.nat(), fc.oneof(fc.constantFrom(0, 0x3a, 0x2c, 0x30, 0x31, 0x39, 0x41, 0x48), fc.integer({ min: 0, max: 255 }))), { minLength: 1, maxLength: 3 }))
  .map(([wire, edits]) => {
    let bytes = [...wire];
    for (const [kind, at, byte] of edits) {
      const i = at % (bytes.length + 1);
      if (kind === 'set' && i < bytes.length) bytes[i] = byte;
      else if (kind === 'insert') bytes.splice(i, 0, byte);
      else if (kind === 'truncate') bytes = bytes.slice(0, i);
      else bytes.splice(i, 1);
    }
    return Buffer.from(bytes);
  });

const noise = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
  fc.tuple(fc.nat(60), fc.uint8Array({ maxLength: 60 })).map(([n, bytes]) => Buffer.concat([latin1(`${n}:`), Buffer.from(bytes)])),
  // Length prefixes at and around each profile's bound and digit count.
  fc.tuple(fc.constantFrom('255', '256', '257', '999', '1000', '1001', '9999', '65536', '65537', '99999', '100000', '4294967295', '4294967296', '9999999999', '10000000000'), fc.constantFrom(':', '', '0:'))
    .map(([digits, tail]) => latin1(digits + tail)),
);

const anyInput = fc.oneof({ weight: 3, arbitrary: valid }, { weight: 3, arbitrary: structured }, { weight: 3, arbitrary: mutated }, { weight: 1, arbitrary: noise });
const cutsFor = fc.array(fc.nat(200), { maxLength: 4 }).map((cuts) => [...cuts].sort((a, b) => a - b));
const limitsFor = fc.constantFrom(0, 0, 1, 2, 3).map((i) => FUZZ_LIMITS[i] as ParserLimits);

test('generated valid, structured, mutated and random inputs: same result from C and TypeScript', () => {
  fc.assert(
    fc.property(anyInput, cutsFor, limitsFor, fc.boolean(), (wire, cuts, limits, full) => {
      same(wire, limits, cuts, full && limits.maxHeaderBytes <= 65536 ? 'full' : 'lazy');
    }),
    { numRuns: 2000 },
  );
});

test('generated valid requests really parse (the generator is not all refusals)', () => {
  fc.assert(
    fc.property(valid, cutsFor, (wire, cuts) => {
      const result = parseWithC(cli, wire, DEFAULT, cuts);
      assert.ok('env' in result && result.done, JSON.stringify(result));
    }),
    { numRuns: 200 },
  );
});
