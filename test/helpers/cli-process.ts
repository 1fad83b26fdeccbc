/**
 * @module cli-process
 * Runs `dragon-on-wheels serve <config>` (or any command around it: setpriv, systemd-socket-activate)
 * as a real child process (through tsx, as the tests run),
 * so that signals, exit codes and worker processes are exercised as a user meets them.
 */
import type { TestContext } from 'node:test';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitUntil } from './wait.js';

export const CLI = fileURLToPath(new URL('../../bin/dragon-on-wheels.ts', import.meta.url));
// Absolute, so that child processes started in other folders still find the loader.
export const TSX = import.meta.resolve('tsx');

export interface ServeProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  exited: Promise<number | null>;
  /** Resolves when a line matches, or throws with the output after `timeoutMs` (60 s: the CLI starts under tsx). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** `ownGroup`: the server leads a process group of its own, so a test can signal the whole group. */
export async function serveConfig(t: TestContext, dir: string, config: Record<string, unknown>, name = 'dragon.config.json', ownGroup = false): Promise<ServeProcess> {
  const file = join(dir, name);
  await writeFile(file, JSON.stringify(config));
  return runProcess(t, process.execPath, cliArgs(file), { detached: ownGroup });
}

/** The CLI's `serve <config>` through tsx. */
export function cliArgs(configFile: string): string[] {
  return ['--import', TSX, CLI, 'serve', configFile];
}

/** Runs `command args…` (the CLI, or systemd-socket-activate around it), killed at the test's end. */
export function runProcess(t: TestContext, command: string, args: string[], options: SpawnOptions = {}): ServeProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(() => {
    // A detached child leads its own process group: end the whole group (the CLI's workers, a
    // restart loop's shells).
    try {
      if (options.detached && child.pid) process.kill(-child.pid, 'SIGKILL');
      else child.kill('SIGKILL');
    } catch {
      // already gone
    }
  });
  return {
    child,
    output: () => output,
    exited,
    async waitFor(pattern, timeoutMs = 60_000) {
      let exitedWithout = false;
      await waitUntil(`a line matching ${pattern}`, () => {
        if (pattern.test(output)) return true;
        // Nothing more will come: fail now rather than at the deadline.
        exitedWithout = child.exitCode !== null;
        return exitedWithout;
      }, { timeoutMs }).catch((err: Error) => {
        throw new Error(`${err.message} in:\n${output}`);
      });
      if (exitedWithout && !pattern.test(output)) throw new Error(`exited (${child.exitCode}) without a line matching ${pattern}:\n${output}`);
    },
  };
}
