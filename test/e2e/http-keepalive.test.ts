/**
 * Keep-alive towards `protocol: 'http'` apps, asserted through the real front ends and the
 * docs/frontends.md `http` blocks: nginx and Apache carry sequential requests on one
 * upstream connection, lighttpd 1.4 opens one per request; and the thread limit and queue behind
 * nginx's keep-alive pool answer a burst with 200s and our 503s, never a 502.
 *
 * The app numbers the connections it is given (a WeakMap keyed by `req.socket`) and says which
 * one each request came on, so one connection cannot be mistaken for many or many for one; the
 * stats port's `<app>_requests` counts the requests beside it.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http, { type RequestListener } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Server } from '../../server/listen/server.js';
import { DEFAULT_KEEP_ALIVE_TIMEOUT_MS } from '../../server/http/http-listener.js';
import { parseStats } from '../../shared/stats-format.js';
import { testDir } from '../helpers/temp-dir.js';
import { docTemplate } from '../helpers/frontends/doc-configs.js';
import { START_FRONTEND, type FrontendName } from '../helpers/frontends/by-name.js';
import { withFrontendLogs, type FrontendHandle, type FrontendOptions } from '../helpers/frontends/process.js';
import { httpGet, type HttpReply } from '../helpers/http-get.js';

const SEQUENTIAL_REQUESTS = 8;
const REQUEST_TIMEOUT_MS = 15_000;
/** The burst: more clients than threads + queue, each holding its thread for HOLD_MS. */
const THREADS = 2;
const QUEUE = 2;
const BURST_CLIENTS = 12;
/** Long enough that all the burst's clients arrive while the first two still hold their threads. */
const HOLD_MS = 1500;
const BURST_WAVES = 2;

type Transport = 'tcp' | 'unix';

interface ConnectionReport {
  /** 1 for the first connection the app saw, 2 for the second... */
  socket: number;
  /** Which request on that connection this was, from 1. */
  nth: number;
  connection: string | null;
}

/** A listener that reports the connection each request came on; `/hold` keeps its thread busy. */
function buildConnectionReporter(): { listener: RequestListener; connections: () => number } {
  const seen = new WeakMap<Socket, { id: number; requests: number }>();
  let count = 0;
  const listener: RequestListener = (req, res) => {
    let entry = seen.get(req.socket);
    if (entry === undefined) {
      entry = { id: ++count, requests: 0 };
      seen.set(req.socket, entry);
    }
    entry.requests++;
    const report: ConnectionReport = { socket: entry.id, nth: entry.requests, connection: req.headers.connection ?? null };
    const send = (): void => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(report));
    };
    if (req.url === '/hold') setTimeout(send, HOLD_MS);
    else send();
  };
  return { listener, connections: () => count };
}

interface Backend {
  server: Server;
  values: Record<string, string | number>;
  connections: () => number;
  requests: () => number;
}

async function startBackend(t: TestContext, transport: Transport, limits = { threads: 8, queue: 32 }): Promise<Backend> {
  const dir = await testDir(t, 'http-keepalive');
  const { listener, connections } = buildConnectionReporter();
  const server = new Server({
    listeners: [{
      listen: transport === 'unix' ? `unix:${join(dir, 'app.sock')}` : '127.0.0.1:0',
      // Apache's workers run as nobody (docs/frontends.md, quirk 15).
      socketMode: 0o666,
      processor: {
        app: {
          name: 'keepalive', protocol: 'http', mount: '/app', handler: { type: 'node', listener },
          ...limits, queueTimeoutMs: 10_000, requestTimeoutMs: 30_000,
        },
      },
    }],
  });
  await server.listen();
  t.after(() => server.close(500));
  const address = server.addresses[0] as string;
  const values: Record<string, string | number> = address.startsWith('unix:')
    ? { socket: address.slice('unix:'.length) }
    : { host: '127.0.0.1', port: Number(address.slice(address.lastIndexOf(':') + 1)) };
  const requests = (): number => Number(parseStats(server.statsText()).get('keepalive_requests'));
  return { server, values, connections, requests };
}

async function startFrontend(t: TestContext, frontend: FrontendName, transport: Transport, values: FrontendOptions['values']): Promise<FrontendHandle> {
  const config = docTemplate(frontend, transport === 'unix' ? 'http-unix' : 'http');
  const handle = await START_FRONTEND[frontend]({ config, values: values ?? {} });
  t.after(() => handle.stop());
  return handle;
}

/** `agent`: a keep-alive agent to reuse one client connection; absent, a new one per request. */
const get = (base: string, path: string, agent?: http.Agent): Promise<HttpReply> =>
  httpGet(base + path, { ...(agent ? { agent } : {}), timeoutMs: REQUEST_TIMEOUT_MS });

async function sequentialReports(base: string, agent?: http.Agent): Promise<ConnectionReport[]> {
  const reports: ConnectionReport[] = [];
  for (let i = 0; i < SEQUENTIAL_REQUESTS; i++) {
    const reply = await get(base, '/app/who', agent);
    assert.equal(reply.status, 200, reply.body);
    reports.push(JSON.parse(reply.body) as ConnectionReport);
  }
  return reports;
}

/** 1..n: the same connection's 1st, 2nd, ... request. */
const counting = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe('keep-alive to protocol: http apps (docs/frontends.md http blocks)', { concurrency: true }, () => {
  it('every documented front-end idle timeout is below the app\'s default keepAliveTimeout', () => {
    // The front end must close an idle connection first, or a request it sends as the app closes
    // the connection fails (a POST becomes a 502).
    for (const [frontend, title, pattern] of [
      ['nginx', 'http', /keepalive_timeout (\d+)s;/g],
      ['nginx', 'http-unix', /keepalive_timeout (\d+)s;/g],
      ['nginx', 'http-site', /keepalive_timeout (\d+)s;/g],
      ['nginx', 'http-site-unix', /keepalive_timeout (\d+)s;/g],
      ['apache', 'http', /\bttl=(\d+)\b/g],
      ['apache', 'http-unix', /\bttl=(\d+)\b/g],
      ['apache', 'http-site', /\bttl=(\d+)\b/g],
      ['apache', 'http-site-unix', /\bttl=(\d+)\b/g],
      ['apache', 'http-site-https', /\bttl=(\d+)\b/g],
      ['apache', 'http-site-https-unix', /\bttl=(\d+)\b/g],
    ] as const) {
      const block = docTemplate(frontend, title);
      const seconds = [...block.matchAll(pattern)].map((match) => Number(match[1]));
      // One per nginx upstream pool, one per Apache ProxyPass worker.
      const pools = (block.match(frontend === 'nginx' ? /^\s*upstream /gm : /^\s*ProxyPass /gm) ?? []).length;
      assert.equal(seconds.length, pools, `${frontend} title=${title}: a pool without an idle timeout`);
      for (const s of seconds) {
        assert.ok(s * 1000 < DEFAULT_KEEP_ALIVE_TIMEOUT_MS, `${frontend} title=${title}: ${s} s is not below ${DEFAULT_KEEP_ALIVE_TIMEOUT_MS} ms`);
      }
    }
  });

  for (const transport of ['tcp', 'unix'] as const) {
    it(`nginx over ${transport}: sequential requests from separate clients share one upstream connection`, async (t) => {
      const backend = await startBackend(t, transport);
      const nginx = await startFrontend(t, 'nginx', transport, backend.values);
      await withFrontendLogs([nginx], async () => {
        // A new client connection per request: any reuse is nginx's upstream pool, not the client's.
        const reports = await sequentialReports(nginx.url);
        assert.deepEqual(reports.map((r) => r.socket), reports.map(() => 1), JSON.stringify(reports));
        assert.deepEqual(reports.map((r) => r.nth), counting(SEQUENTIAL_REQUESTS));
        // proxy_set_header Connection "": nothing asks the app to close.
        assert.deepEqual(reports.map((r) => r.connection), reports.map(() => null));
        assert.equal(backend.connections(), 1);
        assert.equal(backend.requests(), SEQUENTIAL_REQUESTS, 'the stats count requests, not connections');
      });
    });

    it(`Apache over ${transport}: sequential requests on one client connection share one backend connection`, async (t) => {
      const backend = await startBackend(t, transport);
      const apache = await startFrontend(t, 'apache', transport, backend.values);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      t.after(() => agent.destroy());
      await withFrontendLogs([apache], async () => {
        const reports = await sequentialReports(apache.url, agent);
        assert.deepEqual(reports.map((r) => r.socket), reports.map(() => 1), JSON.stringify(reports));
        assert.deepEqual(reports.map((r) => r.nth), counting(SEQUENTIAL_REQUESTS));
        assert.equal(backend.connections(), 1);
        // Separate client connections may land in different child processes, each with its own
        // pool: fewer connections than requests, at most one per child.
        const spread = await sequentialReports(apache.url);
        const used = new Set(spread.map((r) => r.socket)).size;
        console.log(`Apache over ${transport}: ${SEQUENTIAL_REQUESTS} requests on ${SEQUENTIAL_REQUESTS} client connections reached the app on ${used} connection(s)`);
        assert.ok(used < SEQUENTIAL_REQUESTS, `${used} backend connections for ${SEQUENTIAL_REQUESTS} requests`);
        assert.equal(backend.requests(), 2 * SEQUENTIAL_REQUESTS);
      });
    });

    /**
     * A finding, pinned: lighttpd 1.4.69's mod_proxy sends `Connection: close` and opens a new
     * backend connection for every request ("HTTP/1.1 persistent connection with upstream
     * servers" is a TODO in src/mod_proxy.c). If a lighttpd update starts reusing connections,
     * this fails and docs/frontends.md should say so.
     */
    it(`lighttpd over ${transport}: a new backend connection per request, each with Connection: close`, async (t) => {
      const backend = await startBackend(t, transport);
      const lighttpd = await startFrontend(t, 'lighttpd', transport, backend.values);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      t.after(() => agent.destroy());
      await withFrontendLogs([lighttpd], async () => {
        const reports = await sequentialReports(lighttpd.url, agent);
        assert.deepEqual(reports.map((r) => r.socket), counting(SEQUENTIAL_REQUESTS), JSON.stringify(reports));
        assert.deepEqual(reports.map((r) => r.nth), reports.map(() => 1));
        assert.deepEqual(reports.map((r) => r.connection), reports.map(() => 'close'));
        assert.equal(backend.requests(), SEQUENTIAL_REQUESTS);
      });
    });
  }

  it(`nginx with keep-alive: ${BURST_CLIENTS} clients at once against ${THREADS} threads + ${QUEUE} queued get 200 or 503 + Retry-After, never 502`, async (t) => {
    const backend = await startBackend(t, 'tcp', { threads: THREADS, queue: QUEUE });
    const nginx = await startFrontend(t, 'nginx', 'tcp', backend.values);
    await withFrontendLogs([nginx], async () => {
      for (let wave = 1; wave <= BURST_WAVES; wave++) {
        // The second wave runs on the connections the first left in nginx's pool, 503s included.
        const replies = await Promise.all(Array.from({ length: BURST_CLIENTS }, () => get(nginx.url, '/app/hold')));
        const statuses = replies.map((r) => r.status).sort();
        console.log(`wave ${wave}: ${statuses.join(' ')}; the app ran requests on ${backend.connections()} connection(s) so far`);
        assert.deepEqual(statuses, [...Array(THREADS + QUEUE).fill(200), ...Array(BURST_CLIENTS - THREADS - QUEUE).fill(503)]);
        for (const reply of replies.filter((r) => r.status === 503)) assert.equal(reply.headers['retry-after'], '1');
        await delay(50);
      }
      // Every upstream connection nginx opened stayed usable: it never logged one failing.
      assert.doesNotMatch(await nginx.readLogs(), /upstream prematurely closed|Connection reset|\[error\]/);
      const stats = parseStats(backend.server.statsText());
      assert.equal(Number(stats.get('keepalive_requests')), BURST_WAVES * BURST_CLIENTS);
      assert.equal(Number(stats.get('keepalive_rejected')), BURST_WAVES * (BURST_CLIENTS - THREADS - QUEUE));
    });
  });
});
