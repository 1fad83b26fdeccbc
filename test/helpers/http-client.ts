/**
 * @module http-client
 * A raw HTTP/1.x client on one TCP connection, for tests that must see the wire: which requests
 * shared a connection, pipelining, HTTP/1.0, `Connection: close`, and when the server closed.
 * Responses are framed by Content-Length or chunked encoding (what node:http sends).
 */
import { connect, type Socket } from 'node:net';
import { waitUntil } from './wait.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class RawHttpConnection {
  readonly socket: Socket;
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  /** Set when the server closed the connection (FIN or reset). */
  closed = false;
  readonly opened: Promise<void>;

  constructor(port: number, host = '127.0.0.1', localAddress?: string) {
    this.socket = connect({ port, host, ...(localAddress === undefined ? {} : { localAddress }) });
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  send(raw: string): void {
    this.socket.write(raw, 'latin1');
  }

  /** `GET path HTTP/1.1` with Host and any extra header lines. */
  get(path: string, extra: Record<string, string> = {}, version = '1.1'): void {
    let head = `GET ${path} HTTP/${version}\r\nHost: test.local\r\n`;
    for (const [name, value] of Object.entries(extra)) head += `${name}: ${value}\r\n`;
    this.send(`${head}\r\n`);
  }

  /** The next complete response; rejects if the connection closes first or `timeoutMs` passes. */
  async read(timeoutMs = 10_000): Promise<RawResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = parseOne(this.buffer, this.closed);
      if (parsed !== null) {
        this.buffer = this.buffer.subarray(parsed.consumed);
        return parsed.response;
      }
      if (this.closed) throw new Error(`connection closed with ${this.buffer.length} unparsed bytes: ${this.buffer.toString('latin1').slice(0, 200)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no complete response in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves true once the server closed the connection, false after `timeoutMs` (stretched like every wait). */
  waitClosed(timeoutMs = 10_000): Promise<boolean> {
    return waitUntil('the connection closed', () => this.closed, { timeoutMs, intervalMs: 10 }).then(() => true, () => false);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

/** `closed`: the server closed, so a response without length or chunking ends here (HTTP/1.0). */
function parseOne(buffer: Buffer, closed: boolean): { response: RawResponse; consumed: number } | null {
  const end = buffer.indexOf('\r\n\r\n');
  if (end === -1) return null;
  const lines = buffer.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number((lines[0] ?? '').split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  let at = end + 4;
  if (headers['transfer-encoding'] === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', at);
      if (lineEnd === -1) return null;
      const size = parseInt(buffer.subarray(at, lineEnd).toString('latin1'), 16);
      if (buffer.length < lineEnd + 2 + size + 2) return null;
      parts.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
      if (size === 0) break;
    }
    return { response: { status, headers, body: Buffer.concat(parts).toString() }, consumed: at };
  }
  if (headers['content-length'] === undefined && status !== 204 && status !== 304) {
    if (!closed) return null;
    return { response: { status, headers, body: buffer.subarray(at).toString() }, consumed: buffer.length };
  }
  const length = Number(headers['content-length'] ?? 0);
  if (buffer.length < at + length) return null;
  return { response: { status, headers, body: buffer.subarray(at, at + length).toString() }, consumed: at + length };
}
