/**
 * The compatibility matrix's companion: what each front end does with a 200 whose Location is a
 * local path (Apache's internal redirect, docs/frontends.md quirk 12), asserted as it happens.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { docTemplate } from '../helpers/frontends/doc-configs.js';
import { START_FRONTEND } from '../helpers/frontends/by-name.js';
import { withFrontendLogs } from '../helpers/frontends/process.js';
import { request } from '../helpers/matrix-client.js';
import { startRuntime } from '../helpers/runtime.js';

/**
 * Quirk 12 of docs/frontends.md: mod_proxy_scgi turns a 200 whose Location starts with `/` into
 * an internal GET of that path, but the SCGI request it sends for the new path still carries the
 * *original* REQUEST_URI. dragon-on-wheels routes on REQUEST_URI, so the app answers the original
 * URL again, Apache redirects again, and after LimitInternalRecursion (10) it gives up with 500.
 * `ProxySCGIInternalRedirect Off` (the `no-internal-redirect` block) passes the 200 through;
 * nginx and lighttpd always do. A 3xx is never touched (the matrix's redirect check).
 */
describe('a 200 with a local Location (CGI local redirect)', { concurrency: true }, () => {
  const cases = [
    { frontend: 'apache', title: 'tcp', expect: 500 },
    { frontend: 'apache', title: 'no-internal-redirect', expect: 200 },
    { frontend: 'nginx', title: 'mount', expect: 200 },
    { frontend: 'lighttpd', title: 'tcp', expect: 200 },
  ] as const;
  for (const { frontend, title, expect } of cases) {
    it(`${frontend} (${title} block) answers ${expect}`, async (t) => {
      const rt = await startRuntime(t, [{
        name: 'local_redirect', threads: 4, queue: 10, queueTimeoutMs: 5000, requestTimeoutMs: 10_000, mount: '/app',
        node: (req, res) => {
          if (req.url === '/moved') res.writeHead(200, { location: '/app/hello', 'content-type': 'text/plain' }).end('moved\n');
          else res.writeHead(200, { 'content-type': 'text/plain' }).end(`at ${req.url}\n`);
        },
      }]);
      const values = { host: '127.0.0.1', port: (rt.targets.get('local_redirect') as { port: number }).port };
      const config = docTemplate(frontend, title);
      const handle = await START_FRONTEND[frontend]({ config, values });
      t.after(() => handle.stop());
      await withFrontendLogs([handle], async () => {
        const reply = await request(handle.url, '/app/moved', { host: '127.0.0.1' });
        assert.equal(reply.status, expect);
        if (expect === 200) {
          assert.equal(reply.headers.location, '/app/hello');
          assert.equal(reply.body.toString(), 'moved\n');
        } else {
          assert.match(await handle.readLogs(), /internal redirects|LimitInternalRecursion/);
        }
      });
    });
  }
});
