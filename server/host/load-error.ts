/**
 * @module load-error
 * Where an app module failed to load, as Node would show it for an uncaught error: the file, the
 * line and a caret for a syntax error, the app's own stack frames for an error thrown at import.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Files checked for the syntax error at most: the module and what it imports, breadth first. */
const MAX_FILES_CHECKED = 25;
const STACK_FRAMES_SHOWN = 6;

export function describeLoadError(err: unknown, file: string): string {
  if (!(err instanceof Error)) return String(err);
  const head = `${err.name === 'Error' || err.message.startsWith(err.name) ? '' : `${err.name}: `}${err.message}`;
  // esbuild (tsx) names the file and line in its message already.
  if (err.name === 'SyntaxError' && !/:\d+:\d+/.test(err.message)) {
    const where = locateSyntaxError(file);
    if (where !== null) return `${head}\n${where}`;
  }
  const frames = (err.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line) && !/\(?node:internal|node_modules\/(tsx|esbuild)\//.test(line));
  return frames.length === 0 ? head : `${head}\n${frames.slice(0, STACK_FRAMES_SHOWN).join('\n')}`;
}

/**
 * Node gives an ESM SyntaxError no location but on its own uncaught-error printout, so each file
 * of the import graph is checked with `node --check` (parses, runs nothing) until one fails; the
 * graph is walked through relative static imports only, which is where an app's own code lies.
 */
function locateSyntaxError(entry: string): string | null {
  const queue = [entry];
  const seen = new Set<string>();
  while (queue.length > 0 && seen.size < MAX_FILES_CHECKED) {
    const file = queue.shift() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const check = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 10_000 });
    if (check.status !== 0 && check.stderr) return check.stderr.split('\n\nSyntaxError')[0]?.trim() ?? null;
    queue.push(...relativeImports(file));
  }
  return null;
}

function relativeImports(file: string): string[] {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const match of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
    found.push(resolve(dirname(file), match[1] as string));
  }
  return found;
}
