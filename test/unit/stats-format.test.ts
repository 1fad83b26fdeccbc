/** The stats port's sh format: quoting that survives `eval` in dash and bash, and the parser. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { formatStats, parseStats, shQuote, STATS_ENCODING } from '../../shared/stats-format.js';

const shells = ['/bin/sh', '/bin/dash', '/bin/bash'].filter((shell) => existsSync(shell));

test('quotes as the original did', () => {
  assert.equal(shQuote('plain'), `'plain'`);
  assert.equal(shQuote("it's"), `'it'"'"'s'`);
  assert.equal(shQuote(''), `''`);
});

test('formats sorted SCGI_SERVER_ lines', () => {
  const text = formatStats(new Map<string, string | number>([['uptime', 14], ['pid', 7], ['app_error', 'Not enough data']]));
  assert.equal(text, "SCGI_SERVER_app_error='Not enough data'\nSCGI_SERVER_pid='7'\nSCGI_SERVER_uptime='14'\n");
});

const hostile = ["it's", '$(touch /tmp/pwned)', '`id`', '"; rm -rf / #', "'''", '\\n\\', 'a\nb', 'tab\there', '${HOME}', 'ünï©ødé', '!event', '* ? [a]'];

test('eval in sh gives back every value, hostile ones included', () => {
  for (const shell of shells) {
    const figures = new Map<string, string>(hostile.map((value, i) => [`k${i}`, value]));
    const script = `eval "$(cat)"; for i in ${hostile.map((_, i) => i).join(' ')}; do eval "printf '%s\\\\0' \\"\\$SCGI_SERVER_k$i\\""; done`;
    const out = execFileSync(shell, ['-c', script], { input: formatStats(figures) }).toString();
    const expected = hostile.map((value) => value.replace(/\n/g, ' '));
    assert.deepEqual(out.split('\0').slice(0, -1), expected, shell);
  }
});

test('property: any string round-trips through eval and through parseStats', () => {
  const shell = shells[0] as string;
  fc.assert(
    fc.property(fc.string({ maxLength: 30 }), (value) => {
      const text = formatStats(new Map([['v', value]]));
      const expected = value.replace(/\0/g, '').replace(/[\r\n]/g, ' ');
      assert.equal(parseStats(text).get('v'), expected);
      const out = execFileSync(shell, ['-c', 'eval "$(cat)"; printf %s "$SCGI_SERVER_v"'], { input: text }).toString();
      assert.equal(out, expected);
    }),
    { numRuns: 150 },
  );
});

test('as sent on the wire (STATS_ENCODING), a character whose low byte is a quote stays inside its quotes', () => {
  // U+0127 and U+0A27 end in 0x27, `'`: written as latin1 they would close the quoting.
  const values = ["/srv/ħ'; touch /tmp/pwned-stats #", 'ਧ $(id)', '/srv/café'];
  for (const shell of shells) {
    const figures = new Map<string, string>(values.map((value, i) => [`k${i}`, value]));
    const script = `eval "$(cat)"; for i in 0 1 2; do eval "printf '%s\\\\0' \\"\\$SCGI_SERVER_k$i\\""; done`;
    const out = execFileSync(shell, ['-c', script], { input: Buffer.from(formatStats(figures), STATS_ENCODING) }).toString('utf8');
    assert.deepEqual(out.split('\0').slice(0, -1), values, shell);
  }
});
