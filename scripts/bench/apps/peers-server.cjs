/**
 * The peers' own servers around the same app (scripts/bench/apps/peers-app.cjs): plain
 * node:http, and Node's cluster module forking N workers of it, as a Node user writes them.
 * PM2's cluster mode and Passenger run serveHttp too: both take over its listen().
 */
'use strict';
const cluster = require('node:cluster');
const { createServer } = require('node:http');

/** node:http on 127.0.0.1:port, with nginx's upstream keep-alive kept (node's default 5 s would make it reconnect). */
function serveHttp(app, port) {
  const server = createServer(app);
  server.keepAliveTimeout = 65_000;
  server.listen({ host: '127.0.0.1', port, backlog: 1024 }, () => {
    process.stdout.write(`listening 127.0.0.1:${port} (pid ${process.pid})\n`);
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(0));
  return server;
}

/**
 * The cluster module's README recipe: the primary forks `workers` processes and hands their
 * connections out round-robin (Linux's default, SCHED_RR); a worker that dies is forked again.
 */
function serveCluster(createApp, workers, port) {
  if (cluster.isPrimary) {
    let stopping = false;
    for (let i = 0; i < workers; i++) cluster.fork();
    cluster.on('exit', () => {
      if (!stopping) cluster.fork();
    });
    for (const signal of ['SIGINT', 'SIGTERM']) {
      process.once(signal, () => {
        stopping = true;
        for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
        process.exit(0);
      });
    }
    return;
  }
  serveHttp(createApp(), port);
}

module.exports = { serveHttp, serveCluster };
