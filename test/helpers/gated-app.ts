/**
 * @module gated-app
 * Apps held at a gate the test opens, so that "while a reload runs" or "while the app is busy" is
 * a state a test holds rather than a timing it hopes for: modules whose load waits for a gate
 * file (with a log of which code each worker started loading), and a listener that holds requests.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';

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

/** A request listener that holds each request until release(), counting what runs at once. */
export function holdingApp() {
  const held: Array<() => void> = [];
  let running = 0;
  let maxRunning = 0;
  return {
    /** Answers `done <url>` once released. */
    node(req: IncomingMessage, res: ServerResponse) {
      running++;
      maxRunning = Math.max(maxRunning, running);
      held.push(() => {
        running--;
        res.end(`done ${req.url}`);
      });
    },
    /** Answers every request held now. */
    release() {
      for (const release of held.splice(0)) release();
    },
    get held() {
      return held.length;
    },
    get maxRunning() {
      return maxRunning;
    },
  };
}
