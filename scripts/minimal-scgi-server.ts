/**
 * The floor of pure Node: a bare SCGI server on node:net with no features, the baseline the
 * benchmarks compare against and the backend the front-end harnesses are developed with.
 * Usage: node --import tsx scripts/minimal-scgi-server.ts --listen 127.0.0.1:9002 | unix:/path.sock
 */
import net from 'node:net';
import { rmSync } from 'node:fs';

const REPLY = Buffer.from('Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nHello, world!\n');
const COLON = 0x3a;

// A request on the wire (SCGI spec): "<len>:" <len bytes of NAME\0VALUE\0...> "," <body>
// The first pair is always CONTENT_LENGTH, so the body length sits right after the colon.
function requestBytes(buf: Buffer): number | undefined {
  const colon = buf.indexOf(COLON);
  if (colon < 0) return undefined;
  const headerLength = Number(buf.toString('latin1', 0, colon));
  const blockEnd = colon + 1 + headerLength + 1; // the byte after the ","
  if (buf.length < blockEnd) return undefined;
  const nameEnd = buf.indexOf(0, colon + 1);
  const valueEnd = buf.indexOf(0, nameEnd + 1);
  return blockEnd + Number(buf.toString('latin1', nameEnd + 1, valueEnd));
}

function handle(socket: net.Socket): void {
  let received = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    const total = requestBytes(received);
    // Answer only once the body is in: closing with unread bytes would make the kernel send a
    // RST, which nginx reports as "Connection reset by peer" and turns into a 502.
    if (total === undefined || received.length < total) return;
    socket.removeAllListeners('data');
    socket.end(REPLY);
  });
  socket.on('error', () => socket.destroy());
}

function parseListen(argv: string[]): string {
  const i = argv.indexOf('--listen');
  const value = i >= 0 ? argv[i + 1] : undefined;
  if (!value) throw new Error('usage: minimal-scgi-server.ts --listen host:port | unix:/path');
  return value;
}

const address = parseListen(process.argv.slice(2));
const server = net.createServer({ allowHalfOpen: true }, handle);
server.listen({ backlog: 1024, ...toListenOptions(address) }, () => {
  const bound = server.address();
  const shown = typeof bound === 'string' ? `unix:${bound}` : `${bound?.address}:${bound?.port}`;
  process.stdout.write(`listening ${shown}\n`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => server.close(() => process.exit(0)));

function toListenOptions(value: string): net.ListenOptions {
  if (value.startsWith('unix:')) {
    const path = value.slice('unix:'.length);
    rmSync(path, { force: true }); // a benchmark tool may remove a stale socket without asking
    return { path, readableAll: true, writableAll: true }; // 0666: Apache workers run as nobody
  }
  const colon = value.lastIndexOf(':');
  return { host: value.slice(0, colon), port: Number(value.slice(colon + 1)) };
}
