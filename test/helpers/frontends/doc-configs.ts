/**
 * Reads the copy-paste configs out of docs/frontends.md, so the configs the tests run are the
 * text users copy and the documentation cannot go stale. A config is a fenced block whose info
 * string is `<frontend> title=<name>`; `{{name}}` placeholders are filled per test.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FRONTENDS_DOC_PATH = fileURLToPath(new URL('../../../docs/frontends.md', import.meta.url));

const FENCE = /^```([a-z]+) title=([\w-]+)[^\n]*\n([\s\S]*?)^```\s*$/gm;
const PLACEHOLDER = /\{\{(\w+)\}\}/g;

/** Every titled config block in the doc, keyed `<frontend>/<title>`. */
export function readDocConfigs(docPath = FRONTENDS_DOC_PATH): Map<string, string> {
  const text = readFileSync(docPath, 'utf8');
  const configs = new Map<string, string>();
  for (const match of text.matchAll(FENCE)) {
    const key = `${match[1]}/${match[2]}`;
    if (configs.has(key)) throw new Error(`${docPath}: two config blocks titled ${key}`);
    configs.set(key, match[3] ?? '');
  }
  return configs;
}

/** One config block from docs/frontends.md, placeholders left in (the harness fills them). */
export function docTemplate(frontend: string, title: string): string {
  const block = readDocConfigs().get(`${frontend}/${title}`);
  if (block === undefined) throw new Error(`docs/frontends.md has no \`\`\`${frontend} title=${title} block`);
  return block;
}

/**
 * Replaces `{{name}}`. A placeholder without a value is an error, and so is a value the
 * template never uses (a typo), unless its name is listed in `optional`.
 */
export function fillPlaceholders(
  template: string,
  values: Record<string, string | number>,
  optional: readonly string[] = [],
): string {
  const used = new Set<string>();
  const filled = template.replace(PLACEHOLDER, (_whole, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for placeholder {{${name}}}`);
    used.add(name);
    return String(value);
  });
  const unused = Object.keys(values).filter((name) => !used.has(name) && !optional.includes(name));
  if (unused.length > 0) throw new Error(`values never used by the config: ${unused.join(', ')}`);
  return filled;
}
