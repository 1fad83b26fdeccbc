/**
 * The envFile parser (server/config/dotenv.ts): the dotenv rules, the errors with their line, and
 * property-based round trips with fast-check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseDotenv } from '../../server/config/dotenv.js';
import { isDragonError } from '../../shared/errors.js';

test('names, values, comments, blank lines and export', () => {
  const text = [
    '# database',
    '',
    'DB_HOST=localhost',
    'export DB_PORT = 5432 ',
    'EMPTY=',
    'URL=http://x/#frag # the note',
    '  INDENTED=yes',
    'SAME=first',
    'SAME=last',
  ].join('\n');
  assert.deepEqual(parseDotenv(text), {
    DB_HOST: 'localhost', DB_PORT: '5432', EMPTY: '', URL: 'http://x/#frag', INDENTED: 'yes', SAME: 'last',
  });
});

test('single quotes are literal, double quotes take escapes, both may span lines', () => {
  const text = `A='a $b \\n # not a comment'\nB="x\\ny\\t\\"q\\" \\\\"\nC="line1\nline2"\nD='it\nspans' # note\nE=after`;
  assert.deepEqual(parseDotenv(text), {
    A: 'a $b \\n # not a comment',
    B: 'x\ny\t"q" \\',
    C: 'line1\nline2',
    D: 'it\nspans',
    E: 'after',
  });
});

test('CRLF line ends and a BOM read as a plain file', () => {
  assert.deepEqual(parseDotenv('\uFEFFA=1\r\nB="2"\r\n'), { A: '1', B: '2' });
});

/** The error's line, or a failure naming what parsed instead. */
function errorLine(text: string): number {
  try {
    const vars = parseDotenv(text);
    assert.fail(`parsed as ${JSON.stringify(vars)}`);
  } catch (err) {
    assert.ok(isDragonError(err, 'DOW_ERR_ENV_FILE'), String(err));
    return Number(/^line (\d+):/.exec(err.message)?.[1]);
  }
}

test('a line that is no assignment, a bad name, an open quote and text after a quote name their line', () => {
  assert.equal(errorLine('A=1\njust words\n'), 2);
  assert.equal(errorLine('A=1\n\nmy-key=2'), 3);
  assert.equal(errorLine('A=1\nB="open\nC=3'), 2);
  assert.equal(errorLine("A='x\ny' trailing\nB=2"), 2);
  assert.equal(errorLine('A="x\ny"\nB=2\n9X=1'), 4);
});

test('every value written in double quotes with escapes reads back as itself', () => {
  const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/);
  fc.assert(fc.property(fc.dictionary(name, fc.string()), (vars) => {
    const text = Object.entries(vars)
      .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}"`)
      .join('\n');
    assert.deepEqual(parseDotenv(text), { ...vars });
  }));
});

test('any text either parses or throws DOW_ERR_ENV_FILE, never anything else', () => {
  fc.assert(fc.property(fc.string({ unit: fc.constantFrom('A', '=', '"', "'", '\\', '\n', '#', ' ', 'x', '1', '-') }), (text) => {
    try {
      parseDotenv(text);
    } catch (err) {
      assert.ok(isDragonError(err, 'DOW_ERR_ENV_FILE'), String(err));
    }
  }));
});

test('__proto__ is a name like any other', () => {
  const vars = parseDotenv('__proto__=x\nA=1');
  assert.equal(Object.getOwnPropertyDescriptor(vars, '__proto__')?.value, 'x');
  assert.equal(Object.getPrototypeOf(vars), Object.prototype);
});
