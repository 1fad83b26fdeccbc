/**
 * @module by-name
 * The three front ends by name, for tests that run the same check behind each of them.
 */
import { startApache } from './apache.js';
import { startLighttpd } from './lighttpd.js';
import { startNginx } from './nginx.js';
import type { FrontendHandle, FrontendOptions } from './process.js';

export type FrontendName = 'nginx' | 'lighttpd' | 'apache';

export const START_FRONTEND: Record<FrontendName, (options: FrontendOptions) => Promise<FrontendHandle>> = {
  nginx: startNginx,
  lighttpd: startLighttpd,
  apache: startApache,
};
