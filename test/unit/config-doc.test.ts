// docs/configuration.md is generated from the config schema: a key added to the schema, or a
// description changed, without regenerating the page fails here with the command that fixes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../../server/config/config-schema.js';
import { CONFIG_DOC_COMMAND, CONFIG_DOC_PATH, renderConfigDoc } from '../../scripts/config-doc.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('docs/configuration.md is what the config schema generates', async () => {
  const checkedIn = await readFile(join(ROOT, CONFIG_DOC_PATH), 'utf8');
  assert.ok(checkedIn === renderConfigDoc(), `${CONFIG_DOC_PATH} differs from the config schema: run \`${CONFIG_DOC_COMMAND}\` and commit the result`);
});

test('the page lists every key of the schema, an app\'s keys included', () => {
  const doc = renderConfigDoc();
  const top = Object.keys(configSchema.properties);
  const app = Object.keys(configSchema.properties.apps.items.properties);
  const store = Object.keys(configSchema.properties.store.anyOf[1].properties);
  for (const key of [...top, ...app, ...store.map((k) => `store.${k}`), 'store.retention.rawMaxAge', 'limits.maxBodyBytes', 'dashboard.token']) {
    assert.match(doc, new RegExp(`^\\| \`${key.replace(/\./g, '\\.')}\` \\|`, 'm'), `${key} is listed`);
  }
});
