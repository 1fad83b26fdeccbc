/**
 * @module stats-format
 * The stats port's wire format, shared by the runtime (which writes it) and the dashboard's
 * separate-process mode (which reads it): one `SCGI_SERVER_<key>='<value>'` line per figure,
 * sorted by key, single-quoted so that `eval "$(nc 127.0.0.1 9004)"` is safe in any POSIX sh.
 */

export const STATS_PREFIX = 'SCGI_SERVER_';

/**
 * How the text goes on the wire. Not latin1: it keeps only the low byte of each character, so a
 * path with U+0127 (ħ) in a value would reach sh as a bare `'` and end the quoting. In UTF-8 every
 * byte of a multi-byte character is 0x80 or above, so the only `'` bytes are shQuote's own.
 */
export const STATS_ENCODING = 'utf8';

/**
 * POSIX sh single quotes take every byte literally except `'` itself, which cannot be escaped
 * inside them; the original closes the quote, emits `'` inside double quotes, and reopens:
 * `it's` -> `'it'"'"'s'`. NUL cannot live in a shell variable at all, so it is dropped, and line breaks become spaces
 * so that every figure stays on one line for `grep` and for parseStats.
 */
export function shQuote(value: string): string {
  return `'${value.replace(/\0/g, '').replace(/[\r\n]/g, ' ').replaceAll("'", `'"'"'`)}'`;
}

/** Formats figures as sorted sh assignments. Keys must already be valid sh name parts. */
export function formatStats(figures: ReadonlyMap<string, string | number>): string {
  const keys = [...figures.keys()].sort();
  let out = '';
  for (const key of keys) out += `${STATS_PREFIX}${key}=${shQuote(String(figures.get(key)))}\n`;
  return out;
}

/** Parses what formatStats wrote (the inverse, for the one quoting form it produces). */
export function parseStats(text: string): Map<string, string> {
  const figures = new Map<string, string>();
  const line = /^SCGI_SERVER_([A-Za-z0-9_]+)=((?:'[^']*'|"'")*)$/;
  for (const raw of text.split('\n')) {
    const match = line.exec(raw);
    if (!match) continue;
    const quoted = match[2] ?? '';
    // Undo `'...'"'"'...'`: strip the outer quotes, then every `'"'"'` is one `'`.
    figures.set(match[1] ?? '', quoted.slice(1, -1).replaceAll(`'"'"'`, "'"));
  }
  return figures;
}
