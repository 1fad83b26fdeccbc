/**
 * Turns test/artifacts/matrix-results.json (written by test/e2e/matrix.test.ts) into the
 * results tables of docs/frontends.md and docs/frameworks.md, between the
 * `<!-- matrix:start -->` and `<!-- matrix:end -->` markers, as pino's update-bench-doc does.
 *
 *   node --import tsx --test test/e2e/matrix.test.ts && node --import tsx scripts/matrix-table.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const RESULTS_PATH = `${ROOT}test/artifacts/matrix-results.json`;
const DOCS = [`${ROOT}docs/frontends.md`, `${ROOT}docs/frameworks.md`];
const START = '<!-- matrix:start -->';
const END = '<!-- matrix:end -->';

export interface CellResult {
  result: 'pass' | 'fail' | 'todo';
  error?: string;
  note?: string;
}

export interface MatrixResults {
  generatedAt: string;
  durationMs: number;
  versions: Record<string, string>;
  /** `protocol` is absent in files written before HTTP listeners existed (all SCGI then). */
  variants: Array<{ id: string; frontend: string; transport: string; protocol?: string }>;
  apps: string[];
  checks: string[];
  results: Record<string, Record<string, Record<string, CellResult>>>;
}

const FRONTEND_LABEL: Record<string, string> = { nginx: 'nginx', lighttpd: 'lighttpd', apache: 'Apache' };
const APP_LABEL: Record<string, string> = { express: 'Express', koa: 'Koa', fastify: 'Fastify', hono: 'Hono (fetch)', node: 'node:http' };
const CHECK_LABEL: Record<string, string> = {
  mount: 'routing under `/app/`',
  root: 'routing at the root',
  query: 'non-ASCII query',
  json: 'JSON POST',
  upload: '5 MB upload, SHA-256 back',
  download: '50 MiB download',
  cookies: 'two Set-Cookie',
  head: 'HEAD',
  'no-content': '204',
  'not-modified': '304',
  redirect: 'redirect (302)',
  'client-ip': 'client IP (`REMOTE_ADDR` / trusted `X-Forwarded-For`), forged header ignored',
  https: 'HTTPS detection (`HTTPS` / trusted `X-Forwarded-Proto`), forged header ignored',
  sse: 'SSE, first event early',
  disconnect: 'client disconnect → aborted',
  error: 'app error → 500',
};

const PROTOCOL_LABEL: Record<string, string> = { scgi: 'SCGI', http: 'HTTP' };
const transportLabel = (transport: string): string => (transport === 'unix' ? 'unix' : 'TCP');
const protocolLabel = (protocol: string | undefined): string => PROTOCOL_LABEL[protocol ?? 'scgi'] ?? String(protocol);
const variantLabel = (v: { frontend: string; transport: string; protocol?: string }): string =>
  `${FRONTEND_LABEL[v.frontend] ?? v.frontend} ${transportLabel(v.transport)} ${protocolLabel(v.protocol)}`;

/** Pure: the markdown between the markers. */
export function renderTables(data: MatrixResults): string {
  const notes: string[] = [];
  const noteMark = (text: string): string => {
    let index = notes.indexOf(text);
    if (index === -1) index = notes.push(text) - 1;
    return `[^m${index + 1}]`;
  };
  const cell = (variant: string, app: string, check: string): CellResult | undefined => data.results[variant]?.[app]?.[check];

  // Table 1: check × app, each cell over all front-end variants.
  let out = `| check | ${data.apps.map((app) => APP_LABEL[app] ?? app).join(' | ')} |\n`;
  out += `|---|${data.apps.map(() => '---').join('|')}|\n`;
  for (const check of data.checks) {
    const cells = data.apps.map((app) => {
      const bad = data.variants.filter((v) => cell(v.id, app, check)?.result !== 'pass');
      if (bad.length === 0) return '✅';
      const first = cell(bad[0]?.id ?? '', app, check);
      const why = first?.note ?? first?.error ?? 'not run';
      const where = bad.length === data.variants.length ? 'all' : bad.map(variantLabel).join(', ');
      return `❌ ${where} ${noteMark(why)}`;
    });
    out += `| ${CHECK_LABEL[check] ?? check} | ${cells.join(' | ')} |\n`;
  }

  // Table 2: check × protocol, each cell over every front end, transport and app of it.
  const protocols = [...new Set(data.variants.map((v) => v.protocol ?? 'scgi'))];
  out += `\n| check | ${protocols.map(protocolLabel).join(' | ')} |\n`;
  out += `|---|${protocols.map(() => '---').join('|')}|\n`;
  for (const check of data.checks) {
    const cells = protocols.map((protocol) => {
      const ran = data.variants.filter((v) => (v.protocol ?? 'scgi') === protocol).flatMap((v) => data.apps.map((app) => cell(v.id, app, check)));
      const passed = ran.filter((result) => result?.result === 'pass').length;
      return `${passed === ran.length ? '✅' : '❌'} ${passed}/${ran.length}`;
    });
    out += `| ${CHECK_LABEL[check] ?? check} | ${cells.join(' | ')} |\n`;
  }

  // Table 3: front-end variant (front end, transport, protocol) × app, checks passed.
  out += `\n| front end | transport | protocol | ${data.apps.map((app) => APP_LABEL[app] ?? app).join(' | ')} |\n`;
  out += `|---|---|---|${data.apps.map(() => '---').join('|')}|\n`;
  for (const variant of data.variants) {
    const cells = data.apps.map((app) => {
      const passed = data.checks.filter((check) => cell(variant.id, app, check)?.result === 'pass').length;
      return `${passed === data.checks.length ? '✅' : '❌'} ${passed}/${data.checks.length}`;
    });
    const { frontend, transport, protocol } = variant;
    out += `| ${FRONTEND_LABEL[frontend] ?? frontend} | ${transportLabel(transport)} | ${protocolLabel(protocol)} | ${cells.join(' | ')} |\n`;
  }

  const v = data.versions;
  out += `\nGenerated by \`scripts/matrix-table.ts\` from the run of ${data.generatedAt.slice(0, 10)} ` +
    `(${Math.round(data.durationMs / 1000)} s): Node ${v.node}, nginx ${v.nginx}, lighttpd ${v.lighttpd}, ` +
    `Apache ${v.apache}, Express ${v.express}, Koa ${v.koa}, Fastify ${v.fastify}, Hono ${v.hono}.\n`;
  if (notes.length > 0) out += `\n${notes.map((text, i) => `[^m${i + 1}]: ${text}`).join('\n')}\n`;
  return out;
}

/** Pure: `doc` with the text between the markers replaced. */
export function replaceBetweenMarkers(doc: string, body: string, name = 'document'): string {
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start === -1 || end === -1 || end < start) throw new Error(`${name}: no ${START} … ${END} markers`);
  return `${doc.slice(0, start + START.length)}\n${body}${doc.slice(end)}`;
}

function main(): void {
  const data = JSON.parse(readFileSync(RESULTS_PATH, 'utf8')) as MatrixResults;
  const body = renderTables(data);
  for (const path of DOCS) {
    writeFileSync(path, replaceBetweenMarkers(readFileSync(path, 'utf8'), body, path));
    console.log(`updated ${path}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
