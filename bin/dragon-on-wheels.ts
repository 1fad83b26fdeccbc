#!/usr/bin/env node
/**
 * @module dragon-on-wheels
 * The command line: parses arguments, reads the environment, handles signals and exit codes.
 * Exit 0 after a graceful stop, 2 for a bad command line or config, 1 for anything else.
 */
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { readStatsPort } from '../dashboard/stats-client.js';
import { isDragonError } from '../shared/errors.js';
import { openHistoryReader } from '../shared/store/history-reader.js';
import { parseStats } from '../shared/stats-format.js';
import { DEFAULTS, type RuntimeSettings } from '../server/config/config.js';
import { checkApps, formatAppChecks } from '../server/config/config-check.js';
import { parseListenAddress } from '../shared/listen-address.js';
import { onFetchHandlerDetected } from '../server/host/app-loader.js';
import { appLogFile, createLogger, prepareLogFiles, reopenLogFiles, type LogFormat } from '../server/logs/logger.js';
import { VERSION } from '../server/core/version.js';
import { demoSettings } from './demo-settings.js';
import { UsageError } from './usage-error.js';
import { allSucceeded, formatLoadResult, LOAD_DEFAULTS, positiveInteger, runLoad } from './load-command.js';
import { startedByPackageManager, watchStarter } from './parent-watch.js';
import { formatReloadReport, RELOAD_DEFAULTS, runReload } from './reload-command.js';
import { formatScaleResult, runScale, SCALE_DEFAULTS } from './scale-command.js';
import { DEFAULT_APP_LISTEN, targetSettings } from './serve-target.js';
import { checkDashboardSettings, startRuntime, type RuntimeHandle } from './start-runtime.js';
import { createNotifier, monotonicUsec } from '../server/systemd/sd-notify.js';
import { takeListenFds, useListenFds } from '../server/systemd/listen-fds.js';

const USAGE = `dragon-on-wheels ${VERSION} - SCGI application server for Node.js

Usage:
  dragon-on-wheels demo [options]            the original's demo: apps on 127.0.0.1:9002 and :9003,
                                             stats on :9004, dashboard on 127.0.0.1:9100,
                                             metrics and health checks on :9101
  dragon-on-wheels serve <config> [options]  serve the apps of a config file: .json, or a module
                                             named *.config.mjs (.js, .cjs)
  dragon-on-wheels serve <app> [--listen host:port] [--protocol scgi|http] [--workers N]
                   [--threads N] [--name NAME] [--stats host:port] [--dashboard host:port] [options]
                                             serve one app without a config: a .mjs, .js, .cjs or
                                             .ts module, or a folder with package.json (its main);
                                             defaults as a config with only this app: listen
                                             ${DEFAULT_APP_LISTEN}, scgi, 1 worker, 10 threads, name
                                             from the file (or package.json), stats on
                                             ${DEFAULTS.stats}, dashboard on ${DEFAULTS.dashboardListen} (its
                                             login URL is printed), store beside the app
  dragon-on-wheels check <config|app> [the app flags of serve]
                                             check a config, or the one-app config serve <app>
                                             would build, and load each app without listening:
                                             exit 0 if serve would start them, 2 if not
  dragon-on-wheels stats [host:port]         print the stats port's figures (default 127.0.0.1:9004)
  dragon-on-wheels reload [host:port] [--max-seconds 180]
                                             graceful reload of every app's workers with fresh code:
                                             finds the running server through its stats port
                                             (default 127.0.0.1:9004), sends it SIGHUP and waits
                                             for each app's outcome; exit 1 unless every app
                                             reloaded (stderr names each app that did not, and why)
  dragon-on-wheels scale <app> <N> [--dashboard host:port] [--max-seconds 180]
                                             run N worker processes for the app: asks the server's
                                             dashboard (default ${DEFAULTS.dashboardListen}) with the token in
                                             DRAGON_ADMIN_TOKEN and waits until N serve (added
                                             workers listen, the surplus drains); exit 1 with the
                                             server's reason if it refuses
  dragon-on-wheels load [host:port|unix:/path] [--requests 2000] [--concurrency 16] [--uri /]
                   [--method GET] [--max-seconds 30]
                                             a bounded SCGI load test straight to an app's port
                                             (default 127.0.0.1:9002; loopback and Unix sockets
                                             only): req/s, statuses, latency percentiles;
                                             exit 1 unless every answer was 2xx or 3xx
  dragon-on-wheels dashboard --db <file> [--stats host:port] [--listen host:port]
                                             run the dashboard beside a running runtime

Options:
  --db <file>          timing store database (default ./${DEFAULTS.storePath})
  --no-store           do not record request timings
  --no-dashboard       do not start the dashboard
  --log-format <f>     auto (default: pretty on a terminal, else json), pretty or json
  --log-level <l>      trace, debug, info (default), warn, error, fatal, silent
  -h, --help           this text
  -v, --version        the version

Environment:
  DRAGON_ADMIN_TOKEN   the dashboard's admin token (otherwise from config, or generated and
                       printed once as a login URL)
`;


const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

const DEFAULT_STATS_PORT = DEFAULTS.stats.slice(DEFAULTS.stats.lastIndexOf(':') + 1);

/** `stats 127.0.0.1` means the default stats port on that host. */
function withDefaultPort(address: string): string {
  if (address.startsWith('unix:') || /:\d+$/.test(address)) return address;
  return `${isIP(address) === 6 ? `[${address}]` : address}:${DEFAULT_STATS_PORT}`;
}

/**
 * As Passenger does: apps run as in production (Express then answers errors without a stack)
 * unless the user chose otherwise. Called before any app module is imported.
 */
function defaultToProduction(): void {
  if (process.env.NODE_ENV === undefined) process.env.NODE_ENV = 'production';
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        db: { type: 'string' },
        'no-store': { type: 'boolean' },
        'no-dashboard': { type: 'boolean' },
        'log-format': { type: 'string' },
        'log-level': { type: 'string' },
        stats: { type: 'string' },
        listen: { type: 'string' },
        dashboard: { type: 'string' },
        protocol: { type: 'string' },
        workers: { type: 'string' },
        threads: { type: 'string' },
        name: { type: 'string' },
        requests: { type: 'string' },
        concurrency: { type: 'string' },
        uri: { type: 'string' },
        method: { type: 'string' },
        'max-seconds': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const format = values['log-format'] ?? 'auto';
  if (format !== 'pretty' && format !== 'json' && format !== 'auto') throw new UsageError(`--log-format must be auto, pretty or json, not ${format}`);
  const level = values['log-level'];
  if (level !== undefined && !LOG_LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not ${level}`);
  const [command, ...rest] = positionals;
  switch (command) {
    case 'demo':
    case 'serve': {
      let settings: RuntimeSettings;
      if (command === 'demo') settings = demoSettings(process.cwd());
      else {
        if (rest.length !== 1) throw new UsageError('serve takes exactly one config file or app');
        defaultToProduction();
        settings = await targetSettings('serve', rest[0] as string, values);
      }
      if (values['log-format']) settings.log.format = format;
      if (values['log-level']) settings.log.level = values['log-level'];
      if (values['no-store']) settings.store = null;
      else if (values.db !== undefined) settings.store = { ...(settings.store ?? { recordPaths: true, retention: {} }), path: resolve(values.db) };
      if (values['no-dashboard']) settings.dashboard = null;
      // Before any worker forks: workers running as `user` must be able to append to the file.
      if (settings.log.file !== undefined) {
        prepareLogFiles([settings.log.file, ...settings.apps.map((app) => appLogFile(settings.log, app.options.name) as string)], settings.runAs ?? undefined);
      }
      const log = createLogger({ level: settings.log.level, format: settings.log.format as LogFormat, ...(settings.log.file === undefined ? {} : { file: settings.log.file }) });
      onFetchHandlerDetected((name) => log.warn({ app: name }, `${name}: the export returned a Response, so it is a fetch handler and is served as one from now on; set type: 'fetch' for the app to skip the detection (and its slower bridge)`));
      if (command === 'demo') log.info('Run demo server');
      else log.info(`NODE_ENV=${process.env.NODE_ENV ?? ''}${process.env.NODE_ENV === 'production' ? ' (the default for serve; set NODE_ENV to change it)' : ''}`);
      return serveUntilSignal(settings, log);
    }
    case 'check': {
      if (rest.length !== 1) throw new UsageError('check takes exactly one config file or app');
      // An app that reads NODE_ENV at import loads here as it will under serve.
      defaultToProduction();
      const settings = await targetSettings('check', rest[0] as string, values);
      const checks = await checkApps(settings);
      process.stdout.write(formatAppChecks(checks));
      const failed = checks.filter((c) => c.error !== undefined);
      for (const c of failed) process.stderr.write(`dragon-on-wheels: ${c.error?.code}: ${c.error?.message}\n`);
      // What serve would refuse after the apps: the dashboard's bind and token (the same
      // DRAGON_ADMIN_TOKEN serve would read).
      let dashboardError: unknown = null;
      try {
        checkDashboardSettings(settings, process.env.DRAGON_ADMIN_TOKEN);
      } catch (err) {
        if (!isDragonError(err)) throw err;
        dashboardError = err;
        process.stderr.write(`dragon-on-wheels: ${err.code}: ${err.message}\n`);
      }
      const summary = [
        ...(failed.length === 0 ? [] : [`${failed.length} of ${checks.length} apps cannot be loaded`]),
        ...(dashboardError === null ? [] : ['the dashboard would be refused']),
      ];
      process.stdout.write(summary.length === 0
        ? `${rest[0]}: ok, ${checks.length} app${checks.length === 1 ? '' : 's'}\n`
        : `${rest[0]}: ${summary.join('; ')}\n`);
      return summary.length === 0 ? 0 : 2;
    }
    case 'stats': {
      const address = parseListenAddress(withDefaultPort(rest[0] ?? DEFAULTS.stats));
      if (address.kind !== 'tcp') throw new UsageError('stats takes host:port');
      process.stdout.write(await readStatsPort(address.host, address.port));
      return 0;
    }
    case 'reload': {
      const address = parseListenAddress(withDefaultPort(rest[0] ?? DEFAULTS.stats));
      if (address.kind !== 'tcp') throw new UsageError('reload takes the stats port as host:port');
      const report = await runReload({
        readFigures: async () => parseStats(await readStatsPort(address.host, address.port)),
        signal: (pid) => process.kill(pid, 'SIGHUP'),
        onSignalled: (pid) => process.stdout.write(`sent SIGHUP to the supervisor (pid ${pid}); waiting for each app's reload\n`),
        timeoutMs: positiveInteger('max-seconds', values['max-seconds'], RELOAD_DEFAULTS.maxSeconds) * 1000,
      });
      const { stdout, stderr, code } = formatReloadReport(report);
      process.stdout.write(stdout);
      process.stderr.write(stderr);
      return code;
    }
    case 'scale': {
      if (rest.length !== 2) throw new UsageError('scale takes an app name and a worker count: scale <app> <N>');
      const result = await runScale({
        dashboard: values.dashboard ?? DEFAULTS.dashboardListen,
        token: process.env.DRAGON_ADMIN_TOKEN,
        app: rest[0] as string,
        workers: rest[1] as string,
        timeoutMs: positiveInteger('max-seconds', values['max-seconds'], SCALE_DEFAULTS.maxSeconds) * 1000,
      });
      process.stdout.write(formatScaleResult(result));
      return 0;
    }
    case 'dashboard': {
      if (values.db === undefined) throw new UsageError('dashboard needs --db <file>, the runtime\'s timing store');
      const log = createLogger({ level: values['log-level'] ?? 'info', format });
      const dbPath = resolve(values.db);
      const { createRemoteControl, startDashboard } = await import('../dashboard/index.js');
      const control = createRemoteControl({ stats: values.stats ?? DEFAULTS.stats, dbPath });
      const history = openHistoryReader(dbPath);
      const dashboard = await startDashboard({
        listen: values.listen ?? DEFAULTS.dashboardListen,
        token: process.env.DRAGON_ADMIN_TOKEN,
        tokenSource: 'DRAGON_ADMIN_TOKEN',
        control,
        history,
        log: log.child({ component: 'dashboard' }),
      });
      log.info(`dashboard on http://${dashboard.address}/ - ${dashboard.loginHint}`);
      await untilSignal(log);
      await dashboard.close();
      control.close();
      history.close();
      return 0;
    }
    case 'load': {
      const result = await runLoad({
        target: rest[0] ?? LOAD_DEFAULTS.target,
        requests: positiveInteger('requests', values.requests, LOAD_DEFAULTS.requests),
        concurrency: positiveInteger('concurrency', values.concurrency, LOAD_DEFAULTS.concurrency),
        uri: values.uri ?? LOAD_DEFAULTS.uri,
        method: values.method ?? LOAD_DEFAULTS.method,
        maxSeconds: positiveInteger('max-seconds', values['max-seconds'], LOAD_DEFAULTS.maxSeconds),
      });
      process.stdout.write(formatLoadResult(result));
      return allSucceeded(result) ? 0 : 1;
    }
    default:
      throw new UsageError(command === undefined ? 'a command is needed' : `unknown command ${JSON.stringify(command)}`);
  }
}

async function serveUntilSignal(settings: RuntimeSettings, log: Logger): Promise<number> {
  // Under npx or `npm start` no SIGTERM reaches this process (parent-watch.ts): stop once the
  // process that started it is gone. Watched from here, so that an exit during the start counts.
  let stopWatching = (): void => {};
  const starterGone = new Promise<string>((resolveGone) => {
    if (!startedByPackageManager(process.env)) return;
    stopWatching = watchStarter((why) => {
      log.warn(`${why}: stopping as on SIGTERM`);
      resolveGone('starter gone');
    });
  });
  // Both read (and clear) their variables before anything forks: workers must not see them.
  useListenFds(takeListenFds(process.env, process.pid));
  const systemd = createNotifier(process.env, log);
  // And the admin token: an app's code, in a worker or in-process, must not hold the dashboard's key.
  const adminToken = process.env.DRAGON_ADMIN_TOKEN;
  delete process.env.DRAGON_ADMIN_TOKEN;
  const runtime = await startRuntime(settings, log, adminToken).catch((err: unknown) => {
    // `systemctl status` then shows why, beside the exit code.
    systemd.notify({ STATUS: `failed to start: ${isDragonError(err) ? `${err.code}: ${err.message}` : String(err)}` });
    throw err;
  });
  const serving = `serving ${runtime.server.addresses.join(', ')}`;
  // An app's stray async error must not take every other app down with it.
  process.on('uncaughtException', (err) => log.error({ err }, `uncaught exception (serving goes on): ${err.message}`));
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, `unhandled rejection (serving goes on): ${String(reason)}`));
  // Every signal handler is in place before READY=1: systemd or a script may reload or stop the
  // service the moment it is told so, and Node's default for SIGHUP and SIGUSR1 is to exit.
  // SIGHUP: graceful reload (new workers with fresh code, then the old ones drain), as uWSGI,
  // Gunicorn and nginx do it. READY=1 once every SIGHUP's reloads have ended: one that arrives
  // during a reload waits for a follow-up reload, and systemd must not take the first one's end
  // for the second's.
  let sighupReloads = 0;
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading every app\'s workers');
    sighupReloads++;
    systemd.notify({ RELOADING: 1, MONOTONIC_USEC: monotonicUsec(), STATUS: 'reloading' });
    void runtime.server.reloadAll('SIGHUP').finally(() => {
      if (--sighupReloads === 0) systemd.notify({ READY: 1, STATUS: serving });
    });
  });
  // logrotate's postrotate sends SIGUSR1 (as to nginx): log.file is reopened here and in every worker.
  process.on('SIGUSR1', () => void reopenLogs(runtime.server, log));
  const stopSignal = untilSignal(log);
  // Type=notify: every listener accepts (or queues in its backlog) from here on.
  systemd.notify({ READY: 1, MAINPID: process.pid, STATUS: serving });
  systemd.startWatchdog();
  const signal = await Promise.race([stopSignal, starterGone]);
  stopWatching();
  log.info(`${signal}: stopping; waiting up to ${settings.drainTimeoutMs} ms for ${runtime.server.inFlight} requests in flight`);
  systemd.notify({ STOPPING: 1, STATUS: `stopping: draining ${runtime.server.inFlight} requests` });
  systemd.close();
  await runtime.close();
  const figures = runtime.store?.figures();
  log.info(figures ? `stopped; timing store wrote ${figures.rows} rows (${figures.dropped} dropped)` : 'stopped');
  return 0;
}

async function reopenLogs(server: RuntimeHandle['server'], log: Logger): Promise<void> {
  const files = reopenLogFiles();
  const pids = (await server.snapshot()).apps.flatMap((app) => app.workerPids);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGUSR1');
    } catch {
      // Gone meanwhile: its replacement opens the file afresh anyway.
    }
  }
  log.info(`SIGUSR1: ${files === 0 ? 'no log file to reopen (logging to stdout)' : files === 1 ? 'log file reopened' : `${files} log files reopened`}${pids.length > 0 ? `, passed on to workers ${pids.join(' ')}` : ''}`);
}

/**
 * Resolves on the first SIGTERM or SIGINT; a third one exits at once. The second does not: a
 * script, a unit's KillMode or an impatient Ctrl-C often sends two within milliseconds, and
 * exiting then lost every timing row not yet written.
 */
function untilSignal(log: Logger): Promise<string> {
  return new Promise((resolveSignal) => {
    let received = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      received++;
      if (received === 2) {
        log.warn(`${signal} again: still stopping (the timing store is flushed first); a third signal exits at once`);
        return;
      }
      if (received > 2) {
        log.warn(`${signal} a third time: exiting now; timing rows not yet written are lost`);
        process.exit(1);
      }
      resolveSignal(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`dragon-on-wheels: ${err.message}\n\n${USAGE}`);
      process.exit(2);
    }
    const message = isDragonError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.stack ?? err.message : String(err);
    process.stderr.write(`dragon-on-wheels: ${message}\n`);
    process.exit(isDragonError(err) && /CONFIG|LISTEN|ADDRESS|APP_MODULE|DASHBOARD_BIND|WEAK_TOKEN|MIGRATION|LOG_FILE/.test(err.code) ? 2 : 1);
  },
);
