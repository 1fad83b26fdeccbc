/**
 * Reloads of a `protocol: 'http'` app behind nginx's keep-alive pool (docs/frontends.md `http`
 * block), through the real command line and SIGHUP, under POST load: nginx never retries a POST
 * sent on a pooled connection that the backend closes at that moment, so a draining worker must
 * not close an idle kept-alive connection while nginx may pick it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { getFreePorts } from '../helpers/free-port.js';
import { testDir } from '../helpers/temp-dir.js';
import { reloadThrough, versionedApp } from '../helpers/versioned-app.js';
import { docTemplate } from '../helpers/frontends/doc-configs.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { withFrontendLogs } from '../helpers/frontends/process.js';
import { serveConfig } from '../helpers/cli-process.js';
import { startLoad } from '../helpers/load.js';
import { waitUntil } from '../helpers/wait.js';

const CLIENTS = 16;
const RELOADS = 3;
const BODY = Buffer.alloc(8 * 1024, 0x61);
/** Bounds the load if the test never stops it. */
const MAX_REQUESTS = 60_000;
/** Requests each new version must answer before the next reload: the pool mixes old and new. */
const SERVED_PER_VERSION = 200;

interface Tally {
  statuses: Map<number, number>;
  errors: string[];
  /** Requests answered by each version, from the body. */
  byVersion: Map<string, number>;
  total: number;
}

/** One POST through nginx on `agent`; its outcome goes into `tally`. */
function post(url: string, agent: http.Agent, tally: Tally): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request(url, { agent, method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': BODY.length } }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        tally.total++;
        tally.statuses.set(status, (tally.statuses.get(status) ?? 0) + 1);
        const [version, length] = body.split(' ');
        if (status === 200 && Number(length) !== BODY.length) tally.errors.push(`body of ${length} bytes reached ${version}`);
        if (status === 200 && version !== undefined) tally.byVersion.set(version, (tally.byVersion.get(version) ?? 0) + 1);
        resolve();
      });
      res.on('error', (err) => (tally.errors.push(err.message), resolve()));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', (err) => (tally.errors.push(err.message), resolve()));
    req.end(BODY);
  });
}

test(`${RELOADS} reloads of an HTTP app under POST load through nginx's keep-alive pool: no 502, every POST answered by the app`, async (t) => {
  const dir = await testDir(t, 'nginx-http-reload');
  // Reads the whole body, then answers with the version and the length it read.
  const app = await versionedApp(dir, 'v0', (v) => `export default (req, res) => {
  let n = 0;
  req.on('data', (c) => (n += c.length));
  req.on('end', () => setTimeout(() => res.end('${v} ' + n), 1));
};\n`);
  const [port, statsPort] = await getFreePorts(2);
  const server = await serveConfig(t, dir, {
    stats: `127.0.0.1:${statsPort}`,
    apps: [{ name: 'app', listen: `127.0.0.1:${port}`, module: app.path, protocol: 'http', mount: '/app', workers: 2, threads: 8 }],
    store: false,
    dashboard: false,
  });
  await server.waitFor(/UP on .*\(stats\)/);
  const nginx = await startNginx({ config: docTemplate('nginx', 'http'), values: { host: '127.0.0.1', port } });
  t.after(() => nginx.stop());
  await withFrontendLogs([nginx], async () => {
    const tally: Tally = { statuses: new Map(), errors: [], byVersion: new Map(), total: 0 };
    const agents = Array.from({ length: CLIENTS }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    const load = startLoad(CLIENTS, (client) => post(`${nginx.url}/app/upload`, agents[client] as http.Agent, tally), { maxRequests: MAX_REQUESTS });
    try {
      // The pool holds connections to the current workers, idle and busy, when each reload comes.
      await reloadThrough(app, Array.from({ length: RELOADS }, (_, i) => `v${i + 1}`), {
        async reload(i) {
          server.child.kill('SIGHUP');
          await server.waitFor(new RegExp(`(app: reloaded \\(SIGHUP\\)[\\s\\S]*){${i + 1}}`), 120_000);
        },
        served: (v) => waitUntil(`${SERVED_PER_VERSION} POSTs answered by ${v}`, () => (tally.byVersion.get(v) ?? 0) >= SERVED_PER_VERSION),
      });
    } finally {
      await load.stop();
      for (const agent of agents) agent.destroy();
    }
    t.diagnostic(`${tally.total} POSTs: ${JSON.stringify([...tally.statuses])}, by version ${JSON.stringify([...tally.byVersion])}`);
    t.diagnostic(`reloads took ${[...server.output().matchAll(/reloaded \(SIGHUP\).* in (\d+) ms/g)].map((m) => `${m[1]} ms`).join(', ')}`);
    assert.deepEqual(tally.errors, []);
    assert.deepEqual([...tally.statuses.keys()], [200], `statuses: ${JSON.stringify([...tally.statuses])}\n${server.output()}`);
    assert.deepEqual([...tally.byVersion.keys()], Array.from({ length: RELOADS + 1 }, (_, i) => `v${i}`));
    assert.doesNotMatch(await nginx.readLogs(), /prematurely closed|reset by peer|\[error\]/);
  });
  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0, server.output());
});
