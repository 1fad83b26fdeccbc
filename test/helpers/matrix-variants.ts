/**
 * @module matrix-variants
 * The compatibility matrix's variants ({nginx, lighttpd, Apache} × {TCP, Unix socket} × {SCGI,
 * HTTP}): one Server per variant, and its front end assembled from the docs/frontends.md blocks.
 */
import { join } from 'node:path';
import type { ListenerSpec } from '../../server/listen/listener.js';
import { Server } from '../../server/listen/server.js';
import { toAppHandler } from '../../server/host/app-loader.js';
import { docTemplate, fillPlaceholders } from './frontends/doc-configs.js';
import { START_FRONTEND, type FrontendName } from './frontends/by-name.js';
import type { FrontendHandle } from './frontends/process.js';
import { CLIENT_ADDRESS } from './matrix-client.js';
import { MATRIX_APP_NAMES, buildMatrixApp, type MatrixAppName } from './matrix-apps.js';

type Transport = 'tcp' | 'unix';
type Protocol = 'scgi' | 'http';
type Values = Record<string, string | number>;

export interface Variant {
  /** `nginx_tcp` (SCGI), `nginx_tcp_http`: also the app-name prefix on the stats port. */
  id: string;
  frontend: FrontendName;
  transport: Transport;
  protocol: Protocol;
}

export const VARIANTS: Variant[] = (['scgi', 'http'] as const).flatMap((protocol) =>
  (['nginx', 'lighttpd', 'apache'] as const).flatMap((frontend) =>
    (['tcp', 'unix'] as const).map((transport) => ({
      id: `${frontend}_${transport}${protocol === 'http' ? '_http' : ''}`,
      frontend,
      transport,
      protocol,
    })),
  ),
);

/**
 * Whose X-Forwarded-* an `http` app believes: the front end's address only. The default,
 * ['loopback'], would also trust the client (127.0.0.2 is loopback too), and then the forged
 * X-Forwarded-For the client-ip check sends would name the client behind lighttpd and Apache,
 * which append to it. A Unix socket peer is trusted whatever the list holds.
 */
const HTTP_TRUST_PROXY = ['127.0.0.1'];

export interface AppAddresses {
  mount: string;
  root: string;
}

export const siteName = (app: MatrixAppName): string => `${app}.test`;
export const httpsSiteName = (app: MatrixAppName): string => `https.${app}.test`;

function backendValues(address: string, prefix: '' | 'root_'): Values {
  if (address.startsWith('unix:')) return { [`${prefix}socket`]: address.slice(5) };
  const colon = address.lastIndexOf(':');
  return prefix === '' ? { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) } : { root_port: Number(address.slice(colon + 1)) };
}

/** Every app's `site` and `site-https` block, filled; nginx's `{{listen}}` is left to its harness. */
export function frontendConfig(variant: Variant, addresses: Map<MatrixAppName, AppAddresses>): string {
  if (variant.protocol === 'http') return httpFrontendConfig(variant, addresses);
  const unix = variant.transport === 'unix' ? '-unix' : '';
  const keepListen: Values = variant.frontend === 'nginx' ? { listen: '{{listen}}' } : {};
  let config = variant.frontend === 'lighttpd' ? docTemplate('lighttpd', 'site-globals') : '';
  for (const [app, { mount, root }] of addresses) {
    const mountValues = backendValues(mount, '');
    config += fillPlaceholders(docTemplate(variant.frontend, `site${unix}`), {
      ...keepListen,
      server_name: siteName(app),
      ...mountValues,
      ...backendValues(root, 'root_'),
    });
    config += fillPlaceholders(docTemplate(variant.frontend, `site-https${unix}`), {
      ...keepListen,
      server_name: httpsSiteName(app),
      ...mountValues,
    });
  }
  return config;
}

/**
 * The same for `protocol: 'http'` apps, from the `http-site*` blocks. nginx's TLS block proxies to
 * the site's own upstream pool, so it has no Unix socket variant; lighttpd's believes the client
 * (playing the TLS proxy) through mod_extforward.
 */
function httpFrontendConfig(variant: Variant, addresses: Map<MatrixAppName, AppAddresses>): string {
  const unix = variant.transport === 'unix' ? '-unix' : '';
  const keepListen: Values = variant.frontend === 'nginx' ? { listen: '{{listen}}' } : {};
  let config = variant.frontend === 'lighttpd' ? docTemplate('lighttpd', 'http-site-globals') : '';
  for (const [app, { mount, root }] of addresses) {
    const mountValues = backendValues(mount, '');
    const pools: Values = variant.frontend === 'nginx' ? { upstream: `${app}_app`, root_upstream: `${app}_root` } : {};
    config += fillPlaceholders(docTemplate(variant.frontend, `http-site${unix}`), {
      ...keepListen,
      ...pools,
      server_name: siteName(app),
      ...mountValues,
      ...backendValues(root, 'root_'),
    });
    const httpsValues: Values = variant.frontend === 'nginx'
      ? { ...keepListen, upstream: `${app}_app` }
      : { ...mountValues, ...(variant.frontend === 'lighttpd' ? { tls_proxy: CLIENT_ADDRESS } : {}) };
    const httpsTitle = variant.frontend === 'nginx' ? 'http-site-https' : `http-site-https${unix}`;
    config += fillPlaceholders(docTemplate(variant.frontend, httpsTitle), { ...httpsValues, server_name: httpsSiteName(app) });
  }
  return config;
}

export function startFrontend(variant: Variant, config: string): Promise<FrontendHandle> {
  return START_FRONTEND[variant.frontend]({ config });
}

/** One Server with two listeners per app (mounted at /app, and at the root). */
export async function startBackend(variant: Variant, socketDir: string): Promise<{ server: Server; addresses: Map<MatrixAppName, AppAddresses> }> {
  const listeners: ListenerSpec[] = [];
  for (const app of MATRIX_APP_NAMES) {
    const name = `${variant.id}_${app}`;
    const handler = await toAppHandler(buildMatrixApp(app), 'auto', name);
    for (const [suffix, mount] of [['', '/app'], ['_root', '']] as const) {
      listeners.push({
        listen: variant.transport === 'unix' ? `unix:${join(socketDir, `${app}${suffix}.sock`)}` : '127.0.0.1:0',
        // Apache's workers run as nobody (docs/frontends.md, quirk 15).
        socketMode: 0o666,
        processor: {
          app: {
            // requestTimeout runs until the front end has the whole response: Apache and lighttpd
            // pass a 50 MiB download on at the pace of this process's own client, which shares
            // a loaded machine with ~60 others (Apache's took 62 s at load 15 and was cut at 60).
            // The client's idle bound (REQUEST_TIMEOUT_MS) still catches a real stall.
            name: name + suffix, handler, threads: 16, queue: 100, queueTimeoutMs: 10_000, requestTimeoutMs: 600_000, mount,
            ...(variant.protocol === 'http' ? { protocol: 'http', trustProxy: HTTP_TRUST_PROXY } : {}),
          },
        },
      });
    }
  }
  const server = new Server({ listeners });
  await server.listen();
  const addresses = new Map<MatrixAppName, AppAddresses>();
  MATRIX_APP_NAMES.forEach((app, i) => {
    addresses.set(app, { mount: server.addresses[2 * i] as string, root: server.addresses[2 * i + 1] as string });
  });
  return { server, addresses };
}
