/**
 * Starts a real nginx for a test: the given http-context snippet (normally a block from
 * docs/frontends.md) wrapped in a main config whose pid file, logs and temp paths all live in
 * a fresh temp dir, listening on 127.0.0.1:<free port>, in the foreground.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fillPlaceholders } from './doc-configs.js';
import { startFrontend, type FrontendHandle, type FrontendOptions } from './process.js';

export const NGINX_BINARY = '/usr/sbin/nginx';
/** Debian's file; the docs' `include scgi_params;` finds a copy of it next to the config. */
export const NGINX_SCGI_PARAMS = '/etc/nginx/scgi_params';

export function startNginx(options: FrontendOptions): Promise<FrontendHandle> {
  return startFrontend('nginx', async (port, dir) => {
    const snippet = fillPlaceholders(options.config, { ...options.values, listen: `127.0.0.1:${port}` }, ['listen']);
    return {
      command: NGINX_BINARY,
      // -e: startup errors go to our log, not /var/log/nginx (nginx >= 1.19.5).
      // -g 'daemon off;': stay in the foreground so the harness owns the process.
      args: ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;'],
      configFile: 'nginx.conf',
      errorLogFile: 'error.log',
      config: wrapHttpSnippet(dir, snippet),
      files: { scgi_params: await readFile(NGINX_SCGI_PARAMS, 'utf8') },
    };
  });
}

function wrapHttpSnippet(dir: string, snippet: string): string {
  return `# Written by test/helpers/frontends/nginx.ts; everything nginx writes stays in ${dir}.
# Tests run as root: without "user root" workers run as nobody and cannot reach a Unix
# socket in a root-only directory. (nginx ignores the line with a warning when not root.)
user root;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} info;
events {
    worker_connections 1024;
}
http {
    access_log ${join(dir, 'access.log')};
    client_body_temp_path ${join(dir, 'client_body_temp')};
    proxy_temp_path ${join(dir, 'proxy_temp')};
    fastcgi_temp_path ${join(dir, 'fastcgi_temp')};
    uwsgi_temp_path ${join(dir, 'uwsgi_temp')};
    scgi_temp_path ${join(dir, 'scgi_temp')};

${snippet}
}
`;
}
