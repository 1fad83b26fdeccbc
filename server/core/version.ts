/**
 * @module version
 * The package version, read once from package.json so the stats port, the CLI and the dashboard
 * agree with what npm installed.
 */
import { readFileSync } from 'node:fs';

function findVersion(): string {
  // Works from the sources (server/core/) and from the build (dist/server/core/).
  for (const relative of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'dragon-on-wheels' && pkg.version) return pkg.version;
    } catch {
      // try the next location
    }
  }
  return '0.0.0';
}

export const VERSION = findVersion();
