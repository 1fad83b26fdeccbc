/**
 * @module start-runtime
 * The composition root: the only place that wires the supervisor, the timing store and the
 * dashboard together (server/ and dashboard/ never import each other). Starts everything or nothing.
 */
import type { Logger } from 'pino';
import type { RunningDashboard } from '../dashboard/index.js';
import { checkDashboardStart } from '../dashboard/start-check.js';
import type { HistoryReader } from '../shared/history.js';
import { openHistoryReader } from '../shared/store/history-reader.js';
import type { RuntimeSettings } from '../server/config/config.js';
import { chooseSetting, chooseThreads, CONFIG_SOURCE } from '../server/store/limit-restore.js';
import { Supervisor } from '../server/supervisor/supervisor.js';
import { createTimingStore, type TimingStore } from '../server/store/timing-store.js';
import { dropPrivileges, handOverStore } from '../server/supervisor/drop-privileges.js';
import { decideIo, defaultIoMode } from '../server/native/io-choice.js';

/** How long the start waits for the store's first open before it goes on without knowing. */
const STORE_OPEN_WAIT_MS = 5000;

export interface RuntimeHandle {
  server: Supervisor;
  store: TimingStore | null;
  dashboard: RunningDashboard | null;
  /** Graceful stop: drain requests, stop the dashboard, then flush the store. */
  close(): Promise<void>;
}

/**
 * Throws what the start would refuse once under way (an app's `io: 'native'` the core cannot
 * serve, the dashboard's bind and token), before anything is opened or bound: `check` asks the
 * same, and serve never announces apps UP only to stop over the dashboard.
 */
export function checkRuntimeSettings(settings: RuntimeSettings, adminToken?: string): void {
  for (const app of settings.apps) {
    if ((app.options.protocol ?? 'scgi') !== 'scgi') continue;
    const io = decideIo(app.options.name, app.options.io ?? defaultIoMode(), settings.limits);
    if (io.error !== undefined) throw io.error;
  }
  checkDashboardSettings(settings, adminToken);
}

/** The dashboard's part of checkRuntimeSettings. */
export function checkDashboardSettings(settings: RuntimeSettings, adminToken: string | undefined): void {
  if (settings.dashboard) checkDashboardStart(dashboardCredentials(settings.dashboard, adminToken));
}

/** The token the dashboard runs with, and where it came from, for its messages. */
function dashboardCredentials(dashboard: NonNullable<RuntimeSettings['dashboard']>, adminToken: string | undefined): { listen: string; token: string | undefined; tokenSource: string } {
  return {
    listen: dashboard.listen,
    token: dashboard.token ?? adminToken,
    tokenSource: dashboard.token === undefined ? 'DRAGON_ADMIN_TOKEN' : 'dashboard.token in the config',
  };
}

/**
 * persistLimits: each app's thread limit and worker count as last set at run time, unless the
 * config's value changed since the start that recorded it (that one wins). Threads first: a
 * restored worker count may need the restored limit's slots.
 */
async function restoreSettings(settings: RuntimeSettings, server: Supervisor, store: TimingStore, log: Logger): Promise<void> {
  const saved = await store.latestSettings();
  const scales: Array<Promise<void>> = [];
  for (const app of settings.apps) {
    const name = app.options.name;
    const configured = app.options.threads;
    const choice = chooseThreads(configured, saved.threads.get(name));
    if (choice.value !== configured) server.restoreThreads(name, choice.value, choice.why ?? 'restored');
    else if (choice.why !== null) log.info({ app: name }, `${name}: threads ${configured}: ${choice.why}`);
    if (choice.recordConfig) {
      store.recordLimitChange({ app: name, atMs: Date.now(), oldThreads: saved.threads.get(name)?.threads ?? configured, newThreads: configured, source: CONFIG_SOURCE });
    }
    const workers = app.workers?.count ?? 0;
    // An in-process app has no worker count to restore.
    if (workers === 0) continue;
    const count = chooseSetting('workers', workers, saved.workers.get(name));
    if (count.value !== workers) {
      scales.push(server.restoreWorkers(name, count.value, count.why ?? 'restored').catch((err: unknown) => {
        log.error({ app: name }, `${name}: cannot restore ${count.value} workers, ${workers} serve: ${err instanceof Error ? err.message : String(err)}`);
      }));
    } else if (count.why !== null) log.info({ app: name }, `${name}: workers ${workers}: ${count.why}`);
    if (count.recordConfig) {
      store.recordWorkersChange({ app: name, atMs: Date.now(), oldWorkers: saved.workers.get(name)?.value ?? workers, newWorkers: workers, source: CONFIG_SOURCE });
    }
  }
  await Promise.all(scales);
}

export async function startRuntime(settings: RuntimeSettings, log: Logger, adminToken?: string): Promise<RuntimeHandle> {
  checkRuntimeSettings(settings, adminToken);
  const storeSettings = settings.store;
  const store = storeSettings
    ? createTimingStore({
        path: storeSettings.path,
        recordPaths: storeSettings.recordPaths,
        retention: storeSettings.retention,
        logger: log.child({ component: 'store' }),
        ...(storeSettings.flushIntervalMs === undefined ? {} : { flushIntervalMs: storeSettings.flushIntervalMs }),
        ...(storeSettings.bufferRows === undefined ? {} : { bufferRows: storeSettings.bufferRows }),
      })
    : null;
  const server = new Supervisor(settings, log, store);
  let dashboard: RunningDashboard | null = null;
  let history: HistoryReader | null = null;
  try {
    await server.start();
    if (store && storeSettings) {
      // A store that cannot write logs its own ERROR (with what to do); INFO only when it writes.
      const failure = await Promise.race([store.started, new Promise<undefined>((r) => setTimeout(() => r(undefined), STORE_OPEN_WAIT_MS).unref())]);
      if (failure === null) log.info(`timing store: ${storeSettings.path}`);
      else if (failure === undefined) log.warn(`timing store: ${storeSettings.path} not open after ${STORE_OPEN_WAIT_MS} ms; serving goes on`);
      if (settings.persistLimits) await restoreSettings(settings, server, store, log);
      // The separate-process dashboard asks for limit changes through the database.
      store.onThreadsCommand(async (command) => {
        const { oldThreads } = await server.setThreads(command.app, command.threads, command.source);
        return { oldThreads };
      });
    }
    if (settings.dashboard) {
      history = storeSettings ? openHistoryReader(storeSettings.path) : null;
      // Loaded only when it runs: Fastify and the dashboard's routes stay out of a runtime without it.
      const { startDashboard } = await import('../dashboard/index.js');
      dashboard = await startDashboard({
        ...dashboardCredentials(settings.dashboard, adminToken),
        ...(settings.dashboard.allowedHosts === undefined ? {} : { allowedHosts: settings.dashboard.allowedHosts }),
        ...(settings.dashboard.trustedProxies === undefined ? {} : { trustedProxies: settings.dashboard.trustedProxies }),
        control: server,
        history,
        log: log.child({ component: 'dashboard' }),
      });
      log.info(`dashboard on http://${dashboard.address}/ - ${dashboard.loginHint}`);
    }
    // Everything that needs root is done: sockets bound and chown-ed, store open, dashboard up.
    if (settings.runAs) {
      if (storeSettings) await handOverStore(storeSettings.path, settings.runAs, log);
      dropPrivileges(settings.runAs, log);
    }
  } catch (err) {
    await server.stop(0);
    history?.close();
    await store?.close();
    throw err;
  }
  return {
    server,
    store,
    dashboard,
    async close() {
      await server.stop(settings.drainTimeoutMs);
      await dashboard?.close();
      // The reader first: SQLite removes the -wal and -shm files when the last connection closes,
      // and only a writer can; a read-only connection closing last leaves them behind.
      history?.close();
      await store?.close();
    },
  };
}
