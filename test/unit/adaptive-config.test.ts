/**
 * `adaptive` in an app's config through the real schema and checks: the errors name the field,
 * and `threads` is where the limit starts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { settingsFromConfig } from '../../server/config/config.js';

const app = { name: 'a', listen: '127.0.0.1:1', module: 'package.json', workers: 2 };

async function configError(extra: Record<string, unknown>): Promise<string> {
  try {
    await settingsFromConfig({ apps: [{ ...app, ...extra }] }, process.cwd());
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'DOW_ERR_CONFIG');
    return (err as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(extra)}`);
}

test('adaptive: min and max are required, tolerance and window optional with defaults', async () => {
  const settings = await settingsFromConfig({ apps: [{ ...app, threads: 6, adaptive: { min: 2, max: 32 } }] }, process.cwd());
  assert.deepEqual(settings.apps[0]?.adaptive, { min: 2, max: 32, tolerance: 0.5, windowMs: 1000 });
  assert.equal(settings.apps[0]?.options.threads, 6);
  const tuned = await settingsFromConfig({ apps: [{ ...app, adaptive: { min: 2, max: 4, tolerance: 0.25, window: 2000 } }] }, process.cwd());
  assert.deepEqual(tuned.apps[0]?.adaptive, { min: 2, max: 4, tolerance: 0.25, windowMs: 2000 });
  // The default start (10) is brought into the range rather than refused.
  assert.equal(tuned.apps[0]?.options.threads, 4);
  const fixed = await settingsFromConfig({ apps: [app] }, process.cwd());
  assert.equal(fixed.apps[0]?.adaptive, undefined);
});

test('adaptive: errors name the field and say what is wrong', async () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ adaptive: { min: 2 } }, /apps\[0\]\.adaptive/],
    [{ adaptive: { min: 2, max: 8, windw: 500 } }, /apps\[0\]\.adaptive: unknown key "windw" \(did you mean "window"\?\)/],
    [{ adaptive: { min: 0, max: 8 } }, /apps\[0\]\.adaptive\.min/],
    [{ adaptive: { min: 2, max: 8, tolerance: 0 } }, /apps\[0\]\.adaptive\.tolerance/],
    [{ adaptive: { min: 2, max: 8, window: 10 } }, /apps\[0\]\.adaptive\.window/],
    [{ adaptive: { min: 9, max: 8 } }, /apps\[0\]\.adaptive\.min: 9 is above max \(8\)/],
    [{ adaptive: { min: 1, max: 8 } }, /apps\[0\]\.adaptive\.min: 1 is less than workers \(2\)/],
    [{ threads: 20, adaptive: { min: 2, max: 8 } }, /apps\[0\]\.threads: 20 is outside adaptive \[2, 8\]/],
  ];
  for (const [extra, expected] of cases) assert.match(await configError(extra), expected);
});
