/**
 * The house rule from STYLE.md: server/ and dashboard/ never import each other, and shared/
 * imports neither; only bin/ wires them together. Checked on the import statements themselves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|js|mjs)$/.test(entry.name) && !entry.parentPath.includes('public'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Top-level folders a file's relative imports reach into. */
function importedFolders(file: string): Set<string> {
  const folders = new Set<string>();
  const text = readFileSync(file, 'utf8');
  for (const match of text.matchAll(/(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
    const target = relative(ROOT, resolve(dirname(file), (match[1] ?? match[2]) as string));
    folders.add(target.split('/')[0] as string);
  }
  return folders;
}

const rules: Array<[string, string[]]> = [
  ['server', ['dashboard', 'bin']],
  ['dashboard', ['server', 'bin']],
  ['shared', ['server', 'dashboard', 'bin']],
];

for (const [folder, forbidden] of rules) {
  test(`${folder}/ imports nothing from ${forbidden.join(', ')}`, () => {
    const files = sourceFiles(folder);
    assert.ok(files.length > 0);
    for (const file of files) {
      for (const reached of importedFolders(file)) {
        assert.ok(!forbidden.includes(reached), `${relative(ROOT, file)} imports from ${reached}/`);
      }
    }
  });
}
