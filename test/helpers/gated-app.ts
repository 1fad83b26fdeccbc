/**
 * @module gated-app
 * App modules whose load waits at a gate file the test creates, so that "while a reload runs"
 * is a state a test holds rather than a timing it hopes for, and a log of which code each worker
 * process started loading.
 */
import { readFile } from 'node:fs/promises';

/**
 * Module source that appends `load <tag> <pid>` to `log` as it starts loading, finishes loading
 * only once the file `gate` exists, and answers every request with `tag`.
 */
export function gatedModule(tag: string, log: string, gate: string): string {
  return [
    "import { appendFileSync, existsSync } from 'node:fs';",
    `appendFileSync(${JSON.stringify(log)}, \`load ${tag} \${process.pid}\\n\`);`,
    `while (!existsSync(${JSON.stringify(gate)})) await new Promise((resolve) => setTimeout(resolve, 20));`,
    `export default (req, res) => res.end(${JSON.stringify(tag)});`,
    '',
  ].join('\n');
}

/** The `load` lines so far, as [tag, pid]. */
export async function gatedLoads(log: string): Promise<Array<[string, number]>> {
  const text = await readFile(log, 'utf8').catch(() => '');
  return text.trim().split('\n').filter(Boolean).map((line) => {
    const [, tag, pid] = line.split(' ');
    return [tag as string, Number(pid)];
  });
}
