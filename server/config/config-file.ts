/**
 * @module config-file
 * Reads a config file (.mjs, .js or .json) into a plain value. A file that does not parse is a
 * DOW_ERR_CONFIG naming file:line:col, with the line and a caret under the spot, as a compiler
 * shows it: "Unexpected identifier" alone leaves the operator searching the whole file.
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { errors } from '../../shared/errors.js';

/** Modules imported so far are cached by URL: a reload's read asks under a new one. */
let freshReads = 0;

/** `fresh`: the file as it is now, not as an earlier import of it cached it (a reload). */
export async function readConfigFile(path: string, { fresh = false } = {}): Promise<unknown> {
  const ext = extname(path);
  if (ext === '.json') {
    const text = await readText(path);
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw located(path, (err as Error).message, jsonPosition(text, (err as Error).message), text);
    }
  }
  if (ext === '.mjs' || ext === '.js') {
    const text = await readText(path);
    try {
      const url = pathToFileURL(path);
      if (fresh) {
        url.search = `?read=${++freshReads}`;
        // A CommonJS file (.js outside "type": "module") is cached by its path, whatever the URL.
        delete createRequire(import.meta.url).cache[path];
      }
      const mod = (await import(url.href)) as { default?: unknown };
      return typeof mod.default === 'function' ? await (mod.default as () => unknown)() : mod.default;
    } catch (err) {
      if (!(err instanceof Error)) throw new errors.DOW_ERR_CONFIG(path, String(err));
      const where = err instanceof SyntaxError ? syntaxPosition(path, err) : thrownAt(path, err);
      throw located(path, `${err.name}: ${err.message}`, where, text);
    }
  }
  throw new errors.DOW_ERR_CONFIG(path, `unsupported extension ${JSON.stringify(ext)}; use .mjs, .js or .json`);
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new errors.DOW_ERR_CONFIG(path, (err as Error).message);
  }
}

interface Position {
  line: number;
  /** 1-based; 0 when unknown. */
  column: number;
}

function located(path: string, message: string, where: Position | null, text: string): Error {
  if (where === null) return new errors.DOW_ERR_CONFIG(path, message);
  const source = `${path}:${where.line}${where.column > 0 ? `:${where.column}` : ''}`;
  const line = text.split(/\r?\n/)[where.line - 1];
  const excerpt = line === undefined || line.length > 200 ? '' : `\n  ${line}${where.column > 0 ? `\n  ${' '.repeat(where.column - 1)}^` : ''}`;
  return new errors.DOW_ERR_CONFIG(source, `${message}${excerpt}`);
}

/** V8 says "... in JSON at position 33" (Node 22 adds the line and column itself). */
export function jsonPosition(text: string, message: string): Position | null {
  const match = /at position (\d+)/.exec(message);
  if (match === null) return /end of JSON input/.test(message) ? positionAt(text, text.length) : null;
  return positionAt(text, Number(match[1]));
}

function positionAt(text: string, offset: number): Position {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, column: offset - lineStart + 1 };
}

/**
 * A CommonJS file's SyntaxError names file:line in its stack; an ES module's, imported, names
 * nothing (Node 20-24). `node --check` then says where, as it does on the command line; it runs
 * only for a file that does not parse.
 */
function syntaxPosition(path: string, err: SyntaxError): Position | null {
  const fromStack = new RegExp(`^${escape(path)}:(\\d+)\\n(.*)\\n( *)\\^`).exec(err.stack ?? '');
  if (fromStack !== null) return { line: Number(fromStack[1]), column: (fromStack[3] as string).length + 1 };
  const check = spawnSync(process.execPath, ['--check', path], { encoding: 'utf8', timeout: 10_000 });
  const fromCheck = new RegExp(`${escape(path)}:(\\d+)\\n(.*)\\n( *)\\^`).exec(check.stderr ?? '');
  return fromCheck === null ? null : { line: Number(fromCheck[1]), column: (fromCheck[3] as string).length + 1 };
}

/** Where in the config file an error thrown while it ran was raised: its first frame there. */
function thrownAt(path: string, err: Error): Position | null {
  const frame = new RegExp(`(?:${escape(pathToFileURL(path).href)}|${escape(path)}):(\\d+):(\\d+)`).exec(err.stack ?? '');
  return frame === null ? null : { line: Number(frame[1]), column: Number(frame[2]) };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
