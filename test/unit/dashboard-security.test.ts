/**
 * The dashboard's pure security rules: Host allow-list (DNS rebinding), Origin rule (CSRF) and
 * constant-time token comparison.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAllowedHost, splitHost } from '../../dashboard/security/host-check.js';
import { isStateChanging, originRefusal } from '../../dashboard/security/origin-check.js';
import { generateToken, safeEqual } from '../../dashboard/security/token.js';

describe('host check', () => {
  const policy = { port: 9100, allowedHosts: ['Dash.Example:443', 'proxy.local'] };

  it('accepts loopback names on the listening port only', () => {
    for (const host of ['127.0.0.1:9100', 'localhost:9100', '[::1]:9100', 'LocalHost:9100']) assert.ok(isAllowedHost(host, policy), host);
    for (const host of ['127.0.0.1:9101', 'localhost', '127.0.0.1', '[::1]:91000']) assert.ok(!isAllowedHost(host, policy), host);
  });

  it('refuses rebinding names, look-alikes and garbage', () => {
    for (const host of ['evil.example:9100', 'localhost.evil.example:9100', '127.0.0.1.nip.io:9100', '127.0.0.2:9100', '', undefined, '127.0.0.1:9100@evil', ' 127.0.0.1:9100']) {
      assert.ok(!isAllowedHost(host, policy), String(host));
    }
  });

  it('accepts configured hosts case-insensitively; an entry without a port on any port', () => {
    assert.ok(isAllowedHost('dash.example:443', policy));
    assert.ok(isAllowedHost('PROXY.local', policy));
    assert.ok(!isAllowedHost('dash.example', policy), 'an entry with a port matches that port only');
    assert.ok(!isAllowedHost('dash.example:8443', policy));
    // Behind nginx, `$http_host` keeps the browser's port (dash.example:8443): the name is what
    // a rebinding attack would change, the port is the proxy's.
    assert.ok(isAllowedHost('proxy.local:80', policy));
    assert.ok(isAllowedHost('proxy.local:8443', policy));
    assert.ok(!isAllowedHost('proxy.local.evil.example', policy));
    assert.ok(!isAllowedHost('evil.proxy.local:80', policy));
  });

  it('a bare loopback name means port 80, and with no known port any port is fine (inject)', () => {
    assert.ok(isAllowedHost('localhost', { port: 80, allowedHosts: [] }));
    assert.ok(isAllowedHost('localhost:1234', { port: undefined, allowedHosts: [] }));
    assert.ok(!isAllowedHost('evil.example:1234', { port: undefined, allowedHosts: [] }));
  });

  it('splits IPv6 literals', () => {
    assert.deepEqual(splitHost('[::1]:9100'), { name: '[::1]', port: 9100 });
    assert.deepEqual(splitHost('[::1]'), { name: '[::1]', port: undefined });
    assert.deepEqual(splitHost('a:b:c'), { name: 'a:b:c', port: undefined });
  });
});

describe('origin check', () => {
  const host = '127.0.0.1:9100';

  it('only non-safe methods are state-changing', () => {
    assert.deepEqual(['GET', 'HEAD', 'OPTIONS', 'PUT', 'POST', 'DELETE', 'PATCH'].map(isStateChanging), [false, false, false, true, true, true, true]);
  });

  it('same origin passes with either credential', () => {
    assert.equal(originRefusal('http://127.0.0.1:9100', host, 'cookie'), null);
    assert.equal(originRefusal('http://127.0.0.1:9100', host, 'bearer'), null);
  });

  it('a missing Origin passes only with a Bearer token', () => {
    assert.equal(originRefusal(undefined, host, 'bearer'), null);
    assert.match(String(originRefusal(undefined, host, 'cookie')), /Origin/);
  });

  it('behind a proxy that rewrites Host, an Origin naming an allowedHosts entry passes', () => {
    const allowed = ['dash.example', 'dash.example:8443'];
    assert.equal(originRefusal('https://dash.example', host, 'cookie', allowed), null);
    assert.equal(originRefusal('https://dash.example:443', host, 'cookie', allowed), null, 'the default port is dropped, as in Host');
    assert.equal(originRefusal('https://dash.example:8443', host, 'cookie', allowed), null);
    assert.notEqual(originRefusal('https://dash.example:9443', host, 'cookie', ['dash.example:8443']), null);
    assert.notEqual(originRefusal('http://dash.example.evil.example', host, 'cookie', allowed), null);
    assert.notEqual(originRefusal('https://evil.example', host, 'cookie', allowed), null);
    assert.notEqual(originRefusal('https://dash.example', host, 'cookie'), null, 'without the setting it is foreign');
  });

  it('foreign, opaque and malformed origins are refused', () => {
    for (const origin of ['http://evil.example', 'http://127.0.0.1:9101', 'http://localhost:9100', 'null', 'ftp://127.0.0.1:9100', '::', 'http://127.0.0.1:9100.evil.example']) {
      assert.notEqual(originRefusal(origin, host, 'bearer'), null, origin);
    }
  });
});

describe('token', () => {
  it('generates 256-bit url-safe tokens', () => {
    const a = generateToken();
    assert.match(a, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, generateToken());
  });

  it('compares exactly, whatever the lengths', () => {
    assert.ok(safeEqual('abc', 'abc'));
    assert.ok(!safeEqual('abc', 'abd'));
    assert.ok(!safeEqual('ab', 'abc'));
    assert.ok(!safeEqual('', 'abc'));
  });
});
