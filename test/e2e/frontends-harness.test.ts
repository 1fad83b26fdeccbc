/**
 * Proves the nginx, lighttpd and Apache harnesses work (floor server behind each, TCP and Unix
 * socket), and pins the exact SCGI environment and quirks of each front end, using the configs
 * in docs/frontends.md. The observed environments are also written to test/artifacts/.
 */
import { after, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { testDir } from '../helpers/temp-dir.js';
import { startEnvEchoServer, type EchoedRequest, type EchoListen } from '../helpers/env-echo-scgi.js';
import { docTemplate } from '../helpers/frontends/doc-configs.js';
import { START_FRONTEND, type FrontendName } from '../helpers/frontends/by-name.js';
import { withFrontendLogs, type FrontendHandle } from '../helpers/frontends/process.js';
import { scaledMs } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FLOOR_SERVER = join(ROOT, 'scripts/minimal-scgi-server.ts');
const FLOOR_BODY = 'Hello, world!\n';
const FLOOR_START_TIMEOUT_MS = scaledMs(15_000);
const STREAM_DELAY_MS = 1500;

/** The probe request: a non-ASCII path and query under the mount, with a UTF-8 form body. */
const PROBE_PATH = '/app/sub/p%C3%A4th?q=%C3%BC&x=1';
const PROBE_BODY = 'a=1&b=ü';
const PROBE_BODY_BYTES = Buffer.byteLength(PROBE_BODY);

type Values = Record<string, string | number>;

// ---------------------------------------------------------------------------------------------
// Small shells: a spawned floor server, an echo backend, a front end, a raw HTTP client.

/** A fresh Unix socket path (in a 0755 dir, so Apache's nobody workers can reach it). */
async function socketPath(t: TestContext, name: string): Promise<string> {
  const dir = await testDir(t, 'sock');
  return join(dir, `${name}.sock`);
}

/** Spawns scripts/minimal-scgi-server.ts and waits for its `listening <addr>` line. */
async function startFloor(t: TestContext, listen: string): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', FLOOR_SERVER, '--listen', listen], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => {
    child.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('floor server did not start')), FLOOR_START_TIMEOUT_MS);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /^listening (\S+)$/m.exec(out);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`floor server exited with ${code}`)));
  });
}

/** Floor server values for a docs block: TCP (`host`, `port`) or Unix socket (`socket`). */
async function floorValues(t: TestContext, unix: boolean): Promise<Values> {
  if (unix) {
    const path = await socketPath(t, 'floor');
    await startFloor(t, `unix:${path}`);
    return { socket: path };
  }
  const address = await startFloor(t, '127.0.0.1:0');
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  return { host: '127.0.0.1', port };
}

async function echoBackend(t: TestContext, unix: boolean): Promise<Values> {
  const listen: EchoListen = unix ? { socketPath: await socketPath(t, 'echo') } : { port: 0 };
  const echo = await startEnvEchoServer(listen);
  t.after(() => echo.close());
  return echo.socketPath !== undefined
    ? { socket: echo.socketPath }
    : { host: echo.host ?? '127.0.0.1', port: echo.port ?? 0 };
}

async function frontend(t: TestContext, name: FrontendName, title: string, values: Values): Promise<FrontendHandle> {
  const handle = await START_FRONTEND[name]({ config: docTemplate(name, title), values });
  t.after(() => handle.stop());
  return handle;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** ms from the response head to each body chunk. */
  chunkTimesMs: number[];
}

/** One request on a fresh connection, with exactly the headers given (plus Host). */
function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const start = Date.now();
      const chunks: Buffer[] = [];
      const chunkTimesMs: number[] = [];
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        chunkTimesMs.push(Date.now() - start);
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), chunkTimesMs }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

async function probe(handle: FrontendHandle, path = PROBE_PATH): Promise<EchoedRequest> {
  const reply = await request(handle.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-probe': 'yes' },
    body: PROBE_BODY,
  });
  assert.equal(reply.status, 200, reply.body);
  return JSON.parse(reply.body) as EchoedRequest;
}

const names = (env: EchoedRequest['env']): string[] => env.map(([name]) => name);
const get = (env: EchoedRequest['env'], name: string): string | undefined => env.find(([n]) => n === name)?.[1];

/** Facts every front end agrees on; the per-front-end tests pin the differences. */
function assertCommonFacts(seen: EchoedRequest, frontendPort: number): void {
  const [first] = seen.env;
  assert.deepEqual(first, ['CONTENT_LENGTH', String(PROBE_BODY_BYTES)], 'CONTENT_LENGTH must be the first header');
  assert.equal(get(seen.env, 'SCGI'), '1');
  assert.equal(get(seen.env, 'REQUEST_METHOD'), 'POST');
  assert.equal(get(seen.env, 'REQUEST_URI'), PROBE_PATH, 'REQUEST_URI is the raw, still-encoded request target');
  assert.equal(get(seen.env, 'QUERY_STRING'), 'q=%C3%BC&x=1');
  assert.equal(get(seen.env, 'CONTENT_TYPE'), 'application/x-www-form-urlencoded');
  assert.equal(get(seen.env, 'REMOTE_ADDR'), '127.0.0.1');
  assert.match(get(seen.env, 'REMOTE_PORT') ?? '', /^\d+$/);
  assert.equal(get(seen.env, 'SERVER_PORT'), String(frontendPort));
  assert.equal(get(seen.env, 'HTTP_X_PROBE'), 'yes');
  assert.equal(seen.body, PROBE_BODY);
}

function assertNoDuplicateNames(seen: EchoedRequest): void {
  const list = names(seen.env);
  assert.deepEqual(list.filter((name, i) => list.indexOf(name) !== i), []);
}

/** Observed environments, written to test/artifacts/ for docs/frontends.md's table. */
const observed = new Map<string, EchoedRequest['env']>();
after(async () => {
  if (observed.size === 0) return;
  const dir = join(ROOT, 'test/artifacts');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'frontends-env.json'), JSON.stringify(Object.fromEntries(observed), null, 2) + '\n');
});

// ---------------------------------------------------------------------------------------------

describe('front-end harnesses serve the floor server', { concurrency: true }, () => {
  const cases: Array<[FrontendName, string, boolean]> = [
    ['nginx', 'mount', false],
    ['nginx', 'unix', true],
    ['lighttpd', 'tcp', false],
    ['lighttpd', 'unix', true],
    ['apache', 'tcp', false],
    ['apache', 'unix', true],
  ];
  for (const [name, title, unix] of cases) {
    it(`${name} (${title}) answers 200 with the floor body`, async (t) => {
      const handle = await frontend(t, name, title, await floorValues(t, unix));
      await withFrontendLogs([handle], async () => {
        const reply = await request(`${handle.url}/app/hello`);
        assert.equal(reply.status, 200);
        assert.equal(reply.body, FLOOR_BODY);
      });
    });
  }

  it('nginx runs the original project example: / from nginx, /a and /b to two backends', async (t) => {
    const a = await floorValues(t, false);
    const b = await floorValues(t, false);
    const handle = await frontend(t, 'nginx', 'original', { host: '127.0.0.1', port_a: a.port ?? 0, port_b: b.port ?? 0 });
    await withFrontendLogs([handle], async () => {
      assert.equal((await request(`${handle.url}/`)).body, 'Nginx works!\nTry URLs /a, /b.');
      assert.equal((await request(`${handle.url}/a`)).body, FLOOR_BODY);
      assert.equal((await request(`${handle.url}/b/x?y=1`)).body, FLOOR_BODY);
    });
  });
});

describe('what each front end sends', { concurrency: true }, () => {
  it('nginx: SCGI=1 in the middle, no SCRIPT_NAME/PATH_INFO, HTTP_HOST without port (Debian scgi_params)', async (t) => {
    for (const [title, unix] of [['mount', false], ['unix', true]] as const) {
      const handle = await frontend(t, 'nginx', title, await echoBackend(t, unix));
      const seen = await withFrontendLogs([handle], () => probe(handle));
      observed.set(`nginx/${title}`, seen.env);
      assertCommonFacts(seen, handle.port);
      assertNoDuplicateNames(seen);
      assert.equal(names(seen.env).indexOf('SCGI'), 7, 'scgi_params order: SCGI after DOCUMENT_ROOT');
      assert.equal(get(seen.env, 'SCRIPT_NAME'), undefined);
      assert.equal(get(seen.env, 'PATH_INFO'), undefined);
      assert.equal(get(seen.env, 'DOCUMENT_URI'), '/app/sub/päth', 'decoded path, no query');
      assert.equal(get(seen.env, 'HTTP_HOST'), '127.0.0.1', 'Debian: HTTP_HOST is $host, without the port');
      assert.equal(get(seen.env, 'HTTP_CONTENT_LENGTH'), String(PROBE_BODY_BYTES), 'request headers repeated as HTTP_*');
      assert.equal(get(seen.env, 'HTTP_CONTENT_TYPE'), 'application/x-www-form-urlencoded');
      assert.equal(get(seen.env, 'HTTPS'), undefined);
      assert.equal(get(seen.env, 'REQUEST_SCHEME'), 'http');
    }
  });

  it('nginx: scgi_param HTTP_HOST after include scgi_params sends HTTP_HOST twice', async (t) => {
    const handle = await frontend(t, 'nginx', 'duplicate-host', await echoBackend(t, false));
    const seen = await withFrontendLogs([handle], () => probe(handle));
    const hosts = seen.env.filter(([name]) => name === 'HTTP_HOST').map(([, value]) => value);
    assert.deepEqual(hosts, ['127.0.0.1', `127.0.0.1:${handle.port}`]);
  });

  it('nginx: host-with-port lists the params itself and sends HTTP_HOST once, with the port', async (t) => {
    const handle = await frontend(t, 'nginx', 'host-with-port', await echoBackend(t, false));
    const seen = await withFrontendLogs([handle], () => probe(handle));
    observed.set('nginx/host-with-port', seen.env);
    assertCommonFacts(seen, handle.port);
    assertNoDuplicateNames(seen);
    assert.equal(get(seen.env, 'HTTP_HOST'), `127.0.0.1:${handle.port}`);
  });

  it('lighttpd: SCGI=1 last, SCRIPT_NAME=mount and PATH_INFO=decoded rest, HTTP_HOST with port', async (t) => {
    for (const [title, unix] of [['tcp', false], ['unix', true]] as const) {
      const handle = await frontend(t, 'lighttpd', title, await echoBackend(t, unix));
      const seen = await withFrontendLogs([handle], () => probe(handle));
      observed.set(`lighttpd/${title}`, seen.env);
      assertCommonFacts(seen, handle.port);
      assertNoDuplicateNames(seen);
      assert.equal(names(seen.env).at(-1), 'SCGI', 'lighttpd sends SCGI=1 last');
      assert.equal(get(seen.env, 'SCRIPT_NAME'), '/app');
      assert.equal(get(seen.env, 'PATH_INFO'), '/sub/päth', 'decoded');
      assert.equal(get(seen.env, 'HTTP_HOST'), `127.0.0.1:${handle.port}`);
      assert.equal(get(seen.env, 'HTTP_CONTENT_LENGTH'), String(PROBE_BODY_BYTES));
      assert.equal(get(seen.env, 'HTTP_CONTENT_TYPE'), undefined);
      assert.equal(get(seen.env, 'GATEWAY_INTERFACE'), 'CGI/1.1');
    }
  });

  it('lighttpd: how the scgi.server prefix shapes SCRIPT_NAME and PATH_INFO', async (t) => {
    const backend = await echoBackend(t, false);
    const split = async (title: string, path: string): Promise<[string | undefined, string | undefined]> => {
      const handle = await frontend(t, 'lighttpd', title, backend);
      const seen = await withFrontendLogs([handle], () => probe(handle, path));
      observed.set(`lighttpd/${title} ${path}`, seen.env);
      await handle.stop();
      return [get(seen.env, 'SCRIPT_NAME'), get(seen.env, 'PATH_INFO')];
    };
    // "/app/": SCRIPT_NAME runs to the next "/" after the prefix (gw_backend.c).
    assert.deepEqual(await split('trailing-slash', PROBE_PATH), ['/app/sub', '/päth']);
    // "/app" also matches /apple: the server must check the mount against REQUEST_URI.
    assert.deepEqual(await split('tcp', '/apple/x'), ['/apple', '/x']);
    assert.deepEqual(await split('tcp', '/app'), ['/app', undefined]);
    // "/" with fix-root-scriptname: everything is PATH_INFO; SCRIPT_NAME is empty.
    assert.deepEqual(await split('root', PROBE_PATH), ['', '/app/sub/päth']);
    // "/" without it: the first segment becomes SCRIPT_NAME.
    assert.deepEqual(await split('root-nofix', PROBE_PATH), ['/app', '/sub/päth']);
  });

  it('apache: SCGI=1 second, SCRIPT_NAME=whole decoded path, no PATH_INFO, HTTP_HOST with port', async (t) => {
    for (const [title, unix] of [['tcp', false], ['unix', true]] as const) {
      const handle = await frontend(t, 'apache', title, await echoBackend(t, unix));
      const seen = await withFrontendLogs([handle], () => probe(handle));
      observed.set(`apache/${title}`, seen.env);
      assertCommonFacts(seen, handle.port);
      assertNoDuplicateNames(seen);
      assert.deepEqual(names(seen.env).slice(0, 2), ['CONTENT_LENGTH', 'SCGI']);
      assert.equal(get(seen.env, 'SCRIPT_NAME'), '/app/sub/päth');
      assert.equal(get(seen.env, 'PATH_INFO'), undefined);
      assert.equal(get(seen.env, 'HTTP_HOST'), `127.0.0.1:${handle.port}`);
      assert.equal(get(seen.env, 'HTTP_CONTENT_LENGTH'), undefined);
      assert.ok(get(seen.env, 'PATH') !== undefined, 'Apache forwards its own PATH');
    }
  });

  it('apache: proxy-scgi-pathinfo gives a still-encoded PATH_INFO and leaks its own name', async (t) => {
    const handle = await frontend(t, 'apache', 'pathinfo', await echoBackend(t, false));
    const seen = await withFrontendLogs([handle], () => probe(handle));
    observed.set('apache/pathinfo', seen.env);
    assert.equal(get(seen.env, 'PATH_INFO'), '/sub/p%C3%A4th');
    assert.equal(get(seen.env, 'SCRIPT_NAME'), '/app/sub/päth', 'SCRIPT_NAME is not shortened to match');
    assert.equal(get(seen.env, 'proxy-scgi-pathinfo'), '1');
  });
});

describe('HTTPS, streaming and response quirks', { concurrency: true }, () => {
  for (const name of ['nginx', 'lighttpd', 'apache'] as const) {
    it(`${name} (https) sends HTTPS=on while REQUEST_SCHEME stays http`, async (t) => {
      const handle = await frontend(t, name, 'https', await echoBackend(t, false));
      const seen = await withFrontendLogs([handle], () => probe(handle));
      assertNoDuplicateNames(seen);
      assert.equal(get(seen.env, 'HTTPS'), 'on');
      assert.equal(get(seen.env, 'REQUEST_SCHEME'), 'http');
    });
  }

  const streaming: Array<[FrontendName, string, string, boolean]> = [
    ['nginx', 'streaming', '', true],
    ['nginx', 'mount', '&x-accel-buffering=no', true],
    ['nginx', 'mount', '', false],
    ['lighttpd', 'streaming', '', true],
    ['lighttpd', 'tcp', '&x-accel-buffering=no', false],
    ['apache', 'tcp', '', true],
  ];
  for (const [name, title, extra, streams] of streaming) {
    const label = `${name} (${title}${extra ? `, ${extra.slice(1)}` : ''}) ${streams ? 'streams' : 'buffers'} the body`;
    it(label, async (t) => {
      const handle = await frontend(t, name, title, await echoBackend(t, false));
      const reply = await withFrontendLogs([handle], () => request(`${handle.url}/app/s?stream-delay-ms=${STREAM_DELAY_MS}${extra}`));
      assert.equal(reply.body, 'first\nsecond\n');
      // Times count from the response head; the backend waits STREAM_DELAY_MS between lines.
      const firstMs = reply.chunkTimesMs[0] ?? Infinity;
      if (streams) assert.ok(firstMs < STREAM_DELAY_MS / 2, `first chunk after ${firstMs} ms`);
      else assert.equal(reply.chunkTimesMs.length, 1, 'one chunk: the whole body at the end');
    });
  }

  it('apache turns a 200 with a local Location into an internal GET; REQUEST_URI stays the original', async (t) => {
    const handle = await frontend(t, 'apache', 'tcp', await echoBackend(t, false));
    const reply = await withFrontendLogs([handle], () =>
      request(`${handle.url}/app/x?location=/app/target%3Fy%3D2`, { method: 'POST', body: 'gone' }),
    );
    assert.equal(reply.status, 200);
    const seen = JSON.parse(reply.body) as EchoedRequest;
    observed.set('apache/internal-redirect', seen.env);
    assert.equal(get(seen.env, 'REQUEST_METHOD'), 'GET');
    assert.equal(get(seen.env, 'CONTENT_LENGTH'), '0');
    assert.equal(get(seen.env, 'SCRIPT_NAME'), '/app/target');
    assert.equal(get(seen.env, 'QUERY_STRING'), 'y=2');
    assert.equal(get(seen.env, 'REQUEST_URI'), '/app/x?location=/app/target%3Fy%3D2');
    assert.equal(get(seen.env, 'REDIRECT_URL'), '/app/x');
    assert.equal(get(seen.env, 'REDIRECT_STATUS'), '200');
  });

  it('apache passes a 200 with Location through when ProxySCGIInternalRedirect is Off, or the URL is absolute', async (t) => {
    const off = await frontend(t, 'apache', 'no-internal-redirect', await echoBackend(t, false));
    const local = await withFrontendLogs([off], () => request(`${off.url}/app/x?location=/app/target`));
    assert.equal(local.status, 200);
    assert.equal(local.headers.location, '/app/target');
    assert.equal(local.body, 'not redirected\n');
    const on = await frontend(t, 'apache', 'tcp', await echoBackend(t, false));
    const absolute = await withFrontendLogs([on], () => request(`${on.url}/app/x?location=http://example.com/x`));
    assert.equal(absolute.status, 200);
    assert.equal(absolute.headers.location, 'http://example.com/x');
  });

  it('an HTTP/1.1 status line instead of Status: is a 500 in Apache, accepted by nginx and lighttpd', async (t) => {
    for (const [name, title, status] of [['nginx', 'mount', 200], ['lighttpd', 'tcp', 200], ['apache', 'tcp', 500]] as const) {
      const handle = await frontend(t, name, title, await echoBackend(t, false));
      const reply = await withFrontendLogs([handle], () => request(`${handle.url}/app/x?http-status-line=1`));
      assert.equal(reply.status, status, name);
      if (name === 'apache') assert.match(await handle.readLogs(), /malformed header from script/);
    }
  });
});
