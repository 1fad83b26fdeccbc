/**
 * @module ws-client
 * A minimal WebSocket client for tests (RFC 6455, no extensions), over node:http's client
 * 'upgrade', for the server's own edges (a raw reset, a refused upgrade, byte counts) with no
 * library in between; the real libraries run in test/integration/websocket-libraries.test.ts. Also the source of
 * an echo app module that speaks the server side, for the worker processes (plain JS, no imports
 * of ours), answering `<version>:<message>` so a test sees which code served it.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';

export interface CloseInfo {
  /** The close frame's code, or 1006 when the connection ended without one. */
  code: number;
  reason: string;
}

export type UpgradeResult = { client: WsClient } | { status: number; body: string };

/** Asks `url` to upgrade; a 101 gives a client, anything else its status and body. */
export function connectWs(url: string, headers: Record<string, string> = {}): Promise<UpgradeResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'), ...headers },
    });
    // One small frame per message each way: Nagle would hold each behind the last one's ACK.
    req.on('upgrade', (_res, socket, head) => resolve({ client: new WsClient(socket.setNoDelay(true), head) }));
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('no answer to the upgrade within 30 s')));
    req.end();
  });
}

/** connectWs that must succeed. */
export async function openWs(url: string, headers?: Record<string, string>): Promise<WsClient> {
  const result = await connectWs(url, headers);
  if ('client' in result) return result.client;
  throw new Error(`upgrade of ${url} answered ${result.status}: ${result.body}`);
}

export class WsClient {
  private buffer: Buffer;
  private readonly messages: string[] = [];
  private waiting: ((message: string) => void) | null = null;
  private closeInfo: CloseInfo | null = null;
  readonly closed: Promise<CloseInfo>;

  constructor(readonly socket: Duplex, head: Buffer) {
    this.buffer = head;
    this.closed = new Promise((resolve) => {
      socket.on('close', () => resolve(this.closeInfo ?? { code: 1006, reason: '' }));
    });
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    if (head.length > 0) this.read(Buffer.alloc(0));
  }

  send(text: string): void {
    this.socket.write(maskedFrame(0x1, Buffer.from(text, 'utf8')));
  }

  /** The next text message, in order. */
  next(): Promise<string> {
    const message = this.messages.shift();
    if (message !== undefined) return Promise.resolve(message);
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      void this.closed.then((info) => reject(new Error(`closed (${info.code} ${info.reason}) while waiting for a message`)));
    });
  }

  /** Sends one message and returns the answer. */
  async echo(text: string): Promise<string> {
    this.send(text);
    return this.next();
  }

  /** A normal close from our side (1000), then waits for the connection to end. */
  async close(): Promise<CloseInfo> {
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(1000);
    if (this.socket.writable) this.socket.write(maskedFrame(0x8, payload));
    return this.closed;
  }

  private read(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const frame = parseFrame(this.buffer);
      if (frame === null) return;
      this.buffer = this.buffer.subarray(frame.size);
      if (frame.opcode === 0x8) {
        this.closeInfo = { code: frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005, reason: frame.payload.subarray(2).toString('utf8') };
        // Echo the close, as every client does, then end our side.
        if (this.socket.writable) this.socket.end(maskedFrame(0x8, frame.payload.subarray(0, 2)));
      } else if (frame.opcode === 0x1) {
        const text = frame.payload.toString('utf8');
        const waiting = this.waiting;
        this.waiting = null;
        if (waiting) waiting(text);
        else this.messages.push(text);
      }
    }
  }
}

function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + lengthBytes + 4);
  head[0] = 0x80 | opcode;
  head[1] = 0x80 | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) head.writeUInt16BE(length, 2);
  else if (lengthBytes === 8) head.writeBigUInt64BE(BigInt(length), 2);
  const mask = randomBytes(4);
  mask.copy(head, 2 + lengthBytes);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] = (body[i] as number) ^ (mask[i & 3] as number);
  return Buffer.concat([head, body]);
}

/** A server's (unmasked) frame at the start of `buf`, or null while it is incomplete. */
function parseFrame(buf: Buffer): { opcode: number; payload: Buffer; size: number } | null {
  if (buf.length < 2) return null;
  let length = (buf[1] as number) & 0x7f;
  let at = 2;
  if (length === 126) {
    if (buf.length < 4) return null;
    length = buf.readUInt16BE(2);
    at = 4;
  } else if (length === 127) {
    if (buf.length < 10) return null;
    length = Number(buf.readBigUInt64BE(2));
    at = 10;
  }
  if (buf.length < at + length) return null;
  return { opcode: (buf[0] as number) & 0x0f, payload: buf.subarray(at, at + length), size: at + length };
}

/** The default exports of the echo app: plain requests answered `<version> plain`, and `upgrade`. */
const PLAIN_AND_UPGRADE = "export default (req, res) => res.end(VERSION + ' plain');\nexport const upgrade = accept;\n";

/**
 * An app module (plain JS) whose `accept(req, socket, head)` takes a WebSocket and echoes its text
 * messages as `<version>:<message>`. `exports` is the rest of the module: by default a plain
 * handler and `export const upgrade = accept`; a test may hand `accept` to a server hook instead.
 */
export function wsEchoAppSource(version: string, exports = PLAIN_AND_UPGRADE): string {
  return `import { createHash } from 'node:crypto';
const VERSION = ${JSON.stringify(version)};
function frame(opcode, payload) {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, n]) : Buffer.from([0x80 | opcode, 126, n >> 8, n & 255]);
  return Buffer.concat([head, payload]);
}
function accept(req, socket, head) {
  const key = req.headers['sec-websocket-key'];
  const digest = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: ' + digest + '\\r\\n\\r\\n');
  let buf = head;
  socket.on('error', () => {});
  socket.on('end', () => socket.end());
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 6) {
      const opcode = buf[0] & 15;
      let n = buf[1] & 127, at = 2;
      if (n === 126) { n = buf.readUInt16BE(2); at = 4; }
      if (buf.length < at + 4 + n) return;
      const mask = buf.subarray(at, at + 4);
      const payload = Buffer.from(buf.subarray(at + 4, at + 4 + n));
      for (let i = 0; i < n; i++) payload[i] ^= mask[i & 3];
      buf = buf.subarray(at + 4 + n);
      if (opcode === 8) { socket.end(frame(8, payload.subarray(0, 2))); return; }
      if (opcode === 1) socket.write(frame(1, Buffer.from(VERSION + ':' + payload.toString('utf8'))));
    }
  });
}
${exports}`;
}
