/**
 * @module app-environment
 * Where an app's workers run and what they find in process.env: `cwd` (by default the module's
 * folder, as Passenger runs an app from its root), `envFile` (dotenv) and `env`, paths against the
 * config file's folder. Read when the config loads and again at every reload.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isDragonError } from '../../shared/errors.js';
import { parseDotenv } from './dotenv.js';

export interface AppEnvironment {
  /** Absolute. */
  cwd: string;
  /** `env` from the config, numbers as strings. */
  env: Record<string, string>;
  /** `envFile`, absolute, with what it held when last read. */
  envFile: { path: string; vars: Record<string, string> } | null;
}

/** The keys as the config file has them. */
export interface RawEnvironment {
  cwd?: string;
  env?: Record<string, string | number>;
  envFile?: string;
}

const READ_ERRORS: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'it is a folder' };

export const ENVIRONMENT_KEYS = ['cwd', 'env', 'envFile'] as const;

/** What a worker lays over the supervisor's environment: the file's variables, then `env`'s. */
export function workerEnv(environment: AppEnvironment): Record<string, string> {
  return { ...environment.envFile?.vars, ...environment.env };
}

/**
 * `problem(key, why)` is told each problem (key: cwd, env or envFile) and null is returned; an
 * in-process app (`workers: 0`) may set none of the keys, since the supervisor's one working
 * directory and environment are every in-process app's.
 */
export async function resolveAppEnvironment(
  app: RawEnvironment,
  o: { modulePath: string; baseDir: string; workers: number },
  problem: (key: (typeof ENVIRONMENT_KEYS)[number], why: string) => void,
): Promise<AppEnvironment | null> {
  if (o.workers === 0) {
    const set = ENVIRONMENT_KEYS.filter((key) => app[key] !== undefined);
    for (const key of set) problem(key, 'needs worker processes: with workers: 0 the app runs inside the supervisor, whose one working directory and environment every in-process app shares; set workers to 1 or more');
    return null;
  }
  let ok = true;
  const fail = (key: (typeof ENVIRONMENT_KEYS)[number], why: string): void => {
    ok = false;
    problem(key, why);
  };
  const cwd = app.cwd === undefined ? dirname(o.modulePath) : resolve(o.baseDir, app.cwd);
  const kind = await stat(cwd).then((s) => (s.isDirectory() ? null : 'is not a folder'), (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? 'no such folder' : err.message));
  if (kind !== null) fail('cwd', `${cwd}: ${kind}`);
  const env = Object.fromEntries(Object.entries(app.env ?? {}).map(([k, v]) => [k, String(v)]));
  for (const [k, v] of Object.entries(env)) if (v.includes('\0')) fail('env', `${k} holds a NUL character, which no environment variable can`);
  let envFile: AppEnvironment['envFile'] = null;
  if (app.envFile !== undefined) {
    const path = resolve(o.baseDir, app.envFile);
    try {
      envFile = { path, vars: await readEnvFile(path) };
    } catch (err) {
      fail('envFile', (err as Error).message);
    }
  }
  return ok ? { cwd, env, envFile } : null;
}

/** An envFile's variables; throws an Error whose message names the file and the problem. */
export async function readEnvFile(path: string): Promise<Record<string, string>> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot read ${path}: ${READ_ERRORS[err.code ?? ''] ?? err.message}`);
  });
  let vars: Record<string, string>;
  try {
    vars = parseDotenv(text);
  } catch (err) {
    if (!isDragonError(err, 'DOW_ERR_ENV_FILE')) throw err;
    throw new Error(`${path} ${err.message}`);
  }
  for (const [k, v] of Object.entries(vars)) if (v.includes('\0')) throw new Error(`${path}: ${k} holds a NUL character, which no environment variable can`);
  return vars;
}

/** The same keys with the envFile read again: a reload of settings built in code (no config file). */
export async function rereadEnvFile(environment: AppEnvironment): Promise<AppEnvironment> {
  const file = environment.envFile;
  return file === null ? environment : { ...environment, envFile: { path: file.path, vars: await readEnvFile(file.path) } };
}
