/**
 * @module parser-micro
 * Micro-benchmark of the SCGI parser alone (server/protocol/scgi-parser.ts): no sockets, no
 * dependencies, in the manner of pg-protocol's src/b.ts. Prints requests/s and MB/s per case.
 * Usage: node --import tsx scripts/bench/parser-micro.ts [--seconds 1] [--json]
 */
import { parseArgs } from 'node:util';
import { ScgiParser, type ScgiParserHandler } from '../../server/protocol/scgi-parser.js';
import { DEFAULT_LIMITS } from '../../server/protocol/limits.js';

/** What nginx 1.22 sends with Debian's scgi_params for a browser's GET, plus its headers. */
function nginxRequest(method: string, uri: string, body: Buffer): Buffer {
  const pairs: [string, string][] = [
    ['CONTENT_LENGTH', String(body.length)], ['REQUEST_METHOD', method], ['REQUEST_URI', uri],
    ['QUERY_STRING', uri.includes('?') ? uri.slice(uri.indexOf('?') + 1) : ''],
    ['CONTENT_TYPE', body.length ? 'application/json' : ''], ['DOCUMENT_URI', uri.split('?')[0] as string],
    ['DOCUMENT_ROOT', '/usr/share/nginx/html'], ['SCGI', '1'], ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['REQUEST_SCHEME', 'http'], ['REMOTE_ADDR', '127.0.0.1'], ['REMOTE_PORT', '51234'],
    ['SERVER_PORT', '8080'], ['SERVER_NAME', 'localhost'], ['HTTP_HOST', 'localhost'],
    ['HTTP_USER_AGENT', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'],
    ['HTTP_ACCEPT', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
    ['HTTP_ACCEPT_LANGUAGE', 'en-US,en;q=0.5'], ['HTTP_ACCEPT_ENCODING', 'gzip, deflate, br'],
    ['HTTP_CONNECTION', 'keep-alive'], ['HTTP_COOKIE', 'session=4f6c2a9e8b1d7c3a5e0f2b4d6a8c0e1f; theme=dark'],
  ];
  const block = Buffer.from(pairs.map(([k, v]) => `${k}\0${v}\0`).join(''), 'latin1');
  return Buffer.concat([Buffer.from(`${block.length}:`), block, Buffer.from(','), body]);
}

interface Case {
  name: string;
  /** The request as the chunks the parser is fed. */
  chunks: Buffer[];
}

function splitInto(buffer: Buffer, parts: number): Buffer[] {
  const size = Math.ceil(buffer.length / parts);
  const chunks: Buffer[] = [];
  for (let at = 0; at < buffer.length; at += size) chunks.push(buffer.subarray(at, at + size));
  return chunks;
}

export function buildCases(): Case[] {
  const get = nginxRequest('GET', '/items/42?page=2', Buffer.alloc(0));
  const post = nginxRequest('POST', '/api/items', Buffer.alloc(16 * 1024, 0x61));
  return [
    { name: `GET, ${get.length} B in one chunk (as nginx writes it)`, chunks: [get] },
    { name: `GET, ${get.length} B in 3 chunks (header block spans chunks)`, chunks: splitInto(get, 3) },
    { name: `POST, ${post.length} B (16 KiB body) in 64 KiB reads`, chunks: [post] },
  ];
}

export interface CaseResult {
  name: string;
  bytesPerRequest: number;
  requestsPerSecond: number;
  megabytesPerSecond: number;
  nsPerRequest: number;
}

let sink = 0; // keeps the work observable so it is not optimised away

const handler: ScgiParserHandler = {
  onHeaders(env, contentLength) {
    sink += contentLength + (env.REQUEST_URI?.length ?? 0);
  },
  onBody(chunk) {
    sink += chunk.length;
  },
  onBodyEnd() {
    sink++;
  },
};

function runCase(c: Case, seconds: number): CaseResult {
  const bytes = c.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const parseOne = (): void => {
    const parser = new ScgiParser(handler, DEFAULT_LIMITS);
    for (const chunk of c.chunks) parser.execute(chunk);
  };
  const BATCH = 1000;
  const warmupEnd = performance.now() + Math.min(300, seconds * 300);
  while (performance.now() < warmupEnd) for (let i = 0; i < BATCH; i++) parseOne();
  let count = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    for (let i = 0; i < BATCH; i++) parseOne();
    count += BATCH;
    now = performance.now();
  }
  const elapsedS = (now - start) / 1000;
  return {
    name: c.name,
    bytesPerRequest: bytes,
    requestsPerSecond: count / elapsedS,
    megabytesPerSecond: (count * bytes) / elapsedS / 1e6,
    nsPerRequest: (elapsedS * 1e9) / count,
  };
}

export function runParserMicro(seconds: number): CaseResult[] {
  return buildCases().map((c) => runCase(c, seconds));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '1' }, json: { type: 'boolean', default: false } } });
  const results = runParserMicro(Number(values.seconds));
  if (values.json) process.stdout.write(`${JSON.stringify(results)}\n`);
  else {
    for (const r of results) {
      console.log(`${r.name}: ${Math.round(r.requestsPerSecond).toLocaleString('en-US')} req/s, ${r.megabytesPerSecond.toFixed(0)} MB/s, ${r.nsPerRequest.toFixed(0)} ns/request`);
    }
  }
  if (sink === -1) console.log('unreachable');
}
