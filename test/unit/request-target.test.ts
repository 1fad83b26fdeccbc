/**
 * What the app sees as its URL. Environments are the ones each front end really sends (see
 * docs/frontends.md, "What each front end sends").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headerPairs, isHttps, resolveTarget, startsWithSegment } from '../../server/adapters/request-target.js';

const env = (vars: Record<string, string>): Record<string, string> => Object.assign(Object.create(null) as Record<string, string>, vars);

test('nginx: REQUEST_URI as is at the root, and with a configured mount stripped', () => {
  const nginx = env({ REQUEST_METHOD: 'GET', REQUEST_URI: '/app/sub/p%C3%A4th?q=%C3%BC', DOCUMENT_URI: '/app/sub/päth' });
  assert.deepEqual(resolveTarget(nginx, ''), { method: 'GET', url: '/app/sub/p%C3%A4th?q=%C3%BC', mount: '', path: '/app/sub/p%C3%A4th' });
  assert.deepEqual(resolveTarget(nginx, '/app'), { method: 'GET', url: '/sub/p%C3%A4th?q=%C3%BC', mount: '/app', path: '/sub/p%C3%A4th' });
});

test('the mount itself maps to /, with or without a query', () => {
  assert.equal(resolveTarget(env({ REQUEST_URI: '/app' }), '/app').url, '/');
  assert.equal(resolveTarget(env({ REQUEST_URI: '/app?x=1' }), '/app').url, '/?x=1');
  assert.equal(resolveTarget(env({ REQUEST_URI: '/app/' }), '/app').url, '/');
});

test('a mount only matches whole segments: /a does not strip /ab', () => {
  assert.equal(resolveTarget(env({ REQUEST_URI: '/ab/c' }), '/a').url, '/ab/c');
  assert.equal(startsWithSegment('/a/b', '/a'), true);
  assert.equal(startsWithSegment('/ab', '/a'), false);
});

test('lighttpd: SCRIPT_NAME is the mount when it agrees with REQUEST_URI and PATH_INFO', () => {
  const lighttpd = env({ REQUEST_URI: '/app/sub/p%C3%A4th?q=1', SCRIPT_NAME: '/app', PATH_INFO: '/sub/päth' });
  assert.deepEqual(resolveTarget(lighttpd, ''), { method: 'GET', url: '/sub/p%C3%A4th?q=1', mount: '/app', path: '/sub/p%C3%A4th' });
});

test('lighttpd at the root with fix-root-scriptname: empty SCRIPT_NAME, nothing stripped', () => {
  const root = env({ REQUEST_URI: '/app/x', SCRIPT_NAME: '', PATH_INFO: '/app/x' });
  assert.equal(resolveTarget(root, '').url, '/app/x');
});

test('SCRIPT_NAME that disagrees with REQUEST_URI is ignored', () => {
  // lighttpd "/app" prefix matching "/apple/x" splits mid-segment: /apple + /x.
  assert.equal(resolveTarget(env({ REQUEST_URI: '/apple/x', SCRIPT_NAME: '/apple', PATH_INFO: '/y' }), '').url, '/apple/x');
  // Apache: SCRIPT_NAME is the whole decoded path and there is no PATH_INFO.
  assert.equal(resolveTarget(env({ REQUEST_URI: '/app/sub', SCRIPT_NAME: '/app/sub' }), '').url, '/app/sub');
});

test('a configured mount wins over SCRIPT_NAME', () => {
  const e = env({ REQUEST_URI: '/app/sub/x', SCRIPT_NAME: '/app/sub', PATH_INFO: '/x' });
  assert.equal(resolveTarget(e, '/app').url, '/sub/x');
});

test('without REQUEST_URI the URI is rebuilt from the CGI variables', () => {
  assert.equal(resolveTarget(env({ SCRIPT_NAME: '/s', PATH_INFO: '/p', QUERY_STRING: 'a=1' }), '/none').url, '/s/p?a=1');
  // ...and then SCRIPT_NAME agrees with it, so it is the mount.
  assert.equal(resolveTarget(env({ SCRIPT_NAME: '/s', PATH_INFO: '/p', QUERY_STRING: 'a=1' }), '').url, '/p?a=1');
  assert.equal(resolveTarget(env({}), '').url, '/');
});

test('headers come from HTTP_* plus CONTENT_TYPE and CONTENT_LENGTH', () => {
  assert.deepEqual(
    headerPairs(env({ HTTP_X_FORWARDED_FOR: '1.2.3.4', HTTP_HOST: 'h', CONTENT_TYPE: 'text/plain', CONTENT_LENGTH: '5', REQUEST_METHOD: 'POST', HTTPS: 'on' })),
    ['x-forwarded-for', '1.2.3.4', 'host', 'h', 'content-type', 'text/plain', 'content-length', '5'],
  );
  assert.deepEqual(headerPairs(env({ CONTENT_LENGTH: '0', REQUEST_METHOD: 'GET' })), [], 'a body-less GET carries no content-length');
  assert.deepEqual(headerPairs(env({ CONTENT_LENGTH: '0', REQUEST_METHOD: 'POST' })), ['content-length', '0']);
});

test('HTTPS detection', () => {
  assert.equal(isHttps(env({ HTTPS: 'on' })), true);
  assert.equal(isHttps(env({ HTTPS: '1' })), true);
  assert.equal(isHttps(env({ HTTPS: 'off' })), false);
  assert.equal(isHttps(env({ HTTPS: '' })), false);
  assert.equal(isHttps(env({ REQUEST_SCHEME: 'https' })), true);
  assert.equal(isHttps(env({})), false);
});
