/**
 * @module dragon-on-wheels
 * The package's programmatic API: build a Server from (listen address, app or stats) pairs, as the
 * original's run-script did (in-process), or load a config file and run it under a Supervisor with
 * worker processes, the way `dragon-on-wheels serve` does.
 */
export { Server, type ServerOptions } from './listen/server.js';
export type { ListenerSpec, Processor } from './listen/listener.js';
export { Supervisor } from './supervisor/supervisor.js';
export type { AppOptions } from './host/app-host.js';
export type { AppHandler } from './adapters/app-handler.js';
export type { NodeListener } from './adapters/node/node-adapter.js';
export type { ScgiRequestInfo } from './adapters/scgi-request-info.js';
export type { FetchHandler } from './adapters/fetch/fetch-adapter.js';
export { toAppHandler, loadApp, type AppType } from './host/app-loader.js';
export { loadConfigFile, settingsFromConfig, type RuntimeSettings } from './config/config.js';
export { createTimingStore, type TimingStore, type TimingStoreOptions } from './store/timing-store.js';
// `user`/`group` from code: workers are forked as the user; the supervisor switches when told.
export { dropPrivileges, handOverStore } from './supervisor/drop-privileges.js';
export type { RunAs } from './config/config-credentials.js';
// Socket activation from code: call useListenFds(takeListenFds(process.env, process.pid)) before start().
export { takeListenFds, useListenFds } from './systemd/listen-fds.js';
export { DEFAULT_LIMITS, type ScgiLimits } from './protocol/limits.js';
export { errors, DragonError, isDragonError } from '../shared/errors.js';
