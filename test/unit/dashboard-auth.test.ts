/**
 * The dashboard's credentials: random server-side sessions with an
 * expiry and a logout, the wrong-token throttle per address and in total with its rate-limited
 * log line, and the refusal of guessable configured tokens.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { buildDashboard } from '../../dashboard/app.js';
import { startDashboard } from '../../dashboard/index.js';
import { CLIENT_RULE, clientKey, createAuthThrottle } from '../../dashboard/security/auth-throttle.js';
import { createSessionStore } from '../../dashboard/security/sessions.js';
import { estimateBits, tokenWeakness } from '../../dashboard/security/token-strength.js';
import { isDragonError } from '../../shared/errors.js';
import { settingsFromConfig } from '../../server/config/config.js';
import { createFakeRuntime } from '../browser/fake-runtime.js';

const TOKEN = 'Zk3v9QpL2mX8rT4wB6yN1cJ5hF7dS0aE-uG';
const HOST = '127.0.0.1:9100';
const ORIGIN = `http://${HOST}`;
const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

function dashboard(options: Partial<Parameters<typeof buildDashboard>[0]> = {}): { app: FastifyInstance; send: (o: InjectOptions) => Promise<LightMyRequestResponse> } {
  const app = buildDashboard({ control: createFakeRuntime(), history: null, token: TOKEN, port: 9100, ...options });
  return { app, send: (o) => app.inject({ ...o, headers: { host: HOST, ...(o.headers ?? {}) } }) };
}

async function login(send: (o: InjectOptions) => Promise<LightMyRequestResponse>): Promise<string> {
  const res = await send({ method: 'GET', url: `/login?token=${TOKEN}` });
  assert.equal(res.statusCode, 303, res.body);
  const cookie = res.cookies.find((c) => c.name === 'dow_session');
  assert.ok(cookie);
  return `dow_session=${cookie.value}`;
}

describe('sessions (the bug: the cookie was a fixed HMAC of the token)', () => {
  it('every login gets a different random id, and none survives a restart with the same token', async (t) => {
    const first = dashboard();
    t.after(() => first.app.close());
    const a = await login(first.send);
    const b = await login(first.send);
    assert.notEqual(a, b, 'two logins, two sessions');
    for (const cookie of [a, b]) assert.equal((await first.send({ method: 'GET', url: '/api/overview', headers: { cookie } })).statusCode, 200);

    const restarted = dashboard();
    t.after(() => restarted.app.close());
    assert.notEqual(await login(restarted.send), a);
    assert.equal((await restarted.send({ method: 'GET', url: '/api/overview', headers: { cookie: a } })).statusCode, 401, 'a cookie of the previous process is refused');
  });

  it('a session expires on the server, whatever the browser keeps', async (t) => {
    let now = 1_000_000;
    const d = dashboard({ sessions: createSessionStore({ maxAgeMs: 60_000, now: () => now }) });
    t.after(() => d.app.close());
    const cookie = await login(d.send);
    now += 59_000;
    assert.equal((await d.send({ method: 'GET', url: '/api/overview', headers: { cookie } })).statusCode, 200);
    now += 1_000;
    assert.equal((await d.send({ method: 'GET', url: '/api/overview', headers: { cookie } })).statusCode, 401);
  });

  it('POST /logout ends the session on the server and clears the cookie; it needs this Origin', async (t) => {
    const d = dashboard();
    t.after(() => d.app.close());
    const cookie = await login(d.send);
    const foreign = await d.send({ method: 'POST', url: '/logout', headers: { cookie, origin: 'http://evil.example' } });
    assert.equal(foreign.statusCode, 403, 'another site cannot sign the operator out');
    assert.equal((await d.send({ method: 'GET', url: '/api/overview', headers: { cookie } })).statusCode, 200);

    const out = await d.send({ method: 'POST', url: '/logout', headers: { cookie, origin: ORIGIN } });
    assert.equal(out.statusCode, 303);
    assert.match(String(out.headers['set-cookie']), /dow_session=;.*Expires=Thu, 01 Jan 1970/);
    assert.equal((await d.send({ method: 'GET', url: '/api/overview', headers: { cookie } })).statusCode, 401, 'the old cookie no longer works');
  });

  it('a login replaces the session the browser sent along (no fixation)', async (t) => {
    const d = dashboard();
    t.after(() => d.app.close());
    const old = await login(d.send);
    const res = await d.send({ method: 'GET', url: `/login?token=${TOKEN}`, headers: { cookie: old } });
    assert.equal(res.statusCode, 303);
    assert.equal((await d.send({ method: 'GET', url: '/api/overview', headers: { cookie: old } })).statusCode, 401);
  });
});

describe('wrong-token throttle (the bug: 8-10k guesses a second, no log line)', () => {
  it('keys IPv6 clients by /64 and mapped IPv4 as IPv4', () => {
    assert.equal(clientKey('203.0.113.9'), '203.0.113.9');
    assert.equal(clientKey('::ffff:203.0.113.9'), '203.0.113.9');
    assert.equal(clientKey('2001:db8:0:1::5'), '2001:db8:0:1::/64');
    assert.equal(clientKey('2001:db8:0:1:ffff:1:2:3'), '2001:db8:0:1::/64');
    assert.equal(clientKey('::1'), '0:0:0:0::/64');
  });

  it('after 10 wrong tokens an address gets 429 with Retry-After, even for the right token; others are not affected', async (t) => {
    let now = 0;
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const d = dashboard({ throttle: createAuthThrottle({ now: () => now }), logger });
    t.after(() => d.app.close());
    const attacker = { remoteAddress: '198.51.100.7' };
    for (let i = 0; i < 10; i += 1) {
      const res = await d.send({ method: 'GET', url: '/api/overview', headers: { authorization: `Bearer guess${i}` }, ...attacker });
      assert.equal(res.statusCode, 401, `guess ${i}`);
    }
    const refused = await d.send({ method: 'GET', url: '/api/overview', headers: { authorization: `Bearer ${TOKEN}` }, ...attacker });
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.json().code, 'DOW_ERR_TOO_MANY_ATTEMPTS');
    assert.equal(refused.headers['retry-after'], '6');
    const viaLogin = await d.send({ method: 'GET', url: `/login?token=${TOKEN}`, ...attacker });
    assert.equal(viaLogin.statusCode, 429, 'the login URL is throttled too');
    assert.equal(viaLogin.headers['set-cookie'], undefined);

    const other = await d.send({ method: 'GET', url: '/api/overview', headers: { authorization: `Bearer ${TOKEN}` }, remoteAddress: '198.51.100.8' });
    assert.equal(other.statusCode, 200, 'the operator at another address still gets in');
    now += 6_000;
    assert.equal((await d.send({ method: 'GET', url: '/api/overview', headers: { authorization: `Bearer ${TOKEN}` }, ...attacker })).statusCode, 200, 'one more try every 6 s');

    // One line at the first failure, the rest summed up later (at close here): not one per guess.
    await d.app.close();
    const warnings = lines.map((l) => JSON.parse(l) as { msg: string }).filter((l) => /admin token refused/.test(l.msg));
    assert.equal(warnings.length, 2, JSON.stringify(warnings));
    assert.match(warnings[0]?.msg ?? '', /admin token refused once from 198\.51\.100\.7, bearer/);
    assert.match(warnings[1]?.msg ?? '', /admin token refused 9 times from 198\.51\.100\.7, login; 2 more attempts refused unchecked \(429, throttled\)/);
  });

  it('many addresses together are held to the global budget', async (t) => {
    const now = 0;
    const d = dashboard({ throttle: createAuthThrottle({ now: () => now }) });
    t.after(() => d.app.close());
    const statuses: number[] = [];
    for (let i = 0; i < 120; i += 1) {
      const res = await d.send({ method: 'GET', url: '/api/overview', headers: { authorization: 'Bearer nope' }, remoteAddress: `10.0.${i >> 8}.${i & 255}` });
      statuses.push(res.statusCode);
    }
    assert.equal(statuses.filter((s) => s === 401).length, 100);
    assert.equal(statuses.filter((s) => s === 429).length, 20);
  });

  it("a wrong-token flood from many addresses does not lock the operator's right token out", async (t) => {
    const now = 0;
    const d = dashboard({ throttle: createAuthThrottle({ now: () => now }) });
    t.after(() => d.app.close());
    for (let i = 0; i < 300; i += 1) {
      await d.send({ method: 'GET', url: '/api/overview', headers: { authorization: `Bearer guess-${i}` }, remoteAddress: `10.1.${i >> 8}.${i & 255}` });
    }
    const flooded = await d.send({ method: 'GET', url: '/api/overview', headers: { authorization: 'Bearer still-wrong' }, remoteAddress: '10.2.0.1' });
    assert.equal(flooded.statusCode, 429, 'the global budget is spent: wrong tokens get 429');
    const operator = { remoteAddress: '192.0.2.10' };
    assert.equal((await d.send({ method: 'GET', url: '/api/overview', headers: { authorization: `Bearer ${TOKEN}` }, ...operator })).statusCode, 200);
    assert.equal((await d.send({ method: 'GET', url: `/login?token=${TOKEN}`, ...operator })).statusCode, 303);
  });

  it('over a real socket behind a trusted proxy, guesses from 150 clients leave the right token working', async (t) => {
    const dash = await startDashboard({ listen: '127.0.0.1:0', token: TOKEN, trustedProxies: ['127.0.0.1'], control: createFakeRuntime(), history: null, log: pino({ level: 'silent' }) });
    t.after(() => dash.close());
    const url = new URL('/api/overview', dash.loginUrl);
    const statuses: number[] = [];
    for (let i = 0; i < 150; i += 1) {
      const res = await fetch(url, { headers: { authorization: `Bearer guess-${i}`, 'x-forwarded-for': `203.0.113.${i}` } });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    assert.ok(statuses.includes(429), 'the flood spent the global budget');
    const operator = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}`, 'x-forwarded-for': '198.51.100.200' } });
    await operator.arrayBuffer();
    assert.equal(operator.status, 200);
  });

  it('the global budget refuses only wrong tokens; an address over its own budget is refused before comparing', () => {
    let now = 0;
    const throttle = createAuthThrottle({ client: { burst: 2, perMinute: 60 }, global: { burst: 3, perMinute: 60 }, now: () => now });
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) throttle.fail(ip);
    assert.deepEqual(throttle.wait('192.0.2.9'), { clientMs: 0, globalMs: 1000 }, 'a fresh address: not its own wait');
    throttle.fail('192.0.2.1');
    assert.equal(throttle.wait('192.0.2.1').clientMs, 1000);
    now += 2000;
    assert.deepEqual(throttle.wait('192.0.2.1'), { clientMs: 0, globalMs: 0 });
  });

  it('over a real socket, a guessing loop gets 10 answers and then only 429s, with one log line', async (t) => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const dash = await startDashboard({ listen: '127.0.0.1:0', token: TOKEN, control: createFakeRuntime(), history: null, log: logger });
    t.after(() => dash.close());
    const counts = new Map<number, number>();
    const started = performance.now();
    for (let i = 0; i < 300 && performance.now() - started < 10_000; i += 1) {
      const res = await fetch(new URL('/api/overview', dash.loginUrl), { headers: { authorization: `Bearer guess-${i}` } });
      await res.arrayBuffer();
      counts.set(res.status, (counts.get(res.status) ?? 0) + 1);
    }
    // The bucket takes 10 at once and 10 a minute after: a loop slowed by a busy machine earns
    // one more answer for each 6 s it ran.
    const refills = Math.floor(((performance.now() - started) * CLIENT_RULE.perMinute) / 60_000);
    const answered = counts.get(401) ?? 0;
    assert.ok(answered >= CLIENT_RULE.burst && answered <= CLIENT_RULE.burst + refills, `${answered} answers in ${refills} refills`);
    assert.equal(counts.get(429), 300 - answered);
    assert.equal(lines.filter((l) => /admin token refused/.test(l)).length, 1, 'the rest is summed up in the next line, 10 s later');
  });
});

describe('the login URL takes the token as a browser sends it', () => {
  const BASE64_TOKEN = 'q+9Zk3v/QpL2mX8rT4wB6yN1cJ5hF7dS0aEuG+h7Kw=';

  it('a base64 token pasted unencoded (each + read as a space) or percent-encoded logs in', async (t) => {
    const d = dashboard({ token: BASE64_TOKEN });
    t.after(() => d.app.close());
    for (const query of [BASE64_TOKEN, encodeURIComponent(BASE64_TOKEN), BASE64_TOKEN.replaceAll('+', '%20')]) {
      const res = await d.send({ method: 'GET', url: `/login?token=${query}` });
      assert.equal(res.statusCode, 303, `${query}: ${res.body}`);
    }
    const wrong = await d.send({ method: 'GET', url: `/login?token=${BASE64_TOKEN.replaceAll('+', '-')}` });
    assert.equal(wrong.statusCode, 401, 'a different token is still refused');
    const bearer = await d.send({ method: 'GET', url: '/api/overview', headers: { authorization: `Bearer ${BASE64_TOKEN.replaceAll('+', ' ')}` } });
    assert.equal(bearer.statusCode, 401, 'a header carries the token as it is: no space for +');
  });

  it('the advice for a weak token names a URL-safe generator', () => {
    assert.match(String(tokenWeakness('short')), /openssl rand -hex 32/);
    assert.equal(tokenWeakness('5f0c6a3e9b1d4e7f8a2b3c4d5e6f7a8b5f0c6a3e9b1d4e7f8a2b3c4d5e6f7a8c'), null);
  });
});

describe('configured token strength (the bug: a 16-character token was accepted)', () => {
  it('refuses short and repetitive tokens, accepts random ones', () => {
    assert.match(String(tokenWeakness('0123456789abcdef')), /16 characters, at least 32/);
    assert.match(String(tokenWeakness('abcd'.repeat(8))), /repeats a shorter part/);
    assert.match(String(tokenWeakness('abcd'.repeat(40))), /repeats a shorter part/, 'however long');
    assert.match(String(tokenWeakness('x'.repeat(40))), /repeats a shorter part/);
    assert.match(String(tokenWeakness('abbabaabbaababbabaababbaabbabaab' + 'aabb')), /too repetitive \(about \d+ bits from 2 different characters\)/);
    assert.equal(tokenWeakness(TOKEN), null);
    assert.equal(tokenWeakness('5f0c6a3e9b1d4e7f8a2b3c4d5e6f7a8b'), null, 'openssl rand -hex 16');
    assert.ok(estimateBits('abcd'.repeat(8)) < 80);
  });

  it('startDashboard refuses a weak configured token (DRAGON_ADMIN_TOKEN or config), naming where it came from but not the token', async () => {
    const log = pino({ level: 'silent' });
    await assert.rejects(
      startDashboard({ listen: '127.0.0.1:0', token: 'short-token-16ch', tokenSource: 'DRAGON_ADMIN_TOKEN', control: createFakeRuntime(), history: null, log }),
      (err) => isDragonError(err, 'DOW_ERR_WEAK_TOKEN') && /DRAGON_ADMIN_TOKEN/.test(err.message) && !err.message.includes('short-token-16ch'),
    );
  });

  it('the config refuses a token under 32 characters and takes allowedHosts and trustedProxies', async () => {
    const app = { name: 'a', listen: '127.0.0.1:0', module: './hello-node.mjs' };
    await assert.rejects(settingsFromConfig({ apps: [app], dashboard: { token: 'x'.repeat(16) } }, FIXTURES), (err) => isDragonError(err, 'DOW_ERR_CONFIG') && /token/.test(err.message));
    const settings = await settingsFromConfig({ apps: [app], dashboard: { token: TOKEN, allowedHosts: ['dash.example'], trustedProxies: ['127.0.0.1', '10.0.0.0/8'] } }, FIXTURES);
    assert.deepEqual(settings.dashboard?.allowedHosts, ['dash.example']);
    assert.deepEqual(settings.dashboard?.trustedProxies, ['127.0.0.1', '10.0.0.0/8']);
    await assert.rejects(settingsFromConfig({ apps: [app], dashboard: { allowedHosts: ['evil.example/path'] } }, FIXTURES), (err) => isDragonError(err, 'DOW_ERR_CONFIG'));
  });
});
