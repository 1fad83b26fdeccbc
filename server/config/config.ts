/**
 * @module config
 * Loads and checks the config file (.mjs, .js or .json) and turns it into runtime settings with
 * every default filled in. The problems are one DOW_ERR_CONFIG listing each, with its field and
 * cause (a deploy should need one round, not one per typo); the CLI prints it and exits 2 before
 * anything starts.
 */
import { statSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { errors, isDragonError } from '../../shared/errors.js';
import { parseListenAddress, parseTcpAddress } from '../../shared/listen-address.js';
import type { AppHandler } from '../adapters/app-handler.js';
import type { AppOptions } from '../host/app-host.js';
import { loadApp, type AppType } from '../host/app-loader.js';
import { describeConfigErrors, formatProblems } from './config-errors.js';
import { readConfigFile } from './config-file.js';
import { resolveRunAs, resolveSocketOwner, type RunAs } from './config-credentials.js';
import { configSchema } from './config-schema.js';
import { DEFAULT_LIMITS, type ScgiLimits } from '../protocol/limits.js';
import type { IoMode } from '../native/io-choice.js';
import type { SocketOwner } from '../listen/listen-address.js';
import type { AccessLogFormat } from '../logs/access-log.js';
import { logFilesOf, type LogFiles, type LogFormat } from '../logs/logger.js';
import { compileTrust } from '../http/trust-proxy.js';
import { resolveAppEnvironment, type AppEnvironment, type RawEnvironment } from './app-environment.js';
import { clampLimit, DEFAULT_TOLERANCE, DEFAULT_WINDOW_MS, type AdaptiveConfig } from '../adaptive/adaptive-controller.js';

export interface StoreSettings {
  path: string;
  recordPaths: boolean;
  flushIntervalMs?: number;
  bufferRows?: number;
  retention: { rawMaxAgeMs?: number; rawMaxRows?: number; rollupMaxAgeMs?: number };
}

/** How an app's worker processes are run and replaced (`workers: 0`: in the supervisor itself). */
export interface WorkerSettings {
  count: number;
  hangTimeoutMs: number;
  maxRequests: number;
  maxMemoryMiB: number;
  /** `cwd`, `env`, `envFile`; absent (settings built in code): the supervisor's own. */
  environment?: AppEnvironment;
}

/** Where a worker finds its app: a user's module, or the built-in demo app. */
export type AppSource = { kind: 'module'; path: string; export: string; type: AppType } | { kind: 'demo' };

export interface AppSettings {
  listen: string;
  socketMode?: number;
  /** `socketOwner`/`socketGroup` as ids (-1: unchanged). */
  socketOwner?: SocketOwner;
  /** `handler` is loaded here only for an in-process app; workers load `source` themselves. */
  options: Omit<AppOptions, 'handler'> & { handler?: AppHandler };
  /** Where workers load the app from; absent for an app built in code (in-process only). */
  source?: AppSource;
  /** Absent: in-process, as a settings object built in code with a handler in hand. */
  workers?: WorkerSettings;
  /** Absent: the limit stays where `threads` and the operator put it. */
  adaptive?: AdaptiveConfig;
}

export interface LogSettings extends LogFiles {
  level: string;
  format: LogFormat;
  /** Absent: no access log. */
  access?: AccessLogFormat;
}

export interface RuntimeSettings {
  apps: AppSettings[];
  stats: string | null;
  /** The metrics listener (/metrics, /healthz, /readyz); absent or null: off. */
  metrics?: string | null;
  /** `metrics.routeLabel`: the request counters and duration histograms per route too. */
  metricsRouteLabel?: boolean;
  limits: ScgiLimits;
  drainTimeoutMs: number;
  log: LogSettings;
  store: StoreSettings | null;
  dashboard: { listen: string; token?: string; allowedHosts?: string[]; trustedProxies?: string[] } | null;
  persistLimits: boolean;
  /** `user`/`group`: what every process running app code runs as (null: as started). */
  runAs?: RunAs | null;
  /** The config file, for messages about errors found after loading (a worker's load error). */
  source?: string;
  /** The config file loadConfigFile read, absolute: a reload reads each app's environment there again. */
  configFile?: string;
}

export const DEFAULTS = {
  stats: '127.0.0.1:9004',
  /** Where the demo puts the metrics listener; `serve` runs none unless the config says where. */
  metrics: '127.0.0.1:9101',
  dashboardListen: '127.0.0.1:9100',
  threads: 10,
  queue: 100,
  queueTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  drainTimeoutMs: 10_000,
  storePath: 'dragon-on-wheels.db',
  workers: 1,
  hangTimeoutMs: 30_000,
} as const;

type RawApp = RawEnvironment & {
  name: string; listen: string; module: string; export?: string; type?: AppType; threads?: number;
  queue?: number; queueTimeout?: number; requestTimeout?: number; mount?: string; socketMode?: number;
  workers?: number | 'auto'; hangTimeout?: number; maxRequests?: number; maxMemory?: number;
  halfClose?: 'abort' | 'answer'; socketOwner?: string | number; socketGroup?: string | number;
  protocol?: 'scgi' | 'http'; keepAliveTimeout?: number; trustProxy?: string[] | false;
  io?: IoMode; maxUpgrades?: number; upgradeDrainTimeout?: number; adaptive?: { min: number; max: number; tolerance?: number; window?: number };
};
type RawConfig = {
  stats?: string | false; metrics?: string | false | { listen: string; routeLabel?: boolean }; apps: RawApp[];
  limits?: { maxHeaderBytes?: number; maxBodyBytes?: number; headerTimeout?: number; bodyIdleTimeout?: number };
  drainTimeout?: number; log?: { level?: string; format?: LogFormat; file?: string; access?: boolean | AccessLogFormat };
  store?: false | { path?: string; recordPaths?: boolean; flushInterval?: number; bufferRows?: number;
    retention?: { rawMaxAge?: number; rawMaxRows?: number; rollupMaxAge?: number } };
  dashboard?: false | { listen?: string; token?: string; allowedHosts?: string[]; trustedProxies?: string[] };
  persistLimits?: boolean;
  user?: string | number; group?: string | number;
};

// verbose: errors carry their schema and value, for messages that name the choices (config-errors).
// allErrors: every problem is listed at once.
const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
const validate = ajv.compile(configSchema);

export async function loadConfigFile(file: string): Promise<RuntimeSettings> {
  const path = resolve(file);
  const raw = await readConfigFile(path);
  return { ...(await settingsFromConfig(raw, dirname(path), path)), configFile: path };
}

/**
 * An app's `cwd`, `env` and `envFile` as the config file says now (and the envFile's contents),
 * for a reload. The whole file must pass its schema: a reload never runs on half a config.
 */
export async function appEnvironmentFromFile(file: string, name: string): Promise<AppEnvironment> {
  const raw = await readConfigFile(file, { fresh: true });
  if (!validate(raw)) throw new errors.DOW_ERR_CONFIG(file, formatProblems(describeConfigErrors(validate.errors ?? [])));
  const apps = (raw as RawConfig).apps;
  const i = apps.findIndex((app) => app.name === name);
  const app = apps[i];
  if (app === undefined) throw new errors.DOW_ERR_CONFIG(file, `apps: no app named ${name} any more (restart the server to take an app away)`);
  const problems = new Problems(file);
  const baseDir = dirname(file);
  const environment = await resolveAppEnvironment(app, { modulePath: resolve(baseDir, app.module), baseDir, workers: workerCount(app) }, (key, why) => problems.add(`apps[${i}].${key}`, why));
  problems.throwIfAny();
  if (environment === null) throw new errors.DOW_ERR_CONFIG(file, `apps[${i}].workers: 0, so the app has no worker processes to reload`);
  return environment;
}

/** `log.file` names a folder: it ends with `/`, or one exists there. */
function isFolder(path: string, baseDir: string): boolean {
  if (path.endsWith('/')) return true;
  try {
    return statSync(resolve(baseDir, path)).isDirectory();
  } catch {
    return false;
  }
}

function workerCount(app: RawApp): number {
  return app.workers === 'auto' ? availableParallelism() : (app.workers ?? DEFAULTS.workers);
}

/**
 * The problems found so far. The checks that live elsewhere throw a DOW_ERR_CONFIG for their one
 * problem; `attempt` records it and goes on to the next check.
 */
class Problems {
  readonly list: string[] = [];
  constructor(private readonly source: string) {}

  add(field: string, why: string): void {
    this.list.push(`${field}: ${why}`);
  }

  attempt<T>(field: string, check: () => T): T | undefined {
    try {
      return check();
    } catch (err) {
      if (!isDragonError(err)) throw err;
      // A DOW_ERR_CONFIG names the field already; any other error is about `field`.
      const prefix = `config ${this.source}: `;
      if (err.code === 'DOW_ERR_CONFIG' && err.message.startsWith(prefix)) this.list.push(err.message.slice(prefix.length));
      else this.add(field, err.message);
      return undefined;
    }
  }

  throwIfAny(): void {
    if (this.list.length > 0) throw new errors.DOW_ERR_CONFIG(this.source, formatProblems(this.list));
  }
}

/** `unix:` + a relative path: against the config file's folder, like every other path in it. */
function resolveListen(address: string, baseDir: string): string {
  return address.startsWith('unix:') ? `unix:${resolve(baseDir, address.slice('unix:'.length))}` : address;
}

/** Options that belong to one protocol are refused on the other: set there, they would do nothing. */
function checkProtocolOptions(app: RawApp, i: number, problems: Problems): void {
  const http = app.protocol === 'http';
  const misplaced = http ? (['halfClose', 'io'] as const).filter((key) => app[key] !== undefined) : (['keepAliveTimeout', 'trustProxy', 'maxUpgrades', 'upgradeDrainTimeout'] as const).filter((key) => app[key] !== undefined);
  for (const key of misplaced) {
    problems.add(`apps[${i}].${key}`, `applies only to ${http ? "SCGI apps (protocol: 'scgi')" : "HTTP apps (protocol: 'http')"}; this app's protocol is ${http ? 'http' : 'scgi'}`);
  }
  const trustProxy = app.trustProxy;
  if (Array.isArray(trustProxy)) {
    try {
      compileTrust(trustProxy);
    } catch (err) {
      problems.add(`apps[${i}].trustProxy`, (err as Error).message);
    }
  }
}

/** `adaptive` beyond what the schema says: a range that holds `threads` and a slot per worker. */
function checkAdaptive(app: RawApp, i: number, workers: number, problems: Problems): AdaptiveConfig | undefined {
  const { min, max, tolerance, window } = app.adaptive as NonNullable<RawApp['adaptive']>;
  const field = `apps[${i}].adaptive`;
  if (min > max) problems.add(`${field}.min`, `${min} is above max (${max})`);
  else if (min < workers) problems.add(`${field}.min`, `${min} is less than workers (${workers}); each worker needs at least one slot`);
  else if (app.threads !== undefined && (app.threads < min || app.threads > max)) {
    problems.add(`apps[${i}].threads`, `${app.threads} is outside adaptive [${min}, ${max}]; with adaptive, threads is where the limit starts`);
  } else return { min, max, tolerance: tolerance ?? DEFAULT_TOLERANCE, windowMs: window ?? DEFAULT_WINDOW_MS };
  return undefined;
}

/** An address the schema's pattern lets through but a listener would refuse (port 99999). */
function checkAddress(field: string, address: string, problems: Problems, tcpOnly = false): void {
  problems.attempt(field, () => (tcpOnly ? parseTcpAddress(address) : parseListenAddress(address)));
}

/** Checks a config object (from a file or from code) and resolves its app modules. */
export async function settingsFromConfig(raw: unknown, baseDir: string, source = 'object'): Promise<RuntimeSettings> {
  if (!validate(raw)) throw new errors.DOW_ERR_CONFIG(source, formatProblems(describeConfigErrors(validate.errors ?? [])));
  const config = raw as RawConfig;
  const problems = new Problems(source);
  const names = new Set<string>();
  const listens = new Set<string>();
  const apps: AppSettings[] = [];
  for (const [i, app] of config.apps.entries()) {
    if (names.has(app.name)) problems.add(`apps[${i}].name`, `${app.name} is used twice`);
    // unix:rel.sock lies next to the config file, as module and store.path do.
    const listen = resolveListen(app.listen, baseDir);
    if (listens.has(listen)) problems.add(`apps[${i}].listen`, `${app.listen} is used twice`);
    checkAddress(`apps[${i}].listen`, app.listen, problems);
    names.add(app.name);
    listens.add(listen);
    const workers = workerCount(app);
    const adaptive = app.adaptive === undefined ? undefined : checkAdaptive(app, i, workers, problems);
    // With adaptive, `threads` is where the limit starts; the default start fits the range.
    const threads = app.threads ?? (adaptive ? clampLimit(DEFAULTS.threads, adaptive) : DEFAULTS.threads);
    if (workers > threads) {
      problems.add(`apps[${i}].threads`, `${threads} is less than workers (${workers}); each worker needs at least one slot`);
    }
    const socketOwner = problems.attempt(`apps[${i}]`, () => resolveSocketOwner(app, i, source));
    checkProtocolOptions(app, i, problems);
    const modulePath = resolve(baseDir, app.module);
    let handler: AppHandler | undefined;
    try {
      // The supervisor never runs app code: with workers, each worker loads the module itself
      // (and a load error stops the start the same way). In-process, it is loaded here.
      if (workers === 0) handler = await loadApp(app.module, app.export ?? 'default', app.type ?? 'auto', app.name, baseDir);
      else await access(modulePath).catch(() => {
        throw new errors.DOW_ERR_APP_MODULE(app.name, `cannot load module ${app.module}: no such file ${modulePath}`);
      });
    } catch (err) {
      problems.add(`apps[${i}].module`, isDragonError(err) ? err.message : String(err));
    }
    const environment = await resolveAppEnvironment(app, { modulePath, baseDir, workers }, (key, why) => problems.add(`apps[${i}].${key}`, why));
    apps.push({
      listen,
      ...(app.socketMode === undefined ? {} : { socketMode: app.socketMode }),
      ...(socketOwner === undefined ? {} : { socketOwner }),
      source: { kind: 'module', path: modulePath, export: app.export ?? 'default', type: app.type ?? 'auto' },
      workers: {
        count: workers,
        hangTimeoutMs: app.hangTimeout ?? DEFAULTS.hangTimeoutMs,
        maxRequests: app.maxRequests ?? 0,
        maxMemoryMiB: app.maxMemory ?? 0,
        ...(environment === null ? {} : { environment }),
      },
      ...(adaptive ? { adaptive } : {}),
      options: {
        name: app.name,
        ...(handler ? { handler } : {}),
        threads,
        queue: app.queue ?? DEFAULTS.queue,
        queueTimeoutMs: app.queueTimeout ?? DEFAULTS.queueTimeoutMs,
        requestTimeoutMs: app.requestTimeout ?? DEFAULTS.requestTimeoutMs,
        mount: app.mount ?? '',
        ...(app.halfClose === undefined ? {} : { halfClose: app.halfClose }),
        ...(app.protocol === undefined ? {} : { protocol: app.protocol }),
        ...(app.io === undefined ? {} : { io: app.io }),
        ...(app.keepAliveTimeout === undefined ? {} : { keepAliveTimeoutMs: app.keepAliveTimeout }),
        ...(app.trustProxy === undefined ? {} : { trustProxy: app.trustProxy }),
        ...(app.maxUpgrades === undefined ? {} : { maxUpgrades: app.maxUpgrades }),
        ...(app.upgradeDrainTimeout === undefined ? {} : { upgradeDrainTimeoutMs: app.upgradeDrainTimeout }),
      },
    });
  }
  const stats = config.stats === false ? null : resolveListen(config.stats ?? DEFAULTS.stats, baseDir);
  if (stats !== null) checkAddress('stats', stats, problems);
  const dashboardListen = config.dashboard === false ? undefined : config.dashboard?.listen;
  if (dashboardListen !== undefined && /^(unix|systemd):/.test(dashboardListen)) {
    problems.add('dashboard.listen', `must be host:port, not ${JSON.stringify(dashboardListen)}: the dashboard listens on TCP only (keep it on 127.0.0.1, or put a proxy with its own Unix socket in front)`);
  } else if (dashboardListen !== undefined) checkAddress('dashboard.listen', dashboardListen, problems, true);
  if (stats !== null && listens.has(stats)) problems.add('stats', `${stats} is also an app's listen address`);
  const metrics = typeof config.metrics === 'string' ? config.metrics : config.metrics === false || config.metrics === undefined ? null : config.metrics.listen;
  if (metrics !== null) checkAddress('metrics', metrics, problems);
  if (metrics !== null && (listens.has(metrics) || metrics === stats)) {
    problems.add('metrics', `${metrics} is also ${metrics === stats ? 'the stats port' : "an app's listen address"}`);
  }
  const runAs = problems.attempt('user', () => resolveRunAs(config, source, process.getuid?.() ?? -1));
  problems.throwIfAny();
  const limits = config.limits ?? {};
  const store = config.store === false ? null : config.store ?? {};
  return {
    apps,
    stats,
    metrics,
    ...(typeof config.metrics === 'object' && config.metrics.routeLabel === true ? { metricsRouteLabel: true } : {}),
    limits: {
      maxHeaderBytes: limits.maxHeaderBytes ?? DEFAULT_LIMITS.maxHeaderBytes,
      maxBodyBytes: limits.maxBodyBytes ?? DEFAULT_LIMITS.maxBodyBytes,
      headerTimeoutMs: limits.headerTimeout ?? DEFAULT_LIMITS.headerTimeoutMs,
      bodyIdleTimeoutMs: limits.bodyIdleTimeout ?? DEFAULT_LIMITS.bodyIdleTimeoutMs,
    },
    drainTimeoutMs: config.drainTimeout ?? DEFAULTS.drainTimeoutMs,
    log: {
      level: config.log?.level ?? 'info',
      format: config.log?.format ?? 'auto',
      ...(config.log?.file === undefined ? {} : logFilesOf(resolve(baseDir, config.log.file), isFolder(config.log.file, baseDir))),
      ...(config.log?.access === undefined || config.log.access === false ? {} : { access: config.log.access === true ? 'json' : config.log.access }),
    },
    store: store === null ? null : {
      path: resolve(baseDir, store.path ?? DEFAULTS.storePath),
      recordPaths: store.recordPaths ?? true,
      ...(store.flushInterval === undefined ? {} : { flushIntervalMs: store.flushInterval }),
      ...(store.bufferRows === undefined ? {} : { bufferRows: store.bufferRows }),
      retention: {
        ...(store.retention?.rawMaxAge === undefined ? {} : { rawMaxAgeMs: store.retention.rawMaxAge }),
        ...(store.retention?.rawMaxRows === undefined ? {} : { rawMaxRows: store.retention.rawMaxRows }),
        ...(store.retention?.rollupMaxAge === undefined ? {} : { rollupMaxAgeMs: store.retention.rollupMaxAge }),
      },
    },
    dashboard: config.dashboard === false ? null : {
      listen: config.dashboard?.listen ?? DEFAULTS.dashboardListen,
      ...(config.dashboard?.token === undefined ? {} : { token: config.dashboard.token }),
      ...(config.dashboard?.allowedHosts === undefined ? {} : { allowedHosts: config.dashboard.allowedHosts }),
      ...(config.dashboard?.trustedProxies === undefined ? {} : { trustedProxies: config.dashboard.trustedProxies }),
    },
    persistLimits: config.persistLimits ?? false,
    runAs: runAs ?? null,
    source,
  };
}
