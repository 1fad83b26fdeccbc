/**
 * Pins the Node internals the Node adapter relies on (node:http's OutgoingMessage), so a Node
 * upgrade that changes them fails here, by name, instead of corrupting responses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingMessage, OutgoingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { storeCgiHeader } from '../../server/adapters/node/cgi-header.js';

test('OutgoingMessage keeps headers under a kOutHeaders symbol', () => {
  const res = new OutgoingMessage();
  res.setHeader('X-A', '1');
  const symbol = Object.getOwnPropertySymbols(res).find((s) => s.description === 'kOutHeaders');
  assert.ok(symbol, 'kOutHeaders symbol not found');
  assert.deepEqual({ ...((res as unknown as Record<symbol, object>)[symbol]) }, { 'x-a': ['X-A', '1'] });
});

test('_storeHeader, _header, _last and chunkedEncoding exist where the adapter expects them', () => {
  const proto = OutgoingMessage.prototype as unknown as Record<string, unknown>;
  assert.equal(typeof proto._storeHeader, 'function');
  assert.equal(typeof proto._send, 'function');
  const res = new ServerResponse(new IncomingMessage(new Socket()));
  const internals = res as unknown as Record<string, unknown>;
  assert.ok('_header' in internals);
  assert.ok('_last' in internals);
  assert.ok('chunkedEncoding' in internals);
  assert.ok('useChunkedEncodingByDefault' in internals);
});

test('writeHead routes through an own-property _storeHeader and produces a CGI head', () => {
  const res = new ServerResponse(new IncomingMessage(new Socket()));
  (res as unknown as { _storeHeader: unknown })._storeHeader = storeCgiHeader;
  res.setHeader('Set-Cookie', ['a=1', 'b=2']);
  res.setHeader('Transfer-Encoding', 'chunked');
  res.writeHead(201, 'Made', { 'X-B': 2 });
  const internals = res as unknown as { _header: string; chunkedEncoding: boolean; _last: boolean };
  assert.equal(internals._header, 'Status: 201 Made\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-B: 2\r\n\r\n');
  assert.equal(internals.chunkedEncoding, false);
  assert.equal(internals._last, true);
});

test('writeHead with literal headers (no setHeader) is validated against header injection', () => {
  const res = new ServerResponse(new IncomingMessage(new Socket()));
  (res as unknown as { _storeHeader: unknown })._storeHeader = storeCgiHeader;
  assert.throws(() => res.writeHead(200, { 'X-Evil': 'a\r\nInjected: 1' }), { code: 'ERR_INVALID_CHAR' });
  const res2 = new ServerResponse(new IncomingMessage(new Socket()));
  (res2 as unknown as { _storeHeader: unknown })._storeHeader = storeCgiHeader;
  res2.writeHead(200, ['A', '1', 'B', '2']);
  assert.equal((res2 as unknown as { _header: string })._header, 'Status: 200 OK\r\nA: 1\r\nB: 2\r\n\r\n');
});

test('IncomingMessage takes headers through its setter (the getter only reads what the parser counted)', () => {
  const req = new IncomingMessage(new Socket());
  req.rawHeaders = ['accept', 'a'];
  // Regression: headers set only through rawHeaders came out empty, as kHeadersCount stayed 0.
  assert.deepEqual({ ...req.headers }, {});
  req.headers = { accept: 'a' };
  assert.deepEqual({ ...req.headers }, { accept: 'a' });
});

test('IncomingMessage builds headers lazily from rawHeaders, as many as kHeadersCount counts', () => {
  const req = new IncomingMessage(new Socket());
  const kHeadersCount = Object.getOwnPropertySymbols(req).find((s) => s.description === 'kHeadersCount');
  assert.ok(kHeadersCount, 'kHeadersCount symbol not found');
  req.rawHeaders = ['accept', 'a', 'x-forwarded-for', '1.1.1.1'];
  (req as unknown as Record<symbol, number>)[kHeadersCount] = 4;
  assert.deepEqual({ ...req.headers }, { accept: 'a', 'x-forwarded-for': '1.1.1.1' });
});

test('net.Socket answers remoteAddress, remotePort and remoteFamily from its _peername cache', () => {
  const socket = new Socket();
  (socket as unknown as { _peername: unknown })._peername = { address: '203.0.113.5', port: 4242, family: 'IPv4' };
  assert.equal(socket.remoteAddress, '203.0.113.5');
  assert.equal(socket.remotePort, 4242);
  assert.equal(socket.remoteFamily, 'IPv4');
});
