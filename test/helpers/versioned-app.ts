/**
 * @module versioned-app
 * The reload-under-load tests' app: a module that answers its version, rewritten before each
 * reload, and the one sequence those tests share (serve, change the code, reload, serve).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface VersionedApp {
  /** The module file, `<dir>/versioned.mjs`. */
  readonly path: string;
  /** The version the file holds now. */
  readonly version: string;
  /** Rewrites the file to answer `version`. */
  write(version: string): Promise<void>;
}

/**
 * Writes `<dir>/versioned.mjs` at version `first`. `source` is the module text for a version, or
 * a delay in ms for an app that answers just its version after that long.
 */
export async function versionedApp(dir: string, first: string, source: number | ((version: string) => string)): Promise<VersionedApp> {
  const text = typeof source === 'number'
    ? (v: string) => `export default (req, res) => setTimeout(() => res.end('${v}'), ${source});\n`
    : source;
  const path = join(dir, 'versioned.mjs');
  let version = first;
  await writeFile(path, text(first));
  return {
    path,
    get version() {
      return version;
    },
    async write(next) {
      await writeFile(path, text(next));
      version = next;
    },
  };
}

/**
 * Under a load the caller runs: waits until the current version has served (`served`), then for
 * each of `next` writes it, reloads (`reload`, given its index), and waits until it has served.
 * Each version thus serves under load before the next reload replaces it.
 */
export async function reloadThrough(
  app: VersionedApp,
  next: string[],
  { reload, served }: { reload: (index: number) => Promise<unknown>; served: (version: string) => Promise<unknown> },
): Promise<void> {
  await served(app.version);
  for (const [index, version] of next.entries()) {
    await app.write(version);
    await reload(index);
    await served(version);
  }
}
