/**
 * @module spawn-worker
 * Starts the store's writer thread from its compiled .js file, or from the .ts source when the
 * runtime itself runs from source under tsx.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const EXT = extname(fileURLToPath(import.meta.url));
const WORKER_URL = new URL(`./store-worker${EXT}`, import.meta.url);

export function spawnStoreWorker(workerData: unknown): Worker {
  if (EXT !== '.ts') return new Worker(WORKER_URL, { workerData });
  // Node 20 does not apply loader hooks registered by `--import tsx` inside workers (tsx issue
  // #354, node #47747), so the worker registers tsx itself before importing the .ts entry.
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(code, { eval: true, workerData });
}
