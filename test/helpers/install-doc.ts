/**
 * @module install-doc
 * The README's install commands, as the packed-package tests run them: the block that approves
 * `$TARBALL` in allowScripts, with a real tarball's path or URL put in for the example.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** npm's settings for the tests' installs: the strict script check on (npm 11.16+), quiet, cache first. */
export const STRICT_NPM_ENV = {
  npm_config_strict_allow_scripts: 'true',
  npm_config_prefer_offline: 'true',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
};

function installBlock(markdown: string): string | undefined {
  return [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string).find((b) => b.includes('allowScripts[$TARBALL]'));
}

/** The README's block with `tarball` (an absolute path or a URL) in place of its example; docs/install.md must show the same block. */
export async function installCommands(tarball: string): Promise<string> {
  const readme = installBlock(await readFile(join(ROOT, 'README.md'), 'utf8'));
  assert.ok(readme, 'the README has an install block that approves $TARBALL in allowScripts');
  assert.equal(installBlock(await readFile(join(ROOT, 'docs/install.md'), 'utf8')), readme, 'docs/install.md shows the README\'s install block');
  assert.match(readme, /^TARBALL=\S+/m, 'the block sets TARBALL on a line of its own');
  return readme.replace(/^TARBALL=\S+/m, `TARBALL='${tarball}'`);
}
