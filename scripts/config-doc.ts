/**
 * @module config-doc
 * docs/configuration.md as text, made from the config schema (server/config/config-schema.ts):
 * every key with its type and its `description`, so the reference cannot miss a key the server
 * accepts. scripts/gen-config-doc.ts writes it; test/unit/config-doc.test.ts checks the file.
 */
import { configSchema } from '../server/config/config-schema.js';

type Schema = {
  readonly type?: string;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly anyOf?: readonly Schema[];
  readonly items?: Schema;
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly description?: string;
};

export const CONFIG_DOC_PATH = 'docs/configuration.md';
export const CONFIG_DOC_COMMAND = 'npm run docs:config';

const INTRO = `# Configuration

<!-- Generated from server/config/config-schema.ts by scripts/gen-config-doc.ts: edit the schema's
descriptions and run \`${CONFIG_DOC_COMMAND}\`; test/unit/config-doc.test.ts fails when this file differs. -->

\`dragon-on-wheels serve <file>\` and \`dragon-on-wheels check <file>\` read a config file: an ES
module (\`.mjs\`, \`.js\`) whose default export is the config object, or a \`.json\` file. Every
key is checked: an unknown key (the nearest known one is suggested), a wrong type or a bad value
gets one message naming the field's full path, exit code 2, and nothing is left half-started.
Relative paths (\`module\`, \`unix:\` addresses, \`store.path\`, \`log.file\`) are resolved against
the config file's folder. Times are in milliseconds, sizes in bytes.

A config needs only \`apps\`, each with \`name\`, \`listen\` and \`module\`:

\`\`\`js
// dragon.config.mjs
export default {
  apps: [{ name: 'shop', listen: '127.0.0.1:9002', module: './app.mjs' }],
};
\`\`\`

\`dragon-on-wheels check <file>\` makes the same checks and loads every app the way its worker will
(a module that throws at import, a missing export, a file that is not there), without listening,
and prints one line per app. It exits 0 when \`serve\` would load every app, and 2 otherwise, with
\`serve\`'s \`DOW_ERR_CONFIG\` message for each app that fails (the others are still checked), so a
deploy can run \`npx dragon-on-wheels check dragon.config.mjs && npx dragon-on-wheels reload\`.
Since it binds nothing, it passes beside the running server; a port in use is found by \`serve\`
alone. \`dragon-on-wheels check ./app.mjs\` (or a folder with package.json) checks the one-app
config \`serve ./app.mjs\` would build, with the same flags (\`--listen\`, \`--protocol\`,
\`--workers\`, \`--threads\`, \`--name\`): a module that cannot be loaded exits 2 with the reason.
`;

/** The whole page. */
export function renderConfigDoc(): string {
  const schema = configSchema as Schema;
  const app = schema.properties?.apps?.items ?? {};
  return [
    INTRO,
    '## Top-level keys\n',
    table(rows(schema, '')),
    '## Keys of each app (`apps[]`)\n',
    table(rows(app, '')),
  ].join('\n');
}

type Row = { key: string; type: string; description: string };

/** One row per key, nested objects' keys after their parent as `parent.key`; `apps` stays one row. */
function rows(schema: Schema, prefix: string): Row[] {
  const out: Row[] = [];
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const key = `${prefix}${name}`;
    if (property.description === undefined) throw new Error(`config schema: ${key} has no description (docs/configuration.md lists every key)`);
    out.push({ key, type: typeOf(property), description: property.description });
    const nested = objectOf(property);
    if (nested && name !== 'apps') out.push(...rows(nested, `${key}.`));
  }
  return out;
}

/** The object form of a key that is an object, or `false | {…}`. */
function objectOf(schema: Schema): Schema | null {
  if (schema.type === 'object') return schema;
  return schema.anyOf?.find((branch) => branch.type === 'object') ?? null;
}

/** A schema in words: `integer 1–1024`, `"scgi" \| "http"`, `false \| object`. */
function typeOf(schema: Schema): string {
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(' \\| ');
  if (schema.enum) return schema.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ');
  if ('const' in schema) return `\`${JSON.stringify(schema.const)}\``;
  if (schema.type === 'array') return `array of ${schema.items ? typeOf(schema.items) : 'values'}`;
  if (schema.type === 'integer' || schema.type === 'number') {
    if (schema.minimum !== undefined && schema.maximum !== undefined) return `${schema.type} ${schema.minimum}–${schema.maximum}`;
    if (schema.minimum !== undefined) return `${schema.type} ≥ ${schema.minimum}`;
  }
  return schema.type ?? 'value';
}

function table(list: Row[]): string {
  // The descriptions name pages as docs/x.md (they also show in the schema's source): links here.
  const escape = (text: string): string => text.replace(/\|/g, '\\|').replace(/\bdocs\/([a-z-]+\.md)/g, '[$1]($1)');
  const lines = list.map((row) => `| \`${row.key}\` | ${row.type} | ${escape(row.description)} |`);
  return ['| key | type | what it does |', '|---|---|---|', ...lines, ''].join('\n');
}
