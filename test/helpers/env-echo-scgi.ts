/**
 * An in-process SCGI backend for front-end tests that answers with the exact header block it
 * received, in order, as JSON, so a test can pin what nginx, lighttpd or Apache really send.
 * Query switches: `stream-delay-ms=N` (send a first line, wait N ms, send the rest; add
 * `x-accel-buffering=no` to send that header too) and `location=/path` (a 200 carrying a
 * Location header, to observe Apache's internal redirect) and `http-status-line` (answer with
 * an `HTTP/1.1 200 OK` line instead of `Status:`).
 */
import net from 'node:net';
import { rmSync } from 'node:fs';

/** What the echo server saw and answers with. */
export interface EchoedRequest {
  /** Every name/value pair in wire order; values decoded as UTF-8. */
  env: Array<[string, string]>;
  /** The request body, decoded as UTF-8. */
  body: string;
}

export interface EnvEchoServer {
  /** `127.0.0.1` for TCP; absent for a Unix socket. */
  host?: string;
  port?: number;
  socketPath?: string;
  close(): Promise<void>;
}

export type EchoListen = { port: 0 } | { socketPath: string };

const COLON = 0x3a;

/** Parses a complete request, or returns undefined while bytes are missing. */
export function parseScgiRequest(buf: Buffer): EchoedRequest | undefined {
  const colon = buf.indexOf(COLON);
  if (colon < 0) return undefined;
  const blockStart = colon + 1;
  const blockEnd = blockStart + Number(buf.toString('latin1', 0, colon));
  if (buf.length < blockEnd + 1) return undefined;
  const fields = buf.subarray(blockStart, blockEnd).toString('utf8').split('\0');
  fields.pop(); // the block ends with a NUL, so the last split piece is empty
  const env: Array<[string, string]> = [];
  for (let i = 0; i + 1 < fields.length; i += 2) env.push([fields[i] ?? '', fields[i + 1] ?? '']);
  const bodyLength = Number(env.find(([name]) => name === 'CONTENT_LENGTH')?.[1] ?? 0);
  const bodyStart = blockEnd + 1; // after the ","
  if (buf.length < bodyStart + bodyLength) return undefined;
  return { env, body: buf.subarray(bodyStart, bodyStart + bodyLength).toString('utf8') };
}

function respond(socket: net.Socket, request: EchoedRequest): void {
  const query = new URLSearchParams(request.env.find(([name]) => name === 'QUERY_STRING')?.[1] ?? '');
  const location = query.get('location');
  if (location !== null) {
    socket.end(`Status: 200 OK\r\nLocation: ${location}\r\nContent-Type: text/plain\r\n\r\nnot redirected\n`);
    return;
  }
  if (query.has('http-status-line')) {
    // Not CGI style: what an HTTP server would send. Front ends disagree on this (see docs).
    socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nstatus line\n');
    return;
  }
  const delayMs = Number(query.get('stream-delay-ms') ?? 0);
  if (delayMs > 0) {
    const accel = query.get('x-accel-buffering');
    const extra = accel === null ? '' : `X-Accel-Buffering: ${accel}\r\n`;
    socket.write(`Status: 200 OK\r\nContent-Type: text/plain\r\n${extra}\r\nfirst\n`);
    setTimeout(() => socket.end('second\n'), delayMs);
    return;
  }
  socket.end(`Status: 200 OK\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(request)}`);
}

export function startEnvEchoServer(listen: EchoListen): Promise<EnvEchoServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const request = parseScgiRequest(received);
      if (request === undefined) return;
      socket.removeAllListeners('data');
      respond(socket, request);
    });
  });
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    if ('socketPath' in listen) {
      rmSync(listen.socketPath, { force: true });
      // 0666, so that Apache workers (User nobody) can connect.
      server.listen({ path: listen.socketPath, readableAll: true, writableAll: true }, () =>
        resolve({ socketPath: listen.socketPath, close }),
      );
    } else {
      server.listen({ host: '127.0.0.1', port: 0 }, () => {
        const address = server.address() as net.AddressInfo;
        resolve({ host: '127.0.0.1', port: address.port, close });
      });
    }
  });
}
