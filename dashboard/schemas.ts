/**
 * @module schemas
 * JSON schemas of every request and response of the dashboard API. Fastify validates requests
 * and serializes responses with them (a field missing from a schema never reaches a client), and
 * docs/dashboard-api.md documents the same shapes.
 */
import { MAX_THREADS, MAX_WORKERS } from '../shared/runtime-control.js';
import { WINDOWS_MS } from '../shared/history.js';

const nullableNumber = { type: ['number', 'null'] } as const;
const integer = { type: 'integer' } as const;

/** App names as the runtime accepts them; the cap keeps URLs and log lines bounded. */
export const appNameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

export const errorBody = {
  type: 'object',
  required: ['statusCode', 'code', 'error', 'message'],
  properties: {
    statusCode: integer,
    code: { type: 'string' },
    error: { type: 'string' },
    message: { type: 'string' },
  },
} as const;

export const percentiles = {
  type: 'object',
  required: ['p50', 'p95', 'p99'],
  properties: { p50: nullableNumber, p95: nullableNumber, p99: nullableNumber },
} as const;

export const overviewBody = {
  type: 'object',
  required: ['reachable', 'error', 'checkedAtMs', 'version', 'pid', 'startTimeMs', 'uptimeS', 'uptimeStr', 'requests', 'online', 'appCount', 'history'],
  properties: {
    reachable: { type: 'boolean' },
    /** Why the runtime could not be read; null when reachable. */
    error: { type: ['string', 'null'] },
    checkedAtMs: integer,
    version: { type: ['string', 'null'] },
    pid: { type: ['integer', 'null'] },
    startTimeMs: nullableNumber,
    uptimeS: nullableNumber,
    uptimeStr: { type: ['string', 'null'] },
    requests: { type: ['integer', 'null'] },
    online: { type: ['integer', 'null'] },
    appCount: { type: ['integer', 'null'] },
    /** Whether a timing store is attached (charts, percentiles, audit log). */
    history: { type: 'boolean' },
  },
} as const;

const windowSummary = {
  type: ['object', 'null'],
  required: ['windowMs', 'count', 'reqPerS', 'errorRate', 'rejected', 'timeouts', 'aborted', 'service', 'queue'],
  properties: {
    windowMs: integer,
    count: integer,
    reqPerS: { type: 'number' },
    // How much of the window a server run was recording, and how many runs (2 after a restart).
    recordedMs: nullableNumber,
    runs: { type: ['integer', 'null'] },
    errorRate: nullableNumber,
    rejected: integer,
    timeouts: integer,
    aborted: integer,
    service: percentiles,
    queue: percentiles,
  },
} as const;

export const appCard = {
  type: 'object',
  required: [
    'name', 'listen', 'mount', 'threads', 'online', 'queued', 'requests', 'rejected', 'errors', 'timeouts', 'aborted',
    'workers', 'restarts', 'hangs', 'workerPids', 'backoffMs', 'websockets', 'upgrades', 'recent',
  ],
  properties: {
    name: { type: 'string' },
    listen: { type: 'string' },
    mount: { type: 'string' },
    threads: integer,
    online: integer,
    queued: integer,
    requests: integer,
    rejected: integer,
    errors: integer,
    timeouts: integer,
    aborted: integer,
    /** Live worker processes; 0 for an app that runs in-process. */
    workers: integer,
    restarts: integer,
    hangs: integer,
    workerPids: { type: 'array', items: integer },
    /** Time left before a crash-looping app's next restart, ms; 0 otherwise. */
    backoffMs: { type: 'number' },
    /** Upgraded connections (WebSockets) open now, and upgrades since the start. */
    websockets: integer,
    upgrades: integer,
    /** The last 5 minutes from the timing store; null without one. */
    recent: windowSummary,
    /** Apps with `adaptive` only. */
    threadsMode: { enum: ['adaptive', 'fixed'] },
    threadsReason: { type: 'string' },
  },
} as const;

export const appsBody = {
  type: 'object',
  required: ['reachable', 'checkedAtMs', 'apps', 'historyUnavailable'],
  properties: {
    reachable: { type: 'boolean' },
    checkedAtMs: integer,
    apps: { type: 'array', items: appCard },
    /** Why the timing store could not be read, the history then being empty; null when it was. */
    historyUnavailable: { type: ['string', 'null'] },
  },
} as const;

export const auditEntry = {
  type: 'object',
  required: ['id', 'atMs', 'app', 'oldThreads', 'newThreads', 'source'],
  properties: {
    id: integer,
    atMs: { type: 'number' },
    app: { type: 'string' },
    oldThreads: integer,
    newThreads: integer,
    source: { type: 'string' },
  },
} as const;

export const eventKinds = ['reload', 'restart', 'hang', 'recycle', 'scale'] as const;

export const eventEntry = {
  type: 'object',
  required: ['id', 'atMs', 'app', 'kind', 'pid', 'detail', 'source'],
  properties: {
    id: integer,
    atMs: { type: 'number' },
    app: { type: 'string' },
    kind: { type: 'string', enum: eventKinds },
    /** The worker concerned; 0 for a whole-app reload. */
    pid: integer,
    detail: { type: 'string' },
    source: { type: 'string' },
  },
} as const;

const statusCounts = {
  type: 'object',
  required: ['1xx', '2xx', '3xx', '4xx', '5xx'],
  properties: { '1xx': integer, '2xx': integer, '3xx': integer, '4xx': integer, '5xx': integer },
} as const;

const seriesPoint = {
  type: 'object',
  required: ['t', 'count', 'status', 'rejected', 'timeouts', 'aborted', 'service', 'queue'],
  properties: {
    t: { type: 'number' },
    count: integer,
    status: statusCounts,
    rejected: integer,
    timeouts: integer,
    aborted: integer,
    service: percentiles,
    queue: percentiles,
  },
} as const;

export const windowNames = Object.keys(WINDOWS_MS);

export const seriesQuery = {
  type: 'object',
  properties: { window: { type: 'string', enum: windowNames, default: '1h' } },
  additionalProperties: false,
} as const;

export const seriesBody = {
  type: 'object',
  required: ['app', 'window', 'fromMs', 'toMs', 'stepMs', 'points', 'markers', 'events', 'history', 'historyUnavailable'],
  properties: {
    app: { type: 'string' },
    window: { type: 'string', enum: windowNames },
    fromMs: { type: 'number' },
    toMs: { type: 'number' },
    stepMs: { type: 'number' },
    points: { type: 'array', items: seriesPoint },
    /** Thread-limit changes inside the window, oldest first: the charts' vertical markers. */
    markers: { type: 'array', items: auditEntry },
    /** Runtime events (reload, restart, hang, recycle) inside the window, oldest first. */
    events: { type: 'array', items: eventEntry },
    history: { type: 'boolean' },
    /** Why the timing store could not be read, the history then being empty; null when it was. */
    historyUnavailable: { type: ['string', 'null'] },
  },
} as const;

export const auditQuery = {
  type: 'object',
  properties: {
    app: { type: 'string', minLength: 1, maxLength: 200 },
    sinceMs: { type: 'integer', minimum: 0 },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
  additionalProperties: false,
} as const;

export const auditBody = {
  type: 'object',
  required: ['entries', 'history', 'historyUnavailable'],
  properties: {
    /** Newest first. */
    entries: { type: 'array', items: auditEntry },
    history: { type: 'boolean' },
    /** Why the timing store could not be read, the history then being empty; null when it was. */
    historyUnavailable: { type: ['string', 'null'] },
  },
} as const;

export const runtimeEventsQuery = {
  type: 'object',
  properties: {
    app: { type: 'string', minLength: 1, maxLength: 200 },
    sinceMs: { type: 'integer', minimum: 0 },
    untilMs: { type: 'integer', minimum: 0 },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
  additionalProperties: false,
} as const;

export const runtimeEventsBody = {
  type: 'object',
  required: ['entries', 'history', 'historyUnavailable'],
  properties: {
    /** Newest first. */
    entries: { type: 'array', items: eventEntry },
    history: { type: 'boolean' },
    /** Why the timing store could not be read, the history then being empty; null when it was. */
    historyUnavailable: { type: ['string', 'null'] },
  },
} as const;

export const threadsRequest = {
  type: 'object',
  required: ['threads'],
  properties: { threads: { type: 'integer', minimum: 1, maximum: MAX_THREADS } },
  additionalProperties: false,
} as const;

export const threadsBody = {
  type: 'object',
  required: ['app', 'oldThreads', 'newThreads'],
  properties: { app: { type: 'string' }, oldThreads: integer, newThreads: integer },
} as const;

export const workersRequest = {
  type: 'object',
  required: ['workers'],
  properties: { workers: { type: 'integer', minimum: 1, maximum: MAX_WORKERS } },
  additionalProperties: false,
} as const;

export const workersBody = {
  type: 'object',
  required: ['app', 'oldWorkers', 'newWorkers', 'startedPids', 'stoppedPids', 'tookMs'],
  properties: {
    app: { type: 'string' },
    oldWorkers: integer,
    newWorkers: integer,
    startedPids: { type: 'array', items: integer },
    stoppedPids: { type: 'array', items: integer },
    tookMs: { type: 'number' },
  },
} as const;

export const threadsModeRequest = {
  type: 'object',
  required: ['mode'],
  properties: { mode: { enum: ['adaptive', 'fixed'] } },
  additionalProperties: false,
} as const;

export const threadsModeBody = {
  type: 'object',
  required: ['app', 'mode', 'threads'],
  properties: { app: { type: 'string' }, mode: { enum: ['adaptive', 'fixed'] }, threads: integer },
} as const;

/** A reload takes no parameters: no body (the route reads it as `{}`) or an empty object. */
export const reloadRequest = {
  type: 'object',
  properties: {},
  additionalProperties: false,
} as const;

export const reloadBody = {
  type: 'object',
  required: ['app', 'oldPids', 'newPids', 'tookMs'],
  properties: {
    app: { type: 'string' },
    oldPids: { type: 'array', items: integer },
    newPids: { type: 'array', items: integer },
    tookMs: { type: 'number' },
  },
} as const;

export const loginQuery = {
  type: 'object',
  required: ['token'],
  properties: { token: { type: 'string', minLength: 1, maxLength: 512 } },
} as const;

/** Error statuses every protected route can answer. */
export const commonErrors = {
  400: errorBody,
  401: errorBody,
  403: errorBody,
  404: errorBody,
  421: errorBody,
  429: errorBody,
  500: errorBody,
  503: errorBody,
} as const;

/**
 * DOW_ERR_RELOAD and DOW_ERR_SCALE are 409s: not possible for this app (in-process, a worker
 * count above its thread limit) or from here (a dashboard in its own process).
 */
export const conflictErrors = { ...commonErrors, 409: errorBody } as const;
