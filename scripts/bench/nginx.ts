/**
 * @module nginx
 * The benchmark's front end: one Debian nginx (worker_processes 1, access_log off) with one
 * loopback server block per target, from a temporary prefix dir that holds everything it writes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, waitReady, type Started } from './processes.js';

export const NGINX_BINARY = '/usr/sbin/nginx';

export type Front =
  | { kind: 'return' }
  | { kind: 'scgi'; upstream: string }
  | { kind: 'proxy-http10'; upstream: string }
  | { kind: 'proxy-keepalive'; upstream: string };

export interface NginxSite {
  name: string;
  port: number;
  front: Front;
}

// Debian's /etc/nginx/scgi_params (nginx 1.22), inlined so the run does not depend on /etc.
const SCGI_PARAMS = `
        scgi_param REQUEST_METHOD $request_method;
        scgi_param REQUEST_URI $request_uri;
        scgi_param QUERY_STRING $query_string;
        scgi_param CONTENT_TYPE $content_type;
        scgi_param DOCUMENT_URI $document_uri;
        scgi_param DOCUMENT_ROOT $document_root;
        scgi_param SCGI 1;
        scgi_param SERVER_PROTOCOL $server_protocol;
        scgi_param REQUEST_SCHEME $scheme;
        scgi_param HTTPS $https if_not_empty;
        scgi_param REMOTE_ADDR $remote_addr;
        scgi_param REMOTE_PORT $remote_port;
        scgi_param SERVER_PORT $server_port;
        scgi_param SERVER_NAME $server_name;
        scgi_param HTTP_HOST $host;`;

function upstreamName(site: NginxSite): string {
  return `up_${site.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

function location(site: NginxSite): string {
  const f = site.front;
  switch (f.kind) {
    case 'return':
      return 'default_type text/plain;\n        return 200 "Hello, world!\\n";';
    case 'scgi':
      return `${SCGI_PARAMS.trim()}\n        scgi_pass ${f.upstream};`;
    case 'proxy-http10':
      // nginx's defaults: HTTP/1.0 and "Connection: close", a new connection per request.
      return `proxy_pass http://${f.upstream};`;
    case 'proxy-keepalive':
      // The documented recipe for upstream keep-alive (ngx_http_upstream_module, "keepalive").
      return `proxy_pass http://${upstreamName(site)};\n        proxy_http_version 1.1;\n        proxy_set_header Connection "";`;
  }
}

export function buildNginxConfig(dir: string, sites: NginxSite[]): string {
  const upstreams = sites
    .filter((s) => s.front.kind === 'proxy-keepalive')
    .map((s) => `    upstream ${upstreamName(s)} {\n        server ${(s.front as { upstream: string }).upstream};\n        keepalive 64;\n    }\n`)
    .join('');
  const servers = sites
    .map((s) => `    server { # ${s.name}\n        listen 127.0.0.1:${s.port} backlog=4096;\n        location / {\n        ${location(s)}\n        }\n    }\n`)
    .join('');
  const root = process.getuid?.() === 0;
  return `# Written by scripts/bench/nginx.ts for one benchmark run; everything stays in ${dir}.
${root ? '# As root, workers would run as nobody and could not reach a socket in a root-only dir.\nuser root;\n' : ''}worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path ${join(dir, 'client_body_temp')};
    proxy_temp_path ${join(dir, 'proxy_temp')};
    fastcgi_temp_path ${join(dir, 'fastcgi_temp')};
    uwsgi_temp_path ${join(dir, 'uwsgi_temp')};
    scgi_temp_path ${join(dir, 'scgi_temp')};
${upstreams}${servers}}
`;
}

export async function startNginx(dir: string, sites: NginxSite[]): Promise<{ process: Started; config: string }> {
  mkdirSync(dir, { recursive: true });
  const config = buildNginxConfig(dir, sites);
  const configPath = join(dir, 'nginx.conf');
  writeFileSync(configPath, config);
  const started = startProcess({
    name: 'nginx',
    command: NGINX_BINARY,
    // -e: startup errors to our log, not /var/log/nginx; daemon off: we own the master process.
    args: ['-p', `${dir}/`, '-c', configPath, '-e', join(dir, 'error.log'), '-g', 'daemon off;'],
  });
  await waitReady(started, sites.map((s) => ({ host: '127.0.0.1', port: s.port })));
  return { process: started, config };
}
