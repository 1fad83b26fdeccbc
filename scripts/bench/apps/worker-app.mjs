/**
 * The worker-process benchmark's app (a copy of test/fixtures/worker-app.mjs's routes, so the
 * benchmark never imports from test/): `/` the 14-byte hello, `/cpu?ms=N` N ms of synchronous
 * work, `/hang` an endless loop, `/hold?ms=N` an answer after N ms without blocking.
 */
const BODY = 'Hello, world!\n';

export default function workerApp(req, res) {
  const url = new URL(req.url, 'http://x');
  const ms = Number(url.searchParams.get('ms') ?? '0');
  switch (url.pathname) {
    case '/hang':
      for (;;);
    case '/cpu': {
      // Busy on the clock, not a fixed loop count: the same 2 ms whatever the JIT makes of it.
      const until = performance.now() + ms;
      while (performance.now() < until);
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(`spun ${ms} ms\n`);
      return;
    }
    case '/hold':
      setTimeout(() => res.end(`held ${ms} ms in ${process.pid}\n`), ms);
      return;
    default:
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': BODY.length });
      res.end(BODY);
  }
}
