/**
 * Starts a real lighttpd for a test: the given snippet (normally a block from
 * docs/frontends.md, the part a user drops into /etc/lighttpd/conf-enabled/) appended to a base
 * config whose pid file, logs and upload dir live in a fresh temp dir, on 127.0.0.1:<free port>.
 */
import { join } from 'node:path';
import { fillPlaceholders } from './doc-configs.js';
import { startFrontend, type FrontendHandle, type FrontendOptions } from './process.js';

export const LIGHTTPD_BINARY = '/usr/sbin/lighttpd';

export function startLighttpd(options: FrontendOptions): Promise<FrontendHandle> {
  return startFrontend('lighttpd', (port, dir) => ({
    command: LIGHTTPD_BINARY,
    // -D: do not detach, so the harness owns the process; SIGTERM stops it.
    args: ['-D', '-f', join(dir, 'lighttpd.conf')],
    configFile: 'lighttpd.conf',
    errorLogFile: 'error.log',
    config: baseConfig(dir, port) + fillPlaceholders(options.config, options.values ?? {}),
  }));
}

function baseConfig(dir: string, port: number): string {
  return `# Written by test/helpers/frontends/lighttpd.ts; everything lighttpd writes stays in ${dir}.
# No server.username: started as root, lighttpd 1.4.69 keeps running as root, so it can reach
# any Unix socket. (mod_scgi is built into Debian's binary, but still has to be listed in
# server.modules, which the docs' snippets do.)
server.document-root = "${dir}"
server.bind = "127.0.0.1"
server.port = ${port}
server.pid-file = "${join(dir, 'lighttpd.pid')}"
server.errorlog = "${join(dir, 'error.log')}"
server.upload-dirs = ( "${dir}" )

`;
}
