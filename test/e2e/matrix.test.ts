/**
 * The compatibility matrix: {nginx, lighttpd, Apache} × {TCP, Unix socket} ×
 * {SCGI, HTTP} in front of {Express 5, Koa 3, Fastify 5, Hono 4, node:http}, every cell checked
 * through a real front end started from the docs/frontends.md `site*` blocks (SCGI) or
 * `http-site*` blocks (`protocol: 'http'` apps, proxied with keep-alive). Writes test/artifacts/matrix-results.json,
 * which scripts/matrix-table.ts turns into the tables in docs/frontends.md and docs/frameworks.md.
 *
 * One Server and one front end per variant; each app gets its own virtual host, with `/app/` on a
 * listener mounted at /app and `/` on a second, root-mounted listener of the same app:
 *
 *   client ──Host: express.test──▶ nginx ─/app/…─▶ listener nginx_tcp_express       (mount /app)
 *     (from 127.0.0.2)                   └─ /… ──▶ listener nginx_tcp_express_root  (mount '')
 *          ──Host: https.express.test──▶ /app/… (HTTPS=on) ──▶ nginx_tcp_express
 */
import { after, describe, it, type TestContext } from 'node:test';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withFrontendLogs } from '../helpers/frontends/process.js';
import { MATRIX_APP_NAMES, expectedDownloadSha256 } from '../helpers/matrix-apps.js';
import { CHECKS, MATRIX_CHECKS, uploadBody, type Cell, type Check } from '../helpers/matrix-checks.js';
import { VARIANTS, frontendConfig, startBackend, startFrontend } from '../helpers/matrix-variants.js';
import { testDir } from '../helpers/temp-dir.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS_PATH = join(ROOT, 'test/artifacts/matrix-results.json');

type CellResult = { result: 'pass' } | { result: 'fail' | 'todo'; error: string; note?: string };

/**
 * Cells that fail because of a server bug, not a front end: reported as todo (the suite stays
 * green, the table shows them) until server/ is fixed. Keyed `<app>/<check>`.
 */
/** Cells that fail because of a known server bug, marked todo until fixed; empty when none. */
const SERVER_BUGS: Record<string, string> = {};
const results: Record<string, Record<string, Partial<Record<Check, CellResult>>>> = {};
const startedAt = Date.now();

async function runCheck(t: TestContext, cell: Cell, check: Check): Promise<void> {
  const row = ((results[cell.variant.id] ??= {})[cell.app] ??= {});
  const bug = SERVER_BUGS[`${cell.app}/${check}`];
  await t.test(check, bug === undefined ? {} : { todo: bug }, async () => {
    try {
      await CHECKS[check](cell);
      row[check] = { result: 'pass' };
    } catch (error) {
      const message = error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error);
      row[check] = bug === undefined ? { result: 'fail', error: message } : { result: 'todo', error: message, note: bug };
      throw error;
    }
  });
}

// ── the run ──────────────────────────────────────────────────────────────────────────────────

const upload = uploadBody();
const uploadSha256 = createHash('sha256').update(upload).digest('hex');
const downloadSha256 = expectedDownloadSha256();

describe('compatibility matrix', { concurrency: true }, () => {
  after(() => writeResults());

  for (const variant of VARIANTS) {
    it(`${variant.frontend} over ${variant.transport}${variant.protocol === 'http' ? ', HTTP' : ''}`, { concurrency: true }, async (t) => {
      const socketDir = await testDir(t, 'matrix');
      const { server, addresses } = await startBackend(variant, socketDir);
      t.after(() => server.close(500));
      const frontend = await startFrontend(variant, frontendConfig(variant, addresses));
      t.after(() => frontend.stop());
      await withFrontendLogs([frontend], async () => {
        await Promise.all(
          MATRIX_APP_NAMES.map((app) =>
            t.test(app, async (t) => {
              const cell: Cell = { variant, app, base: frontend.url, server, upload, uploadSha256, downloadSha256 };
              for (const check of MATRIX_CHECKS) await runCheck(t, cell, check);
            }),
          ),
        );
      });
    });
  }
});

// ── results for scripts/matrix-table.ts ──────────────────────────────────────────────────────

/** nginx and lighttpd print their version on stderr, Apache on stdout. */
function versionOf(command: string, args: string[], pattern: RegExp): string {
  const out = spawnSync(command, args, { encoding: 'utf8' });
  return pattern.exec(`${out.stdout ?? ''}${out.stderr ?? ''}`)?.[1] ?? 'unknown';
}

async function packageVersion(name: string): Promise<string> {
  const text = await readFile(join(ROOT, 'node_modules', name, 'package.json'), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

async function writeResults(): Promise<void> {
  const document = {
    generatedAt: new Date().toISOString(),
    durationMs: Date.now() - startedAt,
    versions: {
      node: process.versions.node,
      nginx: versionOf('/usr/sbin/nginx', ['-v'], /nginx\/([\d.]+)/),
      lighttpd: versionOf('/usr/sbin/lighttpd', ['-v'], /lighttpd\/([\d.]+)/),
      apache: versionOf('/usr/sbin/apache2', ['-v'], /Apache\/([\d.]+)/),
      express: await packageVersion('express'),
      koa: await packageVersion('koa'),
      fastify: await packageVersion('fastify'),
      hono: await packageVersion('hono'),
    },
    variants: VARIANTS.map(({ id, frontend, transport, protocol }) => ({ id, frontend, transport, protocol })),
    apps: [...MATRIX_APP_NAMES],
    checks: [...MATRIX_CHECKS],
    results,
  };
  await mkdir(join(ROOT, 'test/artifacts'), { recursive: true });
  await writeFile(RESULTS_PATH, `${JSON.stringify(document, null, 2)}\n`);
}
