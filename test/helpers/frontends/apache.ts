/**
 * Starts a real Apache httpd (Debian's apache2 binary) for a test: the given snippet (normally
 * a block from docs/frontends.md, what a user puts in a VirtualHost) after a base config whose
 * pid file, logs and runtime dir live in a fresh temp dir, on 127.0.0.1:<free port>.
 */
import { join } from 'node:path';
import { fillPlaceholders } from './doc-configs.js';
import { startFrontend, type FrontendHandle, type FrontendOptions } from './process.js';

export const APACHE_BINARY = '/usr/sbin/apache2';
export const APACHE_MODULES_DIR = '/usr/lib/apache2/modules';

/**
 * Loaded by every harness config. Debian's apache2 has only core, so, watchdog, http_core,
 * log_config, logio, version and unixd compiled in (`apache2 -l`); the rest are .so files.
 */
const MODULES = [
  ['mpm_event_module', 'mod_mpm_event.so'],
  ['authz_core_module', 'mod_authz_core.so'],
  ['env_module', 'mod_env.so'],
  ['headers_module', 'mod_headers.so'],
  ['setenvif_module', 'mod_setenvif.so'],
  ['proxy_module', 'mod_proxy.so'],
  ['proxy_scgi_module', 'mod_proxy_scgi.so'],
  // The docs' `http` blocks (protocol: 'http' apps): `a2enmod proxy_http headers`.
  ['proxy_http_module', 'mod_proxy_http.so'],
] as const;

export function startApache(options: FrontendOptions): Promise<FrontendHandle> {
  return startFrontend('apache', (port, dir) => ({
    command: APACHE_BINARY,
    // -DFOREGROUND: the master stays attached (root), workers fork as User/Group; SIGTERM stops
    // them all. -X would serve from one process, which hides per-worker behaviour.
    args: ['-DFOREGROUND', '-d', dir, '-f', join(dir, 'apache2.conf')],
    configFile: 'apache2.conf',
    errorLogFile: 'error.log',
    config: baseConfig(dir, port) + fillPlaceholders(options.config, options.values ?? {}),
  }));
}

function baseConfig(dir: string, port: number): string {
  const loads = MODULES.map(([name, file]) => `LoadModule ${name} ${join(APACHE_MODULES_DIR, file)}`).join('\n');
  return `# Written by test/helpers/frontends/apache.ts; everything Apache writes stays in ${dir}.
ServerRoot "${dir}"
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
PidFile "${join(dir, 'apache2.pid')}"
DefaultRuntimeDir "${dir}"
ErrorLog "${join(dir, 'error.log')}"
LogLevel info
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog "${join(dir, 'access.log')}" common
${loads}
# Apache refuses to serve as root ("Apache has not been designed to serve pages while running
# as root"), so workers run as nobody: a Unix socket backend must be mode 0666 and every
# directory above it searchable by nobody (makeTempDir makes its dirs 0755).
User nobody
Group nogroup

`;
}
