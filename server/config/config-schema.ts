/**
 * @module config-schema
 * The JSON schema of the config file (`dragon-on-wheels serve <file>`), checked with Ajv as
 * Fastify does. Unknown keys are errors: a typo must not silently fall back to a default.
 * Times are in ms, sizes in bytes.
 */

import { MAX_LIMITS } from '../protocol/limits.js';

const APP_NAME = '^[A-Za-z_][A-Za-z0-9_]*$';
const LISTEN = '^(unix:.+|(\\[[0-9A-Fa-f:.]+\\]|[^:\\s]+):\\d{1,5})$';
// Apps and the stats port may also take a socket passed by systemd (FileDescriptorName=).
const SOCKET_LISTEN = `^(systemd:[!-9;-~]{1,255}|${LISTEN.slice(2)}`;
// A user or a group: a name or a numeric id.
const ID = { anyOf: [{ type: 'string', minLength: 1, pattern: '^[^:\\s]+$' }, { type: 'integer', minimum: 0 }] } as const;
// The description shows in config errors ("must be integer (milliseconds), not \"1d\"").
const ms = { type: 'integer', minimum: 0, description: 'milliseconds' } as const;
// Descriptions of anyOf branches name the choices in config errors (server/config/config-errors.ts).
const OFF = { const: false, description: 'false to switch it off' } as const;
export const MAX_WORKERS = 256;

export const appSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'listen', 'module'],
  properties: {
    name: { type: 'string', pattern: APP_NAME },
    listen: { type: 'string', pattern: SOCKET_LISTEN },
    module: { type: 'string', minLength: 1 },
    export: { type: 'string', minLength: 1 },
    type: { enum: ['node', 'fetch', 'auto'] },
    threads: { type: 'integer', minimum: 1, maximum: 1024 },
    queue: { type: 'integer', minimum: 0 },
    queueTimeout: ms,
    requestTimeout: ms,
    mount: { type: 'string', pattern: '^(/[^?#]*)?$' },
    // What the front end's FIN after the request means (docs/frontends.md, "Client disconnects").
    halfClose: { enum: ['abort', 'answer'] },
    // What the front end speaks to this app: SCGI, or HTTP/1.1 with keep-alive (proxy_pass).
    protocol: { enum: ['scgi', 'http'] },
    // scgi: the socket I/O: the native core, node:net, or native where it built (docs/architecture.md).
    io: { enum: ['auto', 'native', 'node'] },
    // http: idle keep-alive connections are closed after this; keep it above the front end's.
    keepAliveTimeout: ms,
    // http: peers whose X-Forwarded-* headers are believed (IPs, CIDRs, 'loopback'...), or false.
    trustProxy: {
      anyOf: [
        { type: 'array', maxItems: 64, items: { type: 'string', minLength: 1, pattern: '^([0-9A-Fa-f:.]+(/\\d{1,3})?|loopback|linklocal|uniquelocal)$' } },
        OFF,
      ],
    },
    socketMode: { type: 'integer', minimum: 0, maximum: 0o777 },
    socketOwner: ID,
    socketGroup: ID,
    // Worker processes (0: the app runs inside the supervisor); 'auto': one per core.
    workers: { anyOf: [{ type: 'integer', minimum: 0, maximum: MAX_WORKERS }, { enum: ['auto'] }] },
    hangTimeout: ms,
    maxRequests: { type: 'integer', minimum: 0 },
    /** RSS in MiB. */
    maxMemory: { type: 'integer', minimum: 0 },
    // The thread limit follows the app's measured service time within [min, max] (docs/adaptive.md).
    adaptive: {
      type: 'object',
      additionalProperties: false,
      required: ['min', 'max'],
      properties: {
        min: { type: 'integer', minimum: 1, maximum: 1024 },
        max: { type: 'integer', minimum: 1, maximum: 1024 },
        tolerance: { type: 'number', exclusiveMinimum: 0, maximum: 10, description: 'how much slower than unloaded the service may get, 0.5 = 50 %' },
        window: { type: 'integer', minimum: 100, maximum: 60_000, description: 'milliseconds' },
      },
    },
  },
} as const;

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['apps'],
  properties: {
    stats: { anyOf: [{ type: 'string', pattern: SOCKET_LISTEN, description: '"host:port" or "unix:/path.sock"' }, OFF] },
    // Prometheus scrapes over TCP; a Unix socket still works for curl --unix-socket and a local agent.
    metrics: { anyOf: [{ type: 'string', pattern: LISTEN, description: '"host:port" (for example "127.0.0.1:9101") or "unix:/path.sock"' }, OFF] },
    apps: { type: 'array', minItems: 1, items: appSchema },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        // The maxima are what every path can carry (MAX_LIMITS in server/protocol/limits.ts).
        maxHeaderBytes: { type: 'integer', minimum: 256, maximum: MAX_LIMITS.maxHeaderBytes },
        maxBodyBytes: { type: 'integer', minimum: 0, maximum: MAX_LIMITS.maxBodyBytes },
        headerTimeout: { type: 'integer', minimum: 1, maximum: MAX_LIMITS.headerTimeoutMs },
        bodyIdleTimeout: { type: 'integer', minimum: 1, maximum: MAX_LIMITS.bodyIdleTimeoutMs },
      },
    },
    drainTimeout: ms,
    log: {
      type: 'object',
      additionalProperties: false,
      properties: {
        level: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
        // auto: readable on a terminal, JSON lines otherwise (a pipe, journald, a file).
        format: { enum: ['auto', 'pretty', 'json'] },
        // Lines are appended here instead of stdout; SIGUSR1 reopens it (logrotate).
        file: { type: 'string', minLength: 1 },
        // One line per request: true (or 'json') as the other lines, 'combined' as Apache/nginx.
        access: { anyOf: [{ type: 'boolean' }, { enum: ['json', 'combined'] }] },
      },
    },
    store: {
      anyOf: [
        OFF,
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            path: { type: 'string', minLength: 1 },
            recordPaths: { type: 'boolean' },
            flushInterval: { type: 'integer', minimum: 10 },
            bufferRows: { type: 'integer', minimum: 1 },
            retention: {
              type: 'object',
              additionalProperties: false,
              properties: {
                rawMaxAge: ms,
                rawMaxRows: { type: 'integer', minimum: 0 },
                rollupMaxAge: ms,
              },
            },
          },
        },
      ],
    },
    dashboard: {
      anyOf: [
        OFF,
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            listen: { type: 'string', pattern: LISTEN },
            // 32 characters at least; the dashboard also refuses a repetitive one (token-strength.ts).
            token: { type: 'string', minLength: 32 },
            // Names (host or host:port) the dashboard is reached under besides loopback, e.g.
            // behind a reverse proxy; they are also the Origins its page may send changes from.
            allowedHosts: { type: 'array', items: { type: 'string', minLength: 1, pattern: '^[^\\s/@]+$' }, maxItems: 64 },
            // Proxies (IPs or CIDRs) whose X-Forwarded-For names the client (throttle, audit).
            trustedProxies: { type: 'array', items: { type: 'string', minLength: 1, pattern: '^[0-9A-Fa-f:.]+(/\\d{1,3})?$' }, maxItems: 64 },
          },
        },
      ],
    },
    persistLimits: { type: 'boolean' },
    // Started as root: what every process that runs app code runs as (the supervisor too, once
    // its sockets are bound and its store is open).
    user: ID,
    group: ID,
  },
} as const;
