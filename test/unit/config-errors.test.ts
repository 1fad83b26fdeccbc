/**
 * Config errors through the real schema and Ajv: errors inside `dashboard` and
 * `store` (anyOf false | object) said "must be equal to constant"; now the field's full path and
 * the cause, with the nearest known key, the allowed values or the form expected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { settingsFromConfig } from '../../server/config/config.js';

const app = { name: 'a', listen: '127.0.0.1:1', module: 'x.mjs', workers: 1 };

async function configError(config: Record<string, unknown>): Promise<string> {
  try {
    await settingsFromConfig(config, '/nonexistent');
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'DOW_ERR_CONFIG');
    return (err as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(config)}`);
}

test('errors inside dashboard and store name the field and the cause, never "equal to constant"', async () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ apps: [app], dashboard: { lisen: '127.0.0.1:9100' } }, /dashboard: unknown key "lisen" \(did you mean "listen"\?\); known keys: listen, token/],
    [{ apps: [app], dashboard: { token: 'short' } }, /dashboard\.token: is 5 characters; it must be at least \d+/],
    [{ apps: [app], dashboard: true }, /dashboard: must be false to switch it off, or an object with keys listen, token, .*not true/],
    [{ apps: [app], dashboard: { listen: 'localhost' } }, /dashboard\.listen: must be host:port or unix:\/path\.sock .*not "localhost"/],
    [{ apps: [app], store: { pth: 'x.db' } }, /store: unknown key "pth" \(did you mean "path"\?\)/],
    [{ apps: [app], store: { retention: { rawMaxAge: '1d' } } }, /store\.retention\.rawMaxAge: must be integer \(milliseconds\), not "1d"; write 86400000 for 1d/],
    [{ apps: [app], store: { retention: { rawMaxRow: 5 } } }, /store\.retention: unknown key "rawMaxRow" \(did you mean "rawMaxRows"\?\)/],
    [{ apps: [app], stats: true }, /stats: must be "host:port" or "unix:\/path\.sock", or false to switch it off, not true/],
  ];
  for (const [config, expected] of cases) {
    const message = await configError(config);
    assert.match(message, expected);
    assert.doesNotMatch(message, /equal to constant/);
  }
});

test('enums list their values, mounts say what a mount looks like, unknown keys suggest the nearest one', async () => {
  assert.match(await configError({ apps: [{ ...app, type: 'express' }] }), /apps\[0\]\.type: must be one of "node", "fetch", "auto", not "express"/);
  assert.match(await configError({ apps: [app], log: { level: 'verbose' } }), /log\.level: must be one of "trace", .*"silent", not "verbose"/);
  const mount = await configError({ apps: [{ ...app, mount: 'app' }] });
  assert.match(mount, /apps\[0\]\.mount: must be a URL path starting with "\/".*for example "\/app"/);
  assert.doesNotMatch(mount, /\^|\$/);
  assert.match(await configError({ apps: [{ ...app, thread: 2 }] }), /apps\[0\]: unknown key "thread" \(did you mean "threads"\?\)/);
  // Nothing near: no suggestion, the known keys still listed.
  const far = await configError({ apps: [app], zzzzzz: 1 });
  assert.match(far, /\(top level\): unknown key "zzzzzz"; known keys: stats, .*apps, /);
  assert.match(await configError({ apps: [{ ...app, workers: 'many' }] }), /apps\[0\]\.workers: must be an integer from 0 to 256, or "auto", not "many"/);
  assert.match(await configError({ apps: [{ ...app, workers: 1000 }] }), /apps\[0\]\.workers: must be <= 256, not 1000/);
});

test('protocol: http apps take keepAliveTimeout and trustProxy, SCGI apps halfClose; each elsewhere is an error naming the field', async () => {
  const http = { ...app, protocol: 'http' };
  // A module that exists, since this one is accepted and checked further.
  const settings = await settingsFromConfig({ apps: [{ ...http, module: 'package.json', keepAliveTimeout: 90_000, trustProxy: ['loopback', '10.0.0.0/8'] }] }, process.cwd());
  assert.deepEqual(
    [settings.apps[0]?.options.protocol, settings.apps[0]?.options.keepAliveTimeoutMs, settings.apps[0]?.options.trustProxy],
    ['http', 90_000, ['loopback', '10.0.0.0/8']],
  );
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ apps: [{ ...app, protocol: 'https' }] }, /apps\[0\]\.protocol: must be one of "scgi", "http"/],
    [{ apps: [{ ...app, trustProxy: ['loopback'] }] }, /apps\[0\]\.trustProxy: applies only to HTTP apps \(protocol: 'http'\); this app's protocol is scgi/],
    [{ apps: [{ ...app, keepAliveTimeout: 1000 }] }, /apps\[0\]\.keepAliveTimeout: applies only to HTTP apps/],
    [{ apps: [{ ...http, halfClose: 'answer' }] }, /apps\[0\]\.halfClose: applies only to SCGI apps/],
    [{ apps: [{ ...http, trustProxy: ['10.0.0.0/33'] }] }, /apps\[0\]\.trustProxy: .*invalid/i],
    [{ apps: [{ ...http, trustProxy: ['proxy.example.com'] }] }, /apps\[0\]\.trustProxy/],
    [{ apps: [{ ...http, trustProxy: true }] }, /apps\[0\]\.trustProxy/],
  ];
  for (const [config, expected] of cases) assert.match(await configError(config), expected, JSON.stringify(config));
});

test('maxUpgrades: an HTTP app\'s, a positive integer; on an SCGI app an error naming the field', async () => {
  const http = { ...app, protocol: 'http', module: 'package.json' };
  const settings = await settingsFromConfig({ apps: [{ ...http, maxUpgrades: 500 }] }, process.cwd());
  assert.equal(settings.apps[0]?.options.maxUpgrades, 500);
  assert.match(await configError({ apps: [{ ...app, maxUpgrades: 10 }] }), /apps\[0\]\.maxUpgrades: applies only to HTTP apps/);
  assert.match(await configError({ apps: [{ ...http, maxUpgrades: 0 }] }), /apps\[0\]\.maxUpgrades: must be >= 1/);
});
