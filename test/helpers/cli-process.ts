/**
 * @module cli-process
 * Runs `dragon-on-wheels serve <config>` as a real child process (through tsx, as the tests run),
 * so that signals, exit codes and worker processes are exercised as a user meets them.
 */
import type { TestContext } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './runtime.js';

const CLI = fileURLToPath(new URL('../../bin/dragon-on-wheels.ts', import.meta.url));
// Absolute, so that child processes started in other folders still find the loader.
const TSX = import.meta.resolve('tsx');

export interface ServeProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  exited: Promise<number | null>;
  /** Resolves when a line matches, or throws with the output after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** `ownGroup`: the server leads a process group of its own, so a test can signal the whole group. */
export async function serveConfig(t: TestContext, dir: string, config: Record<string, unknown>, name = 'dragon.config.json', ownGroup = false): Promise<ServeProcess> {
  const file = join(dir, name);
  await writeFile(file, JSON.stringify(config));
  const child = spawn(process.execPath, ['--import', TSX, CLI, 'serve', file], { stdio: ['ignore', 'pipe', 'pipe'], detached: ownGroup });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(() => child.kill('SIGKILL'));
  const handle: ServeProcess = {
    child,
    output: () => output,
    exited,
    async waitFor(pattern, timeoutMs = 20_000) {
      const deadline = performance.now() + timeoutMs;
      while (!pattern.test(output)) {
        if (performance.now() > deadline) throw new Error(`no line matching ${pattern} in:\n${output}`);
        await sleep(25);
      }
    },
  };
  return handle;
}
