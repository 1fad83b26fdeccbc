// The `metrics` config key: off unless given, a listen address or false, checked with a message
// that says what it takes, and never the stats port's or an app's address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { settingsFromConfig } from '../../server/config/config.js';

const dir = fileURLToPath(new URL('../fixtures/', import.meta.url));
const app = { name: 'a', listen: '127.0.0.1:9002', module: './hello-node.mjs' };

test('metrics is off unless configured, and takes host:port, unix:/path or false', async () => {
  assert.equal((await settingsFromConfig({ apps: [app] }, dir)).metrics, null);
  assert.equal((await settingsFromConfig({ apps: [app], metrics: false }, dir)).metrics, null);
  assert.equal((await settingsFromConfig({ apps: [app], metrics: '127.0.0.1:9101' }, dir)).metrics, '127.0.0.1:9101');
  assert.equal((await settingsFromConfig({ apps: [app], metrics: 'unix:/run/dragon/metrics.sock' }, dir)).metrics, 'unix:/run/dragon/metrics.sock');
  assert.equal((await settingsFromConfig({ apps: [app], metrics: '127.0.0.1:9101' }, dir)).metricsRouteLabel, undefined);
});

test('metrics as an object: its listen address, and the route label only when asked for', async () => {
  const on = await settingsFromConfig({ apps: [app], metrics: { listen: '127.0.0.1:9101', routeLabel: true } }, dir);
  assert.equal(on.metrics, '127.0.0.1:9101');
  assert.equal(on.metricsRouteLabel, true);
  const off = await settingsFromConfig({ apps: [app], metrics: { listen: '127.0.0.1:9101' } }, dir);
  assert.equal(off.metricsRouteLabel, undefined);
  await assert.rejects(settingsFromConfig({ apps: [app], metrics: { routeLabel: true } }, dir), { code: 'DOW_ERR_CONFIG', message: /metrics/ });
  await assert.rejects(settingsFromConfig({ apps: [app], metrics: { listen: '127.0.0.1:9101', routeLabel: 'yes' } }, dir), { code: 'DOW_ERR_CONFIG', message: /metrics\.routeLabel/ });
  await assert.rejects(settingsFromConfig({ apps: [app], metrics: { listen: '127.0.0.1:9004' } }, dir), { message: /metrics: 127\.0\.0\.1:9004 is also the stats port/ });
});

test('a wrong metrics value says what the key takes', async () => {
  await assert.rejects(settingsFromConfig({ apps: [app], metrics: true }, dir), {
    code: 'DOW_ERR_CONFIG',
    message: /metrics: must be "host:port" \(for example "127\.0\.0\.1:9101"\) or "unix:\/path\.sock", an object such as \{ "listen": "127\.0\.0\.1:9101", "routeLabel": true \}, or false to switch it off, not true/,
  });
  await assert.rejects(settingsFromConfig({ apps: [app], metrics: '9101' }, dir), { code: 'DOW_ERR_CONFIG', message: /metrics: must be host:port or unix:\/path\.sock/ });
  await assert.rejects(settingsFromConfig({ apps: [app], metrics: '127.0.0.1:9004' }, dir), { message: /metrics: 127\.0\.0\.1:9004 is also the stats port/ });
  await assert.rejects(settingsFromConfig({ apps: [app], metrics: '127.0.0.1:9002' }, dir), { message: /metrics: 127\.0\.0\.1:9002 is also an app's listen address/ });
});
