/**
 * @module temp-dir
 * A temporary folder per test, removed when the test ends. World-readable (0755) because mkdtemp
 * makes 0700 folders and Apache's workers and the tests that run the server as nobody must reach
 * sockets and files inside.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `dow-${prefix}-`));
  await chmod(dir, 0o755);
  return dir;
}

/** Removes a folder made by makeTempDir; never fails (cleanup must not mask a test's error). */
export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}

/** A folder for this test, removed in its `after`. */
export async function testDir(t: { after(fn: () => unknown): void }, prefix: string): Promise<string> {
  const dir = await makeTempDir(prefix);
  t.after(() => removeTempDir(dir));
  return dir;
}

/**
 * The same, for code that cannot wait: a folder made at module load (a build output the tests
 * share) or in a helper many synchronous tests call.
 */
export function makeTempDirSync(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `dow-${prefix}-`));
  chmodSync(dir, 0o755);
  return dir;
}

export function removeTempDirSync(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A folder for this test, made at once and removed in its `after`. */
export function testDirSync(t: { after(fn: () => unknown): void }, prefix: string): string {
  const dir = makeTempDirSync(prefix);
  t.after(() => removeTempDirSync(dir));
  return dir;
}
