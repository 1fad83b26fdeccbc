/**
 * WebSockets through a real nginx (docs/frontends.md `websocket` block) to an HTTP app with two
 * workers, through the real command line: echo, plain requests admitted beside open WebSockets
 * with one thread per worker, maxUpgrades, the stats port, and a reload: the old workers keep
 * their WebSockets until drainTimeout, then close them with 1012, and new ones reach new code.
 * The client is the `ws` package's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { getFreePorts } from '../helpers/free-port.js';
import { testDir } from '../helpers/temp-dir.js';
import { versionedApp } from '../helpers/versioned-app.js';
import { docTemplate } from '../helpers/frontends/doc-configs.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { withFrontendLogs } from '../helpers/frontends/process.js';
import { serveConfig } from '../helpers/cli-process.js';
import { httpGet } from '../helpers/http-get.js';
import { readFigures, waitForFigure } from '../helpers/stats.js';
import { waitUntil } from '../helpers/wait.js';
import { wsEchoAppSource, type CloseInfo } from '../helpers/ws-client.js';

const MESSAGES = 1000;
/** Across both workers: 4 each. */
const MAX_UPGRADES = 8;
const DRAIN_MS = 3000;

/** A `ws` client: open, or the status and body of the answer that was not a 101. */
type Connected = { client: WsClient } | { status: number; body: string };

class WsClient {
  /** Its close code and reason as the client saw them (1006 without a close frame). */
  readonly closed: Promise<CloseInfo>;

  constructor(private readonly ws: WebSocket) {
    this.closed = once(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: String(reason) }));
  }

  async echo(text: string): Promise<string> {
    const message = once(this.ws, 'message');
    this.ws.send(text);
    return String((await message)[0]);
  }

  close(): Promise<CloseInfo> {
    this.ws.close(1000);
    return this.closed;
  }
}

function connectWs(url: string): Promise<Connected> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'));
    ws.once('open', () => resolve({ client: new WsClient(ws) }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
  });
}

async function openWs(url: string): Promise<WsClient> {
  const result = await connectWs(url);
  if ('client' in result) return result.client;
  throw new Error(`upgrade of ${url} answered ${result.status}: ${result.body}`);
}

test('WebSockets through nginx: echo, threads left free, maxUpgrades 503, and a reload closing the old ones with 1012 after the drain', async (t) => {
  const dir = await testDir(t, 'nginx-websockets');
  const app = await versionedApp(dir, 'v0', (v) => wsEchoAppSource(v));
  const [port, statsPort] = await getFreePorts(2);
  const server = await serveConfig(t, dir, {
    stats: `127.0.0.1:${statsPort}`,
    drainTimeout: DRAIN_MS,
    apps: [{
      name: 'app', listen: `127.0.0.1:${port}`, module: app.path, protocol: 'http', mount: '/app',
      workers: 2, threads: 2, maxUpgrades: MAX_UPGRADES, requestTimeout: DRAIN_MS,
    }],
    store: false,
    dashboard: false,
  });
  await server.waitFor(/UP on .*\(stats\)/);
  const nginx = await startNginx({ config: docTemplate('nginx', 'websocket'), values: { host: '127.0.0.1', port } });
  t.after(() => nginx.stop());
  const wsUrl = `${nginx.url}/app/socket`;
  await withFrontendLogs([nginx], async () => {
    const old: WsClient[] = [];
    // Each worker holds half of maxUpgrades, and the kernel may hand one worker every connection:
    // a share's worth is what is sure to open.
    for (let i = 0; i < MAX_UPGRADES / 2; i++) old.push(await openWs(wsUrl));
    const first = old[0] as WsClient;
    for (let i = 0; i < MESSAGES; i++) assert.equal(await first.echo(`m${i}`), `v0:m${i}`);
    // Four WebSockets open, one thread per worker: plain requests are still served at once.
    for (let i = 0; i < 20; i++) {
      const reply = await httpGet(`${nginx.url}/app/plain`);
      assert.equal(reply.status, 200);
      assert.equal(reply.body, 'v0 plain');
    }
    // The stats port waits 50 ms for each worker's answer (COLLECT_TIMEOUT_MS), else shows its
    // last: a worker slowed by ASan or a busy machine is waited for here, not read once.
    let figures = await waitForFigure(statsPort, 'app_websockets', String(MAX_UPGRADES / 2));
    assert.equal(figures.get('app_upgrades'), String(MAX_UPGRADES / 2));
    assert.equal(figures.get('app_rejected'), '0');

    // Past the cap: a worker whose share is full answers 503, which nginx passes on.
    const extra: WsClient[] = [];
    let refused = 0;
    for (let i = 0; i < 3 * MAX_UPGRADES && refused === 0; i++) {
      const result = await connectWs(wsUrl);
      if ('client' in result) extra.push(result.client);
      else {
        assert.equal(result.status, 503, result.body);
        refused++;
      }
    }
    assert.equal(refused, 1);
    assert.ok(old.length + extra.length <= MAX_UPGRADES, `${old.length + extra.length} open`);
    await waitForFigure(statsPort, 'app_upgrades_refused', '1');
    const before = [...old, ...extra];
    const closes: Promise<CloseInfo>[] = before.map((c) => c.closed);

    await app.write('v1');
    const reloadStarted = performance.now();
    server.child.kill('SIGHUP');
    await server.waitFor(/app: reloaded \(SIGHUP\)/, 120_000);
    // New WebSockets reach the new workers at once; the old ones still echo from the old code.
    const fresh = await openWs(wsUrl);
    assert.equal(await fresh.echo('new'), 'v1:new');
    const infos = await Promise.all(closes);
    const elapsed = performance.now() - reloadStarted;
    assert.deepEqual(infos.map((i) => i.code), before.map(() => 1012), JSON.stringify(infos));
    assert.ok(elapsed >= DRAIN_MS * 0.9, `closed after the drain (${Math.round(elapsed)} ms)`);
    figures = await waitForFigure(statsPort, 'app_websockets', '1');
    assert.equal(figures.get('app_websockets_closed'), String(before.length));
    assert.equal(await fresh.echo('still'), 'v1:still');
    await fresh.close();
    await waitUntil('the last session ended', async () => (await readFigures(statsPort)).get('app_websockets') === '0');
    assert.doesNotMatch(await nginx.readLogs(), /\[error\]/);
  });
  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0, server.output());
});
