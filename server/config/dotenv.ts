/**
 * @module dotenv
 * An `envFile`'s text (the dotenv format) into variables; pure. Our own rather than Node's
 * util.parseEnv, which Node 20 has only from 20.12 (engines says >=20) and whose rules changed
 * between lines; these are the dotenv package's, which PM2 and most tools follow:
 *
 *   # a comment             blank lines and comment lines are skipped
 *   export NAME=value       `export ` is allowed, so the file can also be sourced in sh
 *   NAME = value # note     unquoted: trimmed, ends at ` #`
 *   NAME='a $b \n'          single quotes: literal, may span lines
 *   NAME="a\nb"             double quotes: \n \r \t \" \\ escapes, may span lines
 *
 * No `$VAR` expansion (dotenv leaves that to dotenv-expand): values are what the file says. A
 * line that is none of these is an error naming its number, not a silently missing variable.
 */
import { errors } from '../../shared/errors.js';

/** The names sh and every tool accept; a file with `my-key=` is refused rather than half-used. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const ASSIGNMENT = /^\s*(?:export\s+)?([^=\s]+)\s*=[ \t]*/;
const DOUBLE_QUOTE_ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' };

/** Throws DOW_ERR_ENV_FILE naming the line (1-based) of the first problem. */
export function parseDotenv(text: string): Record<string, string> {
  // No prototype: a line `__proto__=x` is a variable like any other.
  const vars = Object.create(null) as Record<string, string>;
  // CRLF files from Windows editors read as LF ones; a BOM is not part of the first name.
  const src = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  let at = 0;
  let line = 1;
  while (at < src.length) {
    const end = lineEnd(src, at);
    const whole = src.slice(at, end);
    if (/^\s*(#.*)?$/.test(whole)) {
      [at, line] = [end + 1, line + 1];
      continue;
    }
    const head = ASSIGNMENT.exec(whole);
    if (head === null) throw new errors.DOW_ERR_ENV_FILE(line, 'expected NAME=value');
    const name = head[1] as string;
    if (!ENV_NAME.test(name)) throw new errors.DOW_ERR_ENV_FILE(line, `${JSON.stringify(name)} is not a variable name (letters, digits and _, not starting with a digit)`);
    const valueAt = at + head[0].length;
    const quote = src[valueAt];
    if (quote === "'" || quote === '"') {
      const close = closingQuote(src, valueAt + 1, quote);
      if (close === -1) throw new errors.DOW_ERR_ENV_FILE(line, `the ${quote === '"' ? 'double' : 'single'} quote of ${name} is never closed`);
      const raw = src.slice(valueAt + 1, close);
      vars[name] = quote === "'" ? raw : raw.replace(/\\(.)/gs, (all, c: string) => DOUBLE_QUOTE_ESCAPES[c] ?? all);
      const after = lineEnd(src, close);
      if (!/^\s*(#.*)?$/.test(src.slice(close + 1, after))) throw new errors.DOW_ERR_ENV_FILE(lineOf(src, close, line, at), `text after the closing quote of ${name}`);
      line = lineOf(src, after, line, at) + 1;
      at = after + 1;
      continue;
    }
    vars[name] = src.slice(valueAt, end).replace(/(^|\s)#.*$/, '').trim();
    [at, line] = [end + 1, line + 1];
  }
  return { ...vars };
}

function lineEnd(src: string, from: number): number {
  const nl = src.indexOf('\n', from);
  return nl === -1 ? src.length : nl;
}

/** The closing quote at or after `from`; in double quotes, `\"` does not close. */
function closingQuote(src: string, from: number, quote: string): number {
  for (let i = from; i < src.length; i++) {
    if (src[i] === '\\' && quote === '"') i++;
    else if (src[i] === quote) return i;
  }
  return -1;
}

/** The line number of offset `to`, counting from `from` on line `line`. */
function lineOf(src: string, to: number, line: number, from: number): number {
  let n = line;
  for (let i = from; i < to; i++) if (src[i] === '\n') n++;
  return n;
}
