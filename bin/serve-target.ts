/**
 * @module serve-target
 * What `serve <path>` was given: a config file, or one app to serve without one (as
 * `pm2 start app.js`). Decided by the name alone: telling them apart by importing the module would
 * run app code in the supervisor, which runs none.
 *
 *   x.json, x.config.mjs / .js / .cjs   a config
 *   x.mjs / .js / .cjs / .ts / .mts / .cts   an app module
 *   a directory with package.json        an app: its `main` (index.js by default)
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { loadConfigFile, settingsFromConfig, type RuntimeSettings } from '../server/config/config.js';
import { UsageError } from './usage-error.js';

const CONFIG_MODULE = /\.config\.(mjs|js|cjs)$/;
const APP_MODULE = new Set(['.mjs', '.js', '.cjs', '.ts', '.mts', '.cts']);

export type ServeTarget =
  | { kind: 'config'; path: string }
  /** `dir`: the app's folder, where a config beside it would be (store path, relative addresses). */
  | { kind: 'app'; module: string; name: string; dir: string };

/** The commands that take a config or an app: each says its own name in the errors. */
export type TargetCommand = 'serve' | 'check';

export function serveTarget(given: string, command: TargetCommand): ServeTarget {
  const path = resolve(given);
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new UsageError(`${command}: ${given}: no such file or directory`);
  }
  if (isDir) return packageApp(given, path, command);
  if (extname(path) === '.json' || CONFIG_MODULE.test(path)) return { kind: 'config', path };
  if (APP_MODULE.has(extname(path))) return { kind: 'app', module: path, name: appName(basename(path, extname(path))), dir: dirname(path) };
  throw new UsageError(`${command}: ${given} is neither an app (a .mjs, .js, .cjs or .ts module, or a folder with package.json) nor a config (.json, or a module named *.config.mjs)`);
}

function packageApp(given: string, dir: string, command: TargetCommand): ServeTarget {
  let pkg: { name?: unknown; main?: unknown };
  try {
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as typeof pkg;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'has no package.json' : `has a package.json that cannot be read: ${(err as Error).message}`;
    throw new UsageError(`${command}: the folder ${given} ${why}; name the app's module (${command} ${join(given, 'app.mjs')}) or a config file`);
  }
  // As Node resolves a folder: `main`, else index.js.
  const main = typeof pkg.main === 'string' && pkg.main !== '' ? pkg.main : 'index.js';
  const module = resolve(dir, main);
  try {
    statSync(module);
  } catch {
    throw new UsageError(`${command}: ${given}/package.json: its main ${JSON.stringify(main)} does not exist (${module})`);
  }
  const name = typeof pkg.name === 'string' && pkg.name !== '' ? pkg.name.replace(/^@[^/]*\//, '') : basename(dir);
  return { kind: 'app', module, name: appName(name), dir };
}

/** An app name the config schema accepts (letters, digits, _; not a digit first): `hello-node` -> `hello_node`. */
export function appName(raw: string): string {
  const name = raw.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z_]/.test(name) ? name : `_${name}`;
}

/** Where `serve <app>` listens without --listen: the demo's first app's port, loopback only. */
export const DEFAULT_APP_LISTEN = '127.0.0.1:9002';

export interface AppFlags {
  listen?: string | undefined;
  protocol?: string | undefined;
  workers?: string | undefined;
  threads?: string | undefined;
  name?: string | undefined;
  stats?: string | undefined;
  dashboard?: string | undefined;
}

/** Flags that only `serve <app>` takes: a config says these per app, or at its top. */
export const APP_FLAGS = ['listen', 'protocol', 'workers', 'threads', 'name', 'stats', 'dashboard'] as const;

/**
 * The config a file with only this app would be: checked by the same schema and filled with the
 * same defaults, so `serve app.mjs` and a one-app config behave alike.
 */
export function singleAppConfig(target: Extract<ServeTarget, { kind: 'app' }>, flags: AppFlags): Record<string, unknown> {
  return {
    apps: [{
      name: flags.name ?? target.name,
      listen: flags.listen ?? DEFAULT_APP_LISTEN,
      module: target.module,
      ...(flags.protocol === undefined ? {} : { protocol: flags.protocol }),
      ...(flags.workers === undefined ? {} : { workers: count('workers', flags.workers) }),
      ...(flags.threads === undefined ? {} : { threads: count('threads', flags.threads) }),
    }],
    ...(flags.stats === undefined ? {} : { stats: flags.stats }),
    ...(flags.dashboard === undefined ? {} : { dashboard: { listen: flags.dashboard } }),
  };
}

/**
 * The settings `serve <given>` runs with, and `check <given>` checks: a config file's, or those of
 * a config with only this app, shaped by the app flags (refused beside a config, which sets them).
 */
export async function targetSettings(command: TargetCommand, given: string, flags: AppFlags): Promise<RuntimeSettings> {
  const target = serveTarget(given, command);
  const appFlags = APP_FLAGS.filter((flag) => flags[flag] !== undefined);
  if (target.kind === 'config' && appFlags.length > 0) {
    throw new UsageError(`--${appFlags.join(', --')}: for one app without a config; ${given} is a config, which sets them itself`);
  }
  return target.kind === 'config'
    ? loadConfigFile(target.path)
    : settingsFromConfig(singleAppConfig(target, flags), target.dir, `of \`${command} ${given}\` (a config with only this app)`);
}

/** A number as given (the schema checks its range and names the field), or `auto` for workers. */
function count(flag: 'workers' | 'threads', text: string): number | string {
  if (flag === 'workers' && text === 'auto') return text;
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value)) throw new UsageError(`--${flag} must be an integer${flag === 'workers' ? ' or auto' : ''}, not ${JSON.stringify(text)}`);
  return value;
}
