/**
 * @module runtime
 * Starts a real Server on free loopback ports for integration tests and stops it in t.after.
 */
import type { TestContext } from 'node:test';
import { pino, type Logger } from 'pino';
import { Writable } from 'node:stream';
import type { AppHandler } from '../../server/adapters/app-handler.js';
import type { AppOptions } from '../../server/host/app-host.js';
import { Server, type ServerOptions } from '../../server/listen/server.js';
import type { FetchHandler } from '../../server/adapters/fetch/fetch-adapter.js';
import type { NodeListener } from '../../server/adapters/node/node-adapter.js';
import { parseStats } from '../../shared/stats-format.js';
import type { Target } from './scgi-client.js';

export interface TestApp extends Partial<Omit<AppOptions, 'handler'>> {
  node?: NodeListener;
  fetch?: FetchHandler;
  handler?: AppHandler;
  listen?: string;
  socketMode?: number;
}

export interface RunningRuntime {
  server: Server;
  /** Per app name, where to send SCGI requests. */
  targets: Map<string, Target>;
  stats: Target;
  /** Log lines written so far (JSON objects). */
  logs: Array<Record<string, unknown>>;
  figures(): Map<string, string>;
}

export async function startRuntime(t: TestContext, apps: TestApp[], options: Partial<ServerOptions> = {}): Promise<RunningRuntime> {
  const { logs, logger } = captureLogs();
  const server = new Server({
    listeners: [
      ...apps.map((app, i) => ({
        listen: app.listen ?? '127.0.0.1:0',
        ...(app.socketMode === undefined ? {} : { socketMode: app.socketMode }),
        processor: {
          app: {
            name: app.name ?? `app${i}`,
            handler: app.handler ?? (app.fetch ? { type: 'fetch' as const, handler: app.fetch } : { type: 'node' as const, listener: app.node as NodeListener }),
            threads: app.threads ?? 10,
            queue: app.queue ?? 100,
            queueTimeoutMs: app.queueTimeoutMs ?? 10_000,
            requestTimeoutMs: app.requestTimeoutMs ?? 0,
            mount: app.mount ?? '',
            ...(app.halfClose === undefined ? {} : { halfClose: app.halfClose }),
            ...(app.protocol === undefined ? {} : { protocol: app.protocol }),
            ...(app.io === undefined ? {} : { io: app.io }),
            ...(app.keepAliveTimeoutMs === undefined ? {} : { keepAliveTimeoutMs: app.keepAliveTimeoutMs }),
            ...(app.trustProxy === undefined ? {} : { trustProxy: app.trustProxy }),
            ...(app.maxUpgrades === undefined ? {} : { maxUpgrades: app.maxUpgrades }),
            ...(app.upgradeDrainTimeoutMs === undefined ? {} : { upgradeDrainTimeoutMs: app.upgradeDrainTimeoutMs }),
          },
        },
      })),
      { listen: '127.0.0.1:0', processor: { stats: true } },
    ],
    logger,
    ...options,
  });
  await server.listen();
  t.after(() => server.close(0));
  const targets = new Map<string, Target>();
  apps.forEach((app, i) => targets.set(app.name ?? `app${i}`, toTarget(server.addresses[i] as string)));
  return {
    server,
    targets,
    stats: toTarget(server.addresses[apps.length] as string),
    logs,
    figures: () => parseStats(server.statsText()),
  };
}

/** A debug-level logger whose lines are kept, parsed, for assertions. */
export function captureLogs(): { logs: Array<Record<string, unknown>>; logger: Logger } {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logs, logger: pino({ level: 'debug' }, sink) };
}

export function toTarget(address: string): Target {
  if (address.startsWith('unix:')) return { path: address.slice(5) };
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(address.slice(colon + 1)) };
}
