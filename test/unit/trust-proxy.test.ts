/**
 * Whose X-Forwarded-* headers are believed (server/http/trust-proxy.ts): only a trusted peer's,
 * walking X-Forwarded-For from the right past trusted hops, as Express and Fastify do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileTrust, DEFAULT_TRUST_PROXY, identifyClient, trustForPeer } from '../../server/http/trust-proxy.js';

const loopback = compileTrust(DEFAULT_TRUST_PROXY);

test('a trusted peer names the client in X-Forwarded-For, and its scheme in X-Forwarded-Proto', () => {
  assert.deepEqual(identifyClient('127.0.0.1', { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' }, loopback), { address: '203.0.113.9', https: true, forwarded: true });
  assert.deepEqual(identifyClient('::1', { 'x-forwarded-for': '2001:db8::7' }, loopback), { address: '2001:db8::7', https: false, forwarded: true });
  assert.deepEqual(identifyClient('::ffff:127.0.0.1', { 'x-forwarded-for': '203.0.113.9' }, loopback).address, '203.0.113.9');
});

test('an untrusted peer is the client, whatever it claims', () => {
  const claims = { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-real-ip': '198.51.100.1' };
  assert.deepEqual(identifyClient('192.0.2.50', claims, loopback), { address: '192.0.2.50', https: false, forwarded: false });
  assert.deepEqual(identifyClient('127.0.0.1', claims, compileTrust(false)), { address: '127.0.0.1', https: false, forwarded: false });
  assert.deepEqual(identifyClient(undefined, claims, compileTrust(false)), { address: undefined, https: false, forwarded: false });
});

test('the walk stops at the first untrusted hop from the right: a client cannot forge its way past the proxy', () => {
  const trust = compileTrust(['loopback', '10.0.0.0/8']);
  // The client sent "X-Forwarded-For: 1.2.3.4" itself; the edge proxy appended what it saw.
  assert.equal(identifyClient('127.0.0.1', { 'x-forwarded-for': '1.2.3.4, 198.51.100.7, 10.0.0.5' }, trust).address, '198.51.100.7');
  assert.equal(identifyClient('127.0.0.1', { 'x-forwarded-for': '1.2.3.4, 198.51.100.7' }, loopback).address, '198.51.100.7');
});

test('X-Real-IP counts only without X-Forwarded-For; junk is ignored', () => {
  assert.equal(identifyClient('127.0.0.1', { 'x-real-ip': '198.51.100.1' }, loopback).address, '198.51.100.1');
  assert.equal(identifyClient('127.0.0.1', { 'x-real-ip': 'not-an-ip' }, loopback).address, '127.0.0.1');
  assert.equal(identifyClient('127.0.0.1', { 'x-forwarded-for': 'garbage' }, loopback).address, '127.0.0.1');
  assert.equal(identifyClient('127.0.0.1', { 'x-forwarded-proto': 'https, http' }, loopback).https, true);
  assert.equal(identifyClient('127.0.0.1', { 'x-forwarded-proto': 'http, https' }, loopback).https, false);
});

test('a Unix socket peer (no address) is the local front end: trusted unless trustProxy is false', () => {
  assert.equal(identifyClient(undefined, { 'x-forwarded-for': '203.0.113.9' }, loopback).address, '203.0.113.9');
  assert.equal(identifyClient(undefined, {}, loopback).address, undefined);
});

test('compileTrust refuses what is not an address, as the config check reports it', () => {
  assert.throws(() => compileTrust(['10.0.0.0/99']), /invalid/i);
  assert.throws(() => compileTrust(['example.com']), /invalid/i);
});

test('property: from an untrusted peer the answer is always the peer; from a trusted one, never a trusted hop', () => {
  const ipv4 = fc.tuple(fc.integer({ min: 1, max: 223 }), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 })).map((parts) => parts.join('.'));
  fc.assert(fc.property(ipv4, fc.array(ipv4, { maxLength: 5 }), (peer, hops) => {
    const headers = hops.length > 0 ? { 'x-forwarded-for': hops.join(', ') } : {};
    const result = identifyClient(peer, headers, loopback);
    if (!peer.startsWith('127.')) assert.equal(result.address, peer);
    else if (result.forwarded) assert.ok(!(result.address as string).startsWith('127.') || hops.every((hop) => hop.startsWith('127.')));
  }));
});

test('trustForPeer keeps the peer\'s answer and asks the list for every other address', () => {
  let asked = 0;
  const counting = (address: string, hop: number): boolean => {
    asked++;
    return loopback(address, hop);
  };
  const perConnection = trustForPeer(counting, '127.0.0.1');
  assert.equal(asked, 1, 'the peer is asked once, when the connection is seen');
  for (let i = 0; i < 5; i++) assert.equal(perConnection('127.0.0.1', 0), true);
  assert.equal(asked, 1);
  assert.equal(perConnection('203.0.113.9', 1), false);
  assert.equal(perConnection('127.0.0.1', 2), true, 'the same address as a later hop is asked again');
  assert.equal(asked, 3);
  assert.equal(trustForPeer(counting, undefined), counting, 'a Unix socket peer keeps the list itself');
  const none = compileTrust(false);
  assert.equal(trustForPeer(none, '127.0.0.1'), none);
  assert.deepEqual(identifyClient('127.0.0.1', { 'x-forwarded-for': '203.0.113.9' }, trustForPeer(none, '127.0.0.1')).address, '127.0.0.1');
});
