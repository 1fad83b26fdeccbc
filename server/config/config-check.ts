/**
 * @module config-check
 * What `dragon-on-wheels check <config>` does after the config passed its checks: loads every app
 * the way its worker would, without listening, so a deploy pipeline finds a broken app before the
 * running server is reloaded onto it.
 */
import { errors, isDragonError, type DragonError } from '../../shared/errors.js';
import { loadApp } from '../host/app-loader.js';
import type { RuntimeSettings } from './config.js';
import { decideIo, defaultIoMode } from '../native/io-choice.js';
import { workerEnv, type AppEnvironment } from './app-environment.js';

export interface AppCheck {
  name: string;
  listen: string;
  /** What the front end speaks to the app. */
  protocol: 'scgi' | 'http';
  /** How the export is served once detected: as a `(req, res)` listener or a fetch handler. */
  type: 'node' | 'fetch' | null;
  /** SCGI apps: whether the native I/O core will serve it (io 'auto' or 'native'). */
  native: boolean;
  /** 0: in-process. */
  workers: number;
  threads: number;
  /** Where its workers run, and the names (never the values: secrets) of the variables they get. */
  environment?: AppEnvironment;
  /** Why the app cannot be loaded, as `serve` would report it (DOW_ERR_CONFIG); absent when it loads. */
  error?: DragonError;
}

/** Loads each app in turn; an app that fails is reported and the others are still checked. */
export async function checkApps(settings: RuntimeSettings): Promise<AppCheck[]> {
  const checks: AppCheck[] = [];
  for (const [i, app] of settings.apps.entries()) {
    const protocol = app.options.protocol ?? 'scgi';
    const io = decideIo(app.options.name, protocol === 'scgi' ? app.options.io ?? defaultIoMode() : 'node', settings.limits);
    const environment = app.workers?.environment;
    const base = {
      name: app.options.name, listen: app.listen, protocol, native: io.binding !== null, workers: app.workers?.count ?? 0, threads: app.options.threads,
      ...(environment === undefined ? {} : { environment }),
    };
    // An in-process app (workers: 0) was loaded already while the config was checked.
    let handler = app.options.handler;
    try {
      if (io.error !== undefined) throw io.error;
      if (!handler && app.source?.kind === 'module') {
        const { path, export: name, type } = app.source;
        handler = await inEnvironment(environment, () => loadApp(path, name, type, app.options.name, '/'));
      }
      checks.push({ ...base, type: handler?.type ?? null });
    } catch (err) {
      const why = isDragonError(err) ? err.message : err instanceof Error ? err.message : String(err);
      checks.push({ ...base, type: null, error: new errors.DOW_ERR_CONFIG(settings.source ?? 'object', `apps[${i}].module: ${why}`) });
    }
  }
  return checks;
}

/**
 * Runs `load` in the app's folder with its variables set, as its worker would (an app that reads
 * DATABASE_URL at import must pass here too), and puts both back after.
 */
async function inEnvironment<T>(environment: AppEnvironment | undefined, load: () => Promise<T>): Promise<T> {
  if (environment === undefined) return load();
  const cwd = process.cwd();
  const vars = workerEnv(environment);
  const saved = Object.keys(vars).map((key) => [key, process.env[key]] as const);
  Object.assign(process.env, vars);
  try {
    process.chdir(environment.cwd);
    return await load();
  } finally {
    process.chdir(cwd);
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** The names an app's workers get, `env`'s then the envFile's; values are never shown. */
function describeEnvironment(e: AppEnvironment): string {
  const names = (keys: string[]): string => (keys.length === 0 ? '(none)' : keys.join(' '));
  const file = e.envFile === null ? '' : `; envFile ${e.envFile.path}: ${names(Object.keys(e.envFile.vars).filter((k) => !(k in e.env)))}`;
  return `    cwd ${e.cwd}; env: ${names(Object.keys(e.env))}${file}\n`;
}

/** One line per app, aligned, for the terminal and for a pipeline's log. */
export function formatAppChecks(checks: AppCheck[]): string {
  const width = (pick: (c: AppCheck) => string): number => Math.max(...checks.map((c) => pick(c).length));
  const nameWidth = width((c) => c.name);
  const listenWidth = width((c) => c.listen);
  return checks.map((c) => {
    const workers = c.workers === 0 ? 'in-process' : `${c.workers} worker${c.workers === 1 ? '' : 's'}`;
    const head = `${c.name.padEnd(nameWidth)}  ${c.listen.padEnd(listenWidth)}  ${c.protocol.padEnd(4)}  `;
    const environment = c.environment === undefined ? '' : describeEnvironment(c.environment);
    if (c.error !== undefined) return `${head}FAILED (${c.error.code}, below)\n${environment}`;
    return `${head}${(c.type ?? '?').padEnd(5)}  ${workers}, ${c.threads} thread${c.threads === 1 ? '' : 's'}${c.native ? ', native I/O' : ''}  ok\n${environment}`;
  }).join('');
}
