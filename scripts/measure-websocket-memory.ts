/**
 * @module measure-websocket-memory
 * What idle WebSockets cost a server process: its RSS with N upgraded connections open and idle
 * (after one echo each), served by an in-process dragon-on-wheels HTTP app (the `upgrade` export)
 * against the same module on a bare node:http server, each in a fresh process. The WebSocket side
 * is the tests' minimal echo (test/helpers/ws-client.ts), not the `ws` package.
 *
 *   npx tsx scripts/measure-websocket-memory.ts [--sockets 10000]
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadApp } from '../server/host/app-loader.js';
import { Server } from '../server/listen/server.js';
import { openWs, wsEchoAppSource, type WsClient } from '../test/helpers/ws-client.js';

const { values } = parseArgs({ options: { sockets: { type: 'string', default: '10000' }, serve: { type: 'string' }, module: { type: 'string' } } });
const SOCKETS = Math.min(Number(values.sockets), 15_000);
/** Upgrades in flight at once while opening. */
const BATCH = 200;

async function serve(kind: 'dragon' | 'node', modulePath: string): Promise<void> {
  if (kind === 'node') {
    const mod = (await import(modulePath)) as { default: Parameters<typeof createServer>[0]; upgrade: (...args: never[]) => void };
    const server = createServer(mod.default as never);
    server.on('upgrade', mod.upgrade as never);
    server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as { port: number }).port })));
    return;
  }
  const handler = await loadApp(modulePath, 'default', 'auto', 'ws', '/');
  const server = new Server({
    listeners: [{ listen: '127.0.0.1:0', processor: { app: { name: 'ws', handler, threads: 8, queue: 100, queueTimeoutMs: 10_000, requestTimeoutMs: 0, mount: '', protocol: 'http', maxUpgrades: SOCKETS + 1 } } }],
    logger: pino({ level: 'warn' }),
    announce: false,
  });
  await server.listen();
  console.log(JSON.stringify({ port: Number((server.addresses[0] as string).split(':').pop()) }));
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:')) ?? '';
  return Number(line.replace(/\D+/g, '')) / 1024;
}

async function measure(kind: 'dragon' | 'node', modulePath: string): Promise<{ idle: number; open: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', kind, '--module', modulePath, '--sockets', String(SOCKETS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { port: number }).port)));
    const url = `http://127.0.0.1:${port}/`;
    await (await openWs(url)).close();
    const idle = rssMiB(child.pid as number);
    const clients: WsClient[] = [];
    for (let i = 0; i < SOCKETS; i += BATCH) {
      const batch = await Promise.all(Array.from({ length: Math.min(BATCH, SOCKETS - i) }, () => openWs(url)));
      await Promise.all(batch.map((c, j) => c.echo(`hello ${i + j}`)));
      clients.push(...batch);
    }
    const open = rssMiB(child.pid as number);
    for (const c of clients) c.socket.destroy();
    return { idle, open };
  } finally {
    child.kill();
  }
}

if (values.serve === 'dragon' || values.serve === 'node') {
  await serve(values.serve, values.module as string);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'ws-memory-'));
  const modulePath = join(dir, 'echo.mjs');
  writeFileSync(modulePath, wsEchoAppSource('v1'));
  for (const kind of ['node', 'dragon'] as const) {
    const { idle, open } = await measure(kind, modulePath);
    console.log(`${kind}: ${SOCKETS} idle WebSockets: RSS ${open.toFixed(1)} MiB (${idle.toFixed(1)} MiB before; ${(((open - idle) * 1024) / SOCKETS).toFixed(2)} KiB each)`);
  }
}
