/**
 * @module gen-config-doc
 * `npm run docs:config`: writes docs/configuration.md from the config schema (scripts/config-doc.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_DOC_PATH, renderConfigDoc } from './config-doc.js';

const root = fileURLToPath(new URL('..', import.meta.url));
writeFileSync(join(root, CONFIG_DOC_PATH), renderConfigDoc());
console.log(`written to ${CONFIG_DOC_PATH}`);
