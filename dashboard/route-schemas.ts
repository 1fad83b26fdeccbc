/**
 * @module route-schemas
 * JSON schemas of the per-route answers: an app's routes over a window, its slowest requests,
 * and the requests running now. Kept apart from schemas.ts, whose shared pieces they reuse.
 */
import { MAX_ROUTE_LENGTH } from '../shared/store/schema.js';
import { percentiles, windowNames } from './schemas.js';

const nullableNumber = { type: ['number', 'null'] } as const;

export const routesQuery = {
  type: 'object',
  properties: { window: { type: 'string', enum: windowNames, default: '1h' } },
  additionalProperties: false,
} as const;

const routeEntry = {
  type: 'object',
  required: ['method', 'route', 'count', 'errors', 'p50Ms', 'p95Ms', 'p99Ms', 'totalMs'],
  properties: {
    method: { type: 'string' },
    route: { type: 'string' },
    count: { type: 'integer' },
    /** Requests answered 5xx. */
    errors: { type: 'integer' },
    p50Ms: nullableNumber,
    p95Ms: nullableNumber,
    p99Ms: nullableNumber,
    /** Service time summed over the window. */
    totalMs: { type: 'number' },
  },
} as const;

const historyFields = {
  history: { type: 'boolean' },
  /** Why the timing store could not be read, the list then being empty; null when it was. */
  historyUnavailable: { type: ['string', 'null'] },
} as const;

export const routesBody = {
  type: 'object',
  required: ['app', 'window', 'fromMs', 'toMs', 'routes', 'history', 'historyUnavailable'],
  properties: {
    app: { type: 'string' },
    window: { type: 'string', enum: windowNames },
    fromMs: { type: 'number' },
    toMs: { type: 'number' },
    /** By total time, largest first. */
    routes: { type: 'array', items: routeEntry },
    ...historyFields,
  },
} as const;

export const routeSeriesQuery = {
  type: 'object',
  required: ['method', 'route'],
  properties: {
    window: { type: 'string', enum: windowNames, default: '1h' },
    /** As the routes list gives it: `GET`, or `*` for the overflow route. */
    method: { type: 'string', minLength: 1, maxLength: 32 },
    route: { type: 'string', minLength: 1, maxLength: MAX_ROUTE_LENGTH },
  },
  additionalProperties: false,
} as const;

export const routeSeriesBody = {
  type: 'object',
  required: ['app', 'method', 'route', 'window', 'fromMs', 'toMs', 'stepMs', 'points', 'history', 'historyUnavailable'],
  properties: {
    app: { type: 'string' },
    method: { type: 'string' },
    route: { type: 'string' },
    window: { type: 'string', enum: windowNames },
    fromMs: { type: 'number' },
    toMs: { type: 'number' },
    stepMs: { type: 'number' },
    /** Every bucket of the window, oldest first; latencies are service times in ms. */
    points: {
      type: 'array',
      items: {
        type: 'object',
        required: ['t', 'count', 'errors', 'service'],
        properties: { t: { type: 'number' }, count: { type: 'integer' }, errors: { type: 'integer' }, service: percentiles },
      },
    },
    ...historyFields,
  },
} as const;

const MAX_SLOWEST = 100;

export const slowestQuery = {
  type: 'object',
  properties: {
    window: { type: 'string', enum: windowNames, default: '1h' },
    limit: { type: 'integer', minimum: 1, maximum: MAX_SLOWEST, default: 20 },
  },
  additionalProperties: false,
} as const;

export const slowestBody = {
  type: 'object',
  required: ['app', 'window', 'requests', 'history', 'historyUnavailable'],
  properties: {
    app: { type: 'string' },
    window: { type: 'string', enum: windowNames },
    /** Longest service time first. */
    requests: {
      type: 'array',
      items: {
        type: 'object',
        required: ['atMs', 'method', 'path', 'route', 'status', 'queueMs', 'serviceMs'],
        properties: {
          atMs: { type: 'number' },
          method: { type: 'string' },
          /** Null when path recording is off. */
          path: { type: ['string', 'null'] },
          /** Null for rows written before routes were recorded. */
          route: { type: ['string', 'null'] },
          status: { type: 'integer' },
          queueMs: { type: 'number' },
          serviceMs: { type: 'number' },
        },
      },
    },
    ...historyFields,
  },
} as const;

export const processesBody = {
  type: 'object',
  required: ['app', 'atMs', 'available', 'workers'],
  properties: {
    app: { type: 'string' },
    atMs: { type: 'number' },
    available: { type: 'boolean' },
    /** By worker slot. */
    workers: {
      type: 'array',
      items: {
        type: 'object',
        required: ['pid', 'startedAtMs', 'cpuSeconds', 'rssBytes', 'requests', 'state'],
        properties: {
          pid: { type: 'integer' },
          startedAtMs: { type: 'number' },
          cpuSeconds: { type: 'number' },
          rssBytes: { type: 'number' },
          requests: { type: 'integer' },
          state: { type: 'string' },
        },
      },
    },
  },
} as const;

export const inflightBody = {
  type: 'object',
  required: ['app', 'atMs', 'available', 'requests'],
  properties: {
    app: { type: 'string' },
    atMs: { type: 'number' },
    /** False where the runtime cannot list them (a dashboard reading it through its stats port). */
    available: { type: 'boolean' },
    /** Oldest first. */
    requests: {
      type: 'array',
      items: {
        type: 'object',
        required: ['method', 'path', 'route', 'ageMs', 'queued', 'worker'],
        properties: {
          method: { type: 'string' },
          path: { type: 'string' },
          route: { type: 'string' },
          ageMs: { type: 'number' },
          queued: { type: 'boolean' },
          worker: { type: 'integer' },
        },
      },
    },
  },
} as const;
