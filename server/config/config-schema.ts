/**
 * @module config-schema
 * The JSON schema of the config file (`dragon-on-wheels serve <file>`), checked with Ajv as
 * Fastify does. Unknown keys are errors: a typo must not silently fall back to a default.
 * Times are in ms, sizes in bytes.
 */

import { MAX_WORKERS } from '../../shared/runtime-control.js';
import { OVERFLOW_ROUTE, ROUTES_PER_APP } from '../../shared/store/schema.js';
import { MAX_LIMITS } from '../protocol/limits.js';
import { ENV_NAME } from './dotenv.js';

const APP_NAME = '^[A-Za-z_][A-Za-z0-9_]*$';
const LISTEN = '^(unix:.+|(\\[[0-9A-Fa-f:.]+\\]|[^:\\s]+):\\d{1,5})$';
// Apps and the stats port may also take a socket passed by systemd (FileDescriptorName=).
const SOCKET_LISTEN = `^(systemd:[!-9;-~]{1,255}|${LISTEN.slice(2)}`;
// A user or a group: a name or a numeric id.
const ID = { anyOf: [{ type: 'string', minLength: 1, pattern: '^[^:\\s]+$' }, { type: 'integer', minimum: 0 }] } as const;
// A `title` is the short note config errors show ("must be integer (milliseconds), not \"1d\"");
// a `description` is the key's entry in docs/configuration.md (scripts/gen-config-doc.ts).
const ms = (description: string) => ({ type: 'integer', minimum: 0, title: 'milliseconds', description }) as const;
// Titles of anyOf branches name the choices in config errors (server/config/config-errors.ts).
const OFF = { const: false, title: 'false to switch it off' } as const;

export const appSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'listen', 'module'],
  properties: {
    name: { type: 'string', pattern: APP_NAME, description: 'Required. The app\'s name, `[A-Za-z_][A-Za-z0-9_]*`: it becomes part of the stats port\'s sh variable names.' },
    listen: { type: 'string', pattern: SOCKET_LISTEN, description: 'Required. Where the front end reaches the app: `"127.0.0.1:9002"`, `"unix:/run/dragon/shop.sock"`, or `"systemd:shop"` (a socket passed by systemd, docs/deploy.md).' },
    module: { type: 'string', minLength: 1, description: 'Required. The app\'s module, relative to the config file\'s folder.' },
    // Worker processes only (one process has one working directory).
    cwd: { type: 'string', minLength: 1, description: 'Worker processes: the folder the app runs in, relative to the config file. Default: the module\'s folder. A reload reads it again. Not with `workers: 0`.' },
    env: { type: 'object', propertyNames: { pattern: ENV_NAME.source }, additionalProperties: { anyOf: [{ type: 'string' }, { type: 'number' }] }, description: 'Worker processes: variables laid over the supervisor\'s environment and `envFile`\'s (`env` wins). A reload reads them again. Not with `workers: 0`.' },
    envFile: { type: 'string', minLength: 1, description: 'Worker processes: a dotenv file of variables, relative to the config file, laid over the supervisor\'s environment (under `env`). A reload reads it again. Not with `workers: 0`.' },
    export: { type: 'string', minLength: 1, description: 'The export holding the app. Default `"default"`.' },
    type: { enum: ['node', 'fetch', 'auto'], description: 'What the export is: a `(req, res)` listener (Express, Koa, Fastify are detected), a fetch handler, or `"auto"` (the default). A plain function that returns a Response is served as a fetch handler from its first request on: say `"fetch"` (docs/frameworks.md).' },
    threads: { type: 'integer', minimum: 1, maximum: 1024, description: 'Requests the app handles at once, across all its workers. Default 10. Changeable at run time from the dashboard.' },
    queue: { type: 'integer', minimum: 0, description: 'Requests allowed to wait for a thread; more get 503 with `Retry-After`. 0 answers 503 at once. Default 100.' },
    queueTimeout: ms('How long a request may wait for a thread before its 503. Default 10000.'),
    requestTimeout: ms('How long a request may run before a 504 (or the connection is cut, if the answer started). 0: no limit. Default 60000.'),
    mount: { type: 'string', pattern: '^(/[^?#]*)?$', description: 'A path prefix stripped before the app sees the path (`"/shop"`: the app sees `/`); the app finds it in `req.scgi.mount` and Express\'s `req.baseUrl`. Default `""`.' },
    halfClose: { enum: ['abort', 'answer'], description: 'SCGI: what a FIN after the request means. `"abort"` (the default): the client left. `"answer"`: for SCGI clients that half-close and still read (docs/frontends.md).' },
    protocol: { enum: ['scgi', 'http'], description: 'What the front end speaks to the app: `"scgi"` (the default; nginx `scgi_pass`) or `"http"`: HTTP/1.1 with keep-alive (nginx `proxy_pass`); see docs/serving.md, "SCGI or HTTP?".' },
    io: { enum: ['auto', 'native', 'node'], description: 'SCGI: `"native"` (the C I/O core; a config error where it did not build), `"node"` (node:net), or `"auto"` (the default): native where it built. `DOW_IO` in the environment sets the default.' },
    keepAliveTimeout: ms('HTTP: how long an idle connection stays open. Keep it above the front end\'s (nginx\'s upstream `keepalive_timeout` is 60 s). Default 75000.'),
    trustProxy: {
      description: 'HTTP: the peers whose `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Real-IP` are believed: IPs, CIDRs, `"loopback"`, `"linklocal"`, `"uniquelocal"`; `false`: none. Default `["loopback"]` (Unix socket peers too).',
      anyOf: [
        { type: 'array', maxItems: 64, items: { type: 'string', minLength: 1, pattern: '^([0-9A-Fa-f:.]+(/\\d{1,3})?|loopback|linklocal|uniquelocal)$' } },
        OFF,
      ],
    },
    maxUpgrades: { type: 'integer', minimum: 1, description: 'HTTP: upgraded connections (WebSockets) the app holds at once, across all its workers; past it an upgrade gets 503. Default 10000 (docs/websockets.md).' },
    upgradeDrainTimeout: ms('HTTP: how long a draining worker keeps its WebSockets before closing them (1012, Service Restart, when it is replaced): shorter moves clients to new code sooner, longer lets sessions end by themselves (a stop still ends within `drainTimeout`). Default: `drainTimeout`.'),
    socketMode: { type: 'integer', minimum: 0, maximum: 0o777, description: 'A Unix socket\'s file mode, set right after bind. Default `0o660`.' },
    socketOwner: { ...ID, description: 'A Unix socket\'s owner (a user name or id), set right after bind.' },
    socketGroup: { ...ID, description: 'A Unix socket\'s group (a name or id), set right after bind: the front end\'s, `"www-data"` for Debian\'s nginx.' },
    workers: {
      description: 'Worker processes that run the app. Default 1. `"auto"`: one per core. 0: the app runs inside the supervisor (no hang detection, restarts or reloads).',
      anyOf: [{ type: 'integer', minimum: 0, maximum: MAX_WORKERS }, { enum: ['auto'] }],
    },
    hangTimeout: ms('A worker that does not answer a heartbeat for this long is killed and replaced. 0: off. Default 30000.'),
    maxRequests: { type: 'integer', minimum: 0, description: 'Replace a worker after this many requests (minus up to 10 % jitter), gracefully: the new one serves first. 0 (the default): never.' },
    maxMemory: { type: 'integer', minimum: 0, description: 'Replace a worker whose RSS passes this many MiB, gracefully. 0 (the default): never.' },
    adaptive: {
      type: 'object',
      additionalProperties: false,
      required: ['min', 'max'],
      description: 'The thread limit follows the app\'s measured service time (queue wait excluded) within [min, max], starting from `threads`; an operator\'s limit fixes it until resumed (docs/adaptive.md).',
      properties: {
        min: { type: 'integer', minimum: 1, maximum: 1024, description: 'The lowest limit; also where the controller probes for the unloaded service time. At least the number of workers.' },
        max: { type: 'integer', minimum: 1, maximum: 1024, description: 'The highest limit.' },
        tolerance: { type: 'number', exclusiveMinimum: 0, maximum: 10, title: 'a ratio', description: 'How much slower than unloaded the service may get before the limit is lowered: 0.5 = 50 %. Default 0.5.' },
        window: { type: 'integer', minimum: 100, maximum: 60_000, title: 'milliseconds', description: 'How often the controller measures and moves the limit. Default 1000.' },
      },
    },
  },
} as const;

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['apps'],
  properties: {
    stats: {
      description: 'The stats port: `nc` or `dragon-on-wheels stats` prints every figure as `SCGI_SERVER_key=\'value\'` lines (docs/serving.md, "The stats port"). Default `"127.0.0.1:9004"`; `false` switches it off.',
      anyOf: [{ type: 'string', pattern: SOCKET_LISTEN, title: '"host:port" or "unix:/path.sock"' }, OFF],
    },
    // Prometheus scrapes over TCP; a Unix socket still works for curl --unix-socket and a local agent.
    metrics: {
      description: 'Prometheus `/metrics`, `/healthz` and `/readyz` (docs/monitoring.md): `"host:port"`, `"unix:/path.sock"`, or `{ "listen": …, "routeLabel": true }` for labels per route. Off unless given; the demo puts it on `"127.0.0.1:9101"`.',
      anyOf: [
        { type: 'string', pattern: LISTEN, title: '"host:port" (for example "127.0.0.1:9101") or "unix:/path.sock"' },
        {
          type: 'object',
          title: 'an object such as { "listen": "127.0.0.1:9101", "routeLabel": true }',
          additionalProperties: false,
          required: ['listen'],
          properties: {
            listen: { type: 'string', pattern: LISTEN, title: '"host:port" or "unix:/path.sock"', description: 'Where it listens, as the plain string form.' },
            routeLabel: {
              type: 'boolean',
              description: `Adds \`method\` and \`route\` labels to \`dragon_requests_total\` and \`dragon_request_duration_seconds\`: a series per route, as the timing store keeps them (${ROUTES_PER_APP} per app; the rest under \`method="${OVERFLOW_ROUTE.method}"\`, \`route="${OVERFLOW_ROUTE.route}"\`). Default \`false\`: the labels stay \`app\` (and \`code\`).`,
            },
          },
        },
        OFF,
      ],
    },
    apps: { type: 'array', minItems: 1, items: appSchema, description: 'Required. The apps, at least one; the keys of each are listed below.' },
    limits: {
      description: 'What a request may send, for every app (SCGI and HTTP).',
      type: 'object',
      additionalProperties: false,
      properties: {
        // The maxima are what every path can carry (MAX_LIMITS in server/protocol/limits.ts).
        maxHeaderBytes: { type: 'integer', minimum: 256, maximum: MAX_LIMITS.maxHeaderBytes, description: 'A larger header block is answered 431. Default 65536.' },
        maxBodyBytes: { type: 'integer', minimum: 0, maximum: MAX_LIMITS.maxBodyBytes, description: 'A larger body is answered 413. Default 16777216 (16 MiB).' },
        headerTimeout: { type: 'integer', minimum: 1, maximum: MAX_LIMITS.headerTimeoutMs, description: 'Milliseconds a request\'s header block may take before a 408. Default 10000.' },
        bodyIdleTimeout: { type: 'integer', minimum: 1, maximum: MAX_LIMITS.bodyIdleTimeoutMs, description: 'Milliseconds a request body may stall. Default 30000.' },
      },
    },
    drainTimeout: ms('How long SIGTERM waits for requests in flight and queued before answering the rest 503. Default 10000.'),
    log: {
      description: 'Where and how the server logs (docs/serving.md, "Logs").',
      type: 'object',
      additionalProperties: false,
      properties: {
        level: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], description: 'Default `"info"`.' },
        format: { enum: ['auto', 'pretty', 'json'], description: '`"auto"` (the default): readable on a terminal, JSON lines otherwise (a pipe, journald, a file). `--log-format` overrides it.' },
        file: { type: 'string', minLength: 1, description: 'Append every process\'s lines to this file instead of stdout (relative: to the config file\'s folder). A folder (ending with `/`, or an existing one) or a pattern with `{app}` gives each app a file of its own, which also holds what the app\'s workers print (`console.log` on stdout, `console.error` on stderr: one JSON line per write, `stream` saying which), and the supervisor\'s own lines one named as an app called `dragon-on-wheels` ([from-pm2.md](from-pm2.md)). SIGUSR1 reopens them, for logrotate. Every file is created at start if missing; one that cannot be (a file where a folder should be, no right to write) stops the start with `DOW_ERR_LOG_FILE` naming it, exit code 2.' },
        access: {
          description: 'One line per request: `true` or `"json"` as the other lines, `"combined"` in Apache/nginx\'s combined format. Default `false`.',
          anyOf: [{ type: 'boolean' }, { enum: ['json', 'combined'] }],
        },
      },
    },
    store: {
      description: 'The SQLite timing store: one row per request, with rollups (docs/serving.md, "Timing store"). `false` turns recording off.',
      anyOf: [
        OFF,
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            path: { type: 'string', minLength: 1, description: 'The database file (relative: to the config file\'s folder). Default `"dragon-on-wheels.db"`; `--db` overrides it.' },
            recordPaths: { type: 'boolean', description: 'Record each request\'s path (without the query). Default `true`.' },
            flushInterval: { type: 'integer', minimum: 10, description: 'Milliseconds between writes: what a power loss can lose at most. Default 200.' },
            bufferRows: { type: 'integer', minimum: 1, description: 'Rows held in memory before new ones are dropped (and counted in `store_dropped`). Default 50000.' },
            retention: {
              description: 'How long rows are kept.',
              type: 'object',
              additionalProperties: false,
              properties: {
                rawMaxAge: ms('Raw rows older than this are pruned. Default 86400000 (1 day).'),
                rawMaxRows: { type: 'integer', minimum: 0, description: 'At most this many raw rows are kept. Default 1000000.' },
                rollupMaxAge: ms('Rollups and worker events older than this are pruned. Default 691200000 (8 days).'),
              },
            },
          },
        },
      ],
    },
    dashboard: {
      description: 'The admin dashboard (docs/dashboard-api.md). `false` (or `--no-dashboard`) turns it off.',
      anyOf: [
        OFF,
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            listen: { type: 'string', pattern: LISTEN, description: 'Default `"127.0.0.1:9100"`. Another address than loopback needs a configured token.' },
            // The dashboard also refuses a repetitive token (token-strength.ts).
            token: { type: 'string', minLength: 32, description: 'The admin token, 32 characters at least (`openssl rand -hex 32`); `DRAGON_ADMIN_TOKEN` also sets it. Without one, a token is made at start and printed in the login URL.' },
            allowedHosts: {
              description: 'Names (host or host:port) the dashboard is reached under besides loopback, behind a reverse proxy; they are also the Origins its page may send changes from.',
              type: 'array', items: { type: 'string', minLength: 1, pattern: '^[^\\s/@]+$' }, maxItems: 64,
            },
            trustedProxies: {
              description: 'Proxies (IPs or CIDRs) whose `X-Forwarded-For` names the client (login throttle, audit log) and whose `X-Forwarded-Proto: https` makes the cookie `Secure`.',
              type: 'array', items: { type: 'string', minLength: 1, pattern: '^[0-9A-Fa-f:.]+(/\\d{1,3})?$' }, maxItems: 64,
            },
          },
        },
      ],
    },
    persistLimits: { type: 'boolean', description: 'Keep thread limits changed at run time across restarts, unless the app\'s `threads` in this file was edited since. Default `false`.' },
    // The supervisor switches too, once its sockets are bound and its store is open.
    user: { ...ID, description: 'Started as root: the user every process that runs app code runs as (docs/deploy.md).' },
    group: { ...ID, description: 'Started as root: the group, with `user`. Default: the user\'s primary group.' },
  },
} as const;
