/**
 * The app every backend of `npm run bench -- --peers` serves, the same code under each: `/` a
 * 14-byte hello, `/json` an Express 5 app answering a small JSON object, `/cpu` fixed work (an
 * FNV-1a hash loop over a Buffer) timed inside the app, `/wait` an answer after 50 ms.
 * CommonJS, because PM2's cluster mode and Passenger's node-loader both require() the entry.
 */
'use strict';
const { mkdirSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const express = require('express');

const HELLO = 'Hello, world!\n';
const WAIT_MS = 50;
/** 64 KiB hashed 24 times: about 1.5-2.5 ms on this machine class, a fixed amount of work. */
const CPU_BUFFER_BYTES = 64 * 1024;
const CPU_PASSES = 24;
/** How often a process files its /cpu figures (outside the timed work): one small write per this many requests. */
const FILE_EVERY_REQUESTS = 50;

const buffer = Buffer.alloc(CPU_BUFFER_BYTES);
for (let i = 0; i < buffer.length; i++) buffer[i] = (i * 31 + 7) & 0xff;
// The bounds come from variables, not literals, as a user's code would have them: V8 cannot
// fold the loop away or specialise it on a constant trip count.
let passes = CPU_PASSES;
let length = buffer.length;

function fnv(buf, n, rounds) {
  let hash = 0x811c9dc5;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < n; i++) hash = Math.imul(hash ^ buf[i], 0x01000193);
  }
  return hash >>> 0;
}

function createJsonApp() {
  const app = express();
  app.disable('x-powered-by');
  app.get('/json', (req, res) => {
    res.json({ message: 'Hello, world!', items: [1, 2, 3], ok: true });
  });
  return app;
}

/**
 * The listener, filing this process's /cpu figures as `<statsDir>/<pid>.json`: cumulative
 * {pid, requests, cpuUs}, written whole (temp file + rename), so a reader's two snapshots give the
 * mean CPU of the work between them whatever server, worker or loader ran it.
 */
function createPeersApp(statsDir) {
  mkdirSync(statsDir, { recursive: true });
  const json = createJsonApp();
  const file = join(statsDir, `${process.pid}.json`);
  let requests = 0;
  let cpuUs = 0;
  const fileFigures = () => {
    writeFileSync(`${file}.tmp`, JSON.stringify({ pid: process.pid, requests, cpuUs }));
    renameSync(`${file}.tmp`, file);
  };
  fileFigures();
  return function peersApp(req, res) {
    const path = req.url.split('?', 1)[0];
    if (path === '/cpu') {
      const before = process.cpuUsage();
      const hash = fnv(buffer, length, passes);
      const used = process.cpuUsage(before);
      requests++;
      cpuUs += used.user + used.system;
      if (requests % FILE_EVERY_REQUESTS === 0) fileFigures();
      const body = `fnv ${hash}\n`;
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    } else if (path === '/json') {
      json(req, res);
    } else if (path === '/wait') {
      setTimeout(() => {
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': HELLO.length });
        res.end(HELLO);
      }, WAIT_MS);
    } else {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': HELLO.length });
      res.end(HELLO);
    }
  };
}

module.exports = { createPeersApp, fnv, CPU_PASSES, CPU_BUFFER_BYTES, WAIT_MS };
