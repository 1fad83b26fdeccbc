/**
 * The layering rules, checked on the import statements themselves: server/ and dashboard/ never
 * import each other, shared/ imports neither, and only bin/ wires them together; inside server/,
 * files live in stage folders, the protocol core stays pure, the store stays below the sockets,
 * and no two modules import each other, even for types only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|js|mjs)$/.test(entry.name) && !entry.parentPath.includes('public'))
    .map((entry) => join(entry.parentPath, entry.name));
}

interface Import {
  /** The imported path relative to the root, as written (x.js for x.ts). */
  target: string;
  /** A lazy `await import()`: loaded on demand, so it closes no circle at load time. */
  lazy: boolean;
}

/** A file's relative imports: import/export … from, side-effect imports, import() (also as types). */
function imports(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const found: Import[] = [];
  const pattern = /(?:import|export)[^'";]*?from\s+['"](\.[^'"]+)['"]|import\s+['"](\.[^'"]+)['"]|(await\s+)?import\(\s*['"](\.[^'"]+)['"]\s*\)/g;
  for (const match of text.matchAll(pattern)) {
    const written = (match[1] ?? match[2] ?? match[4]) as string;
    found.push({ target: relative(ROOT, resolve(dirname(file), written)), lazy: match[3] !== undefined });
  }
  return found;
}

/** Top-level folders a file's relative imports reach into. */
function importedFolders(file: string): Set<string> {
  return new Set(imports(file).map(({ target }) => target.split('/')[0] as string));
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

test('server/ holds only index.ts at its top; every other file is in a stage folder', () => {
  const top = readdirSync(join(ROOT, 'server'), { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name);
  assert.deepEqual(top, ['index.ts'], 'files at server/ top other than index.ts: move them into the folder of their stage');
});

/** server/<folder>/ imports only from the given folders (paths relative to the root). */
const serverRules: Array<{ folder: string; may?: string[]; mayNot?: string[]; why: string }> = [
  { folder: 'server/protocol', may: ['server/protocol', 'shared'], why: 'the pure, fuzzable core' },
  { folder: 'server/store', mayNot: ['server/listen', 'server/scgi', 'server/http', 'server/adapters'], why: 'the store knows no sockets or apps' },
];

for (const { folder, may, mayNot, why } of serverRules) {
  const said = may ? `only from ${may.map((f) => `${f}/`).join(', ')}` : `nothing from ${mayNot?.map((f) => `${f}/`).join(', ')}`;
  test(`${folder}/ imports ${said} (${why})`, () => {
    const files = sourceFiles(folder);
    assert.ok(files.length > 0);
    const inside = (target: string, dir: string): boolean => target === dir || target.startsWith(`${dir}/`);
    const wrong: string[] = [];
    for (const file of files) {
      for (const { target } of imports(file)) {
        const allowed = may ? may.some((dir) => inside(target, dir)) : !mayNot?.some((dir) => inside(target, dir));
        if (!allowed) wrong.push(`${relative(ROOT, file)} imports ${target}`);
      }
    }
    assert.deepEqual(wrong, []);
  });
}

/** The source file an import names: x.js is x.ts when only the latter exists. */
function sourceOf(target: string): string {
  if (existsSync(join(ROOT, target))) return target;
  const ts = target.replace(/\.js$/, '.ts').replace(/\.mjs$/, '.mts');
  return existsSync(join(ROOT, ts)) ? ts : target;
}

/** Every import circle among the files under `folders`, each as `a -> b -> a`. */
function importCircles(folders: string[]): string[] {
  const graph = new Map<string, string[]>();
  for (const folder of folders) {
    for (const file of sourceFiles(folder)) {
      const from = relative(ROOT, file);
      graph.set(from, imports(file).filter(({ lazy }) => !lazy).map(({ target }) => sourceOf(target)));
    }
  }
  // Tarjan's strongly connected components; a component of more than one file holds a circle.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) as number, low.get(next) as number));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) as number, index.get(next) as number));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (graph.get(node) ?? []).includes(node)) components.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);

  // Name each component by its shortest circle through its first file, plus the other files in it.
  return components.map((component) => {
    const start = component[0] as string;
    const members = new Set(component);
    const previous = new Map<string, string>();
    const queue = [start];
    let last: string | undefined;
    while (queue.length > 0 && last === undefined) {
      const node = queue.shift() as string;
      for (const next of graph.get(node) ?? []) {
        if (!members.has(next)) continue;
        if (next === start) {
          last = node;
          break;
        }
        if (!previous.has(next)) {
          previous.set(next, node);
          queue.push(next);
        }
      }
    }
    const path = [start];
    for (let node = last; node !== undefined && node !== start; node = previous.get(node)) path.splice(1, 0, node);
    const circle = [...path, start].join(' -> ');
    const others = component.filter((file) => !path.includes(file));
    return others.length > 0 ? `${circle} (and in the same knot: ${others.join(', ')})` : circle;
  });
}

test('no import circles inside server/, type-only imports included', () => {
  assert.deepEqual(importCircles(['server']), [], 'import circles: cut each by moving the shared type or value into a file both can import');
});

test('no import circles among bin/, dashboard/, shared/ and scripts/, type-only imports included', () => {
  assert.deepEqual(importCircles(['bin', 'dashboard', 'shared', 'scripts']), [], 'import circles: cut each by moving the shared type or value into a file both can import');
});
