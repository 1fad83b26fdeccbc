/**
 * WebSockets through a real Apache (docs/frontends.md `apache` `websocket` block: ProxyPass with
 * upgrade=websocket) and a real lighttpd (the `lighttpd` `websocket` block: mod_proxy with
 * proxy.header upgrade enabled) to an HTTP app: echo, a plain request beside it, and the server's
 * stop reaching the client as a 1001 close through the front end. nginx has its own file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getFreePort } from '../helpers/free-port.js';
import { testDir } from '../helpers/temp-dir.js';
import { docTemplate } from '../helpers/frontends/doc-configs.js';
import { START_FRONTEND, type FrontendName } from '../helpers/frontends/by-name.js';
import { withFrontendLogs } from '../helpers/frontends/process.js';
import { serveConfig } from '../helpers/cli-process.js';
import { httpGet } from '../helpers/http-get.js';
import { openWs, wsEchoAppSource } from '../helpers/ws-client.js';

const FRONT_ENDS: Array<[FrontendName, string]> = [['apache', 'upgrade=websocket'], ['lighttpd', 'proxy.header upgrade']];

for (const [kind, how] of FRONT_ENDS) {
  test(`WebSockets through ${kind} (${how}): echo, plain requests beside, and 1001 at the stop`, async (t) => {
    const dir = await testDir(t, `${kind}-websockets`);
    const module = join(dir, 'echo.mjs');
    await writeFile(module, wsEchoAppSource('v1'));
    const port = await getFreePort();
    const server = await serveConfig(t, dir, {
      stats: false,
      // WebSockets are closed as the stop begins; the worker then has the drain and its grace
      // (12 s) to send the frames before it is killed, which makes them 1006: a worker under
      // AddressSanitizer on a loaded CI machine once took more than the 3 s a 1 s drain gave.
      drainTimeout: 10_000,
      apps: [{ name: 'app', listen: `127.0.0.1:${port}`, module, protocol: 'http', mount: '/app', workers: 1, upgradeDrainTimeout: 0 }],
      store: false,
      dashboard: false,
    });
    await server.waitFor(/UP on .*app/);
    const frontend = await START_FRONTEND[kind]({ config: docTemplate(kind, 'websocket'), values: { host: '127.0.0.1', port } });
    t.after(() => frontend.stop());
    await withFrontendLogs([frontend], async () => {
      const client = await openWs(`${frontend.url}/app/socket`);
      for (let i = 0; i < 200; i++) assert.equal(await client.echo(`m${i}`), `v1:m${i}`);
      assert.equal((await httpGet(`${frontend.url}/app/plain`)).body, 'v1 plain');
      server.child.kill('SIGTERM');
      assert.equal((await client.closed).code, 1001, server.output());
    });
    assert.equal(await server.exited, 0, server.output());
  });
}
