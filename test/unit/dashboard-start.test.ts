/**
 * startDashboard: the bind rule (no non-loopback address without a token), the generated token
 * and its login URL, and the live event stream over a real socket.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import pino from 'pino';
import { startDashboard } from '../../dashboard/index.js';
import { parseListenAddress, parseTcpAddress, isLoopback } from '../../shared/listen-address.js';
import * as schemas from '../../dashboard/schemas.js';
import { isDragonError } from '../../shared/errors.js';
import { createFakeRuntime } from '../browser/fake-runtime.js';

const log = pino({ level: 'silent' });

describe('listen address', () => {
  it('parses host:port, IPv6 literals, and refuses the rest', () => {
    assert.deepEqual(parseTcpAddress('127.0.0.1:9100'), { kind: 'tcp', host: '127.0.0.1', port: 9100 });
    assert.deepEqual(parseTcpAddress('[::1]:0'), { kind: 'tcp', host: '::1', port: 0 });
    assert.deepEqual(parseTcpAddress('localhost:9100'), { kind: 'tcp', host: 'localhost', port: 9100 });
    assert.deepEqual(parseListenAddress('unix:/run/x.sock'), { kind: 'unix', path: '/run/x.sock' });
    for (const bad of ['9100', '127.0.0.1', '127.0.0.1:99999', '[zz]:1', 'unix:/x.sock', ':9100', 'unix:']) {
      assert.throws(() => parseTcpAddress(bad), (err) => isDragonError(err, 'DOW_ERR_ADDRESS'), bad);
    }
  });

  it('knows loopback addresses', () => {
    assert.deepEqual(['127.0.0.1', '127.1.2.3', '::1', 'localhost', '0.0.0.0', '::', '10.0.0.1', 'example.com'].map(isLoopback), [true, true, true, true, false, false, false, false]);
  });
});

describe('startDashboard', () => {
  // First in the file: Fastify emits each deprecation warning once per process.
  it('logs no line per request (the page polls), and no deprecation warning at start', async () => {
    const lines: string[] = [];
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const dash = await startDashboard({ listen: '127.0.0.1:0', token: 'log-test-Zk3v9QpL2mX8rT4wB6yN1cJ5hF7dS0', control: createFakeRuntime(), history: null, log: logger });
    try {
      const res = await fetch(new URL('/api/status', dash.loginUrl), { headers: { authorization: 'Bearer log-test-Zk3v9QpL2mX8rT4wB6yN1cJ5hF7dS0' } });
      await res.arrayBuffer();
      const missing = await fetch(new URL('/nowhere', dash.loginUrl), { headers: { authorization: 'Bearer log-test-Zk3v9QpL2mX8rT4wB6yN1cJ5hF7dS0' } });
      await missing.arrayBuffer();
    } finally {
      await dash.close();
      await new Promise((resolve) => setImmediate(resolve)); // a warning is emitted on the next tick
      process.off('warning', onWarning);
    }
    assert.deepEqual(lines.filter((l) => /incoming request|request completed/.test(l)), []);
    assert.deepEqual(warnings.filter((w) => /disableRequestLogging/.test(w)), []);
  });
  it('refuses a non-loopback bind without a token', async () => {
    for (const listen of ['0.0.0.0:0', '[::]:0', '10.1.2.3:0']) {
      for (const token of [undefined, '']) {
        await assert.rejects(startDashboard({ listen, token, control: createFakeRuntime(), history: null, log }), (err) => isDragonError(err, 'DOW_ERR_DASHBOARD_BIND'));
      }
    }
  });

  it('binds 0.0.0.0 with a configured token; the login URL points at loopback', async () => {
    const dash = await startDashboard({ listen: '0.0.0.0:0', token: 'configured-token-Zk3v9QpL2mX8rT4wB6yN1c', control: createFakeRuntime(), history: null, log });
    try {
      assert.match(dash.address, /^0\.0\.0\.0:\d+$/);
      assert.match(dash.loginUrl, /^http:\/\/127\.0\.0\.1:\d+\/login\?token=configured-token-Zk3v9QpL2mX8rT4wB6yN1c$/);
    } finally {
      await dash.close();
    }
  });

  it('generates a token on loopback, and its login URL signs a browser in', async () => {
    const dash = await startDashboard({ listen: '127.0.0.1:0', control: createFakeRuntime(), history: null, log });
    try {
      assert.match(dash.token, /^[A-Za-z0-9_-]{43}$/);
      const login = await fetch(dash.loginUrl, { redirect: 'manual' });
      assert.equal(login.status, 303);
      const cookie = String(login.headers.get('set-cookie')).split(';')[0] ?? '';
      const page = await fetch(new URL('/', dash.loginUrl), { headers: { cookie } });
      assert.equal(page.status, 200);
      assert.match(await page.text(), /dragon-on-wheels/);
    } finally {
      await dash.close();
    }
  });

  it('streams update frames over SSE and close() ends open streams', async () => {
    const runtime = createFakeRuntime();
    const dash = await startDashboard({ listen: '127.0.0.1:0', token: 'sse-token-Zk3v9QpL2mX8rT4wB6yN1cJ5hF7dS0', control: runtime, history: null, log });
    const url = new URL('/api/events', dash.loginUrl);
    const frames: string[] = [];
    let headers: Record<string, unknown> = {};
    const ended = new Promise<void>((resolve, reject) => {
      const req = request(url, { headers: { authorization: 'Bearer sse-token-Zk3v9QpL2mX8rT4wB6yN1cJ5hF7dS0' } }, (res) => {
        headers = res.headers;
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            frames.push(buffer.slice(0, cut));
            buffer = buffer.slice(cut + 2);
          }
          // Two update frames: the immediate one and one from the shared timer.
          if (frames.filter((f) => f.startsWith('event: update')).length === 2) void dash.close();
        });
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    await ended;
    assert.match(String(headers['content-type']), /^text\/event-stream/);
    assert.match(String(headers['content-security-policy']), /frame-ancestors 'none'/);
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.equal(frames[0], 'retry: 2000');
    const updates = frames.filter((f) => f.startsWith('event: update'));
    assert.equal(updates.length, 2);
    const ajv = new Ajv({ strict: false });
    for (const frame of updates) {
      const data = JSON.parse(frame.split('\n')[1]?.replace(/^data: /, '') ?? '');
      assert.ok(ajv.validate(schemas.overviewBody, data.overview), JSON.stringify(ajv.errors));
      assert.ok(ajv.validate(schemas.appsBody, data.apps), JSON.stringify(ajv.errors));
      assert.equal(data.apps.apps.length, 2);
    }
  });
});
