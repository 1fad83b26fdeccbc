/**
 * An app that answers a POST without reading its body (a 401 to an upload, a route that ignores
 * it) must reach the client as it answered. Regression: the server closed the connection while
 * nginx was still sending the body, nginx logged "writev() failed (32: Broken pipe) while sending
 * request to upstream", marked the server failed and answered 502 (4,575 of 4,947 requests here
 * before the fix). Found under POST load with worker processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startSupervisor } from '../helpers/supervisor.js';
import { docTemplate } from '../helpers/frontends/doc-configs.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { withFrontendLogs } from '../helpers/frontends/process.js';
import { waitForFigure } from '../helpers/stats.js';

test('answers sent before the body was read reach the clients through nginx: no 502', async (t) => {
  // The app in a worker process answers `/app/upload` on its default route, without reading.
  const rt = await startSupervisor(t, [{ name: 'early', count: 2, threads: 8 }]);
  const port = (rt.targets.get('early') as { port: number }).port;
  const nginx = await startNginx({ config: docTemplate('nginx', 'upstream-failover'), values: { host: '127.0.0.1', port_a: port, port_b: port } });
  t.after(() => nginx.stop());
  await withFrontendLogs([nginx], async () => {
    // Many clients in a closed loop, bodies larger than nginx's buffer: nginx is often still
    // writing when the answer comes (this found the bug; single uploads rarely did).
    const agent = new http.Agent({ keepAlive: true, maxSockets: 24 });
    t.after(() => agent.destroy());
    const statuses = new Map<number, number>();
    const deadline = performance.now() + 1500;
    await Promise.all(Array.from({ length: 24 }, async () => {
      for (let n = 0; n < 500 && performance.now() < deadline; n++) {
        const status = await new Promise<number>((resolve, reject) => {
          const req = http.request(`${nginx.url}/app/upload`, { agent, method: 'POST' }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end(Buffer.alloc(64 * 1024, 1));
        });
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }));
    assert.deepEqual([...statuses.keys()], [200], JSON.stringify([...statuses]));
    await waitForFigure(rt.figures, 'early_requests', String(statuses.get(200)));
    assert.doesNotMatch(await nginx.readLogs(), /Broken pipe|reset by peer|prematurely/);
  });
});
