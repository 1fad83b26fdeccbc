/**
 * The page's ticking uptime must read exactly like the stats port's uptime_str: the browser port
 * (dashboard/public/duration.js) is checked against shared/duration.ts.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { formatDuration } from '../../shared/duration.js';
// @ts-expect-error: plain browser JS without type declarations
import { formatDuration as browserFormat } from '../../dashboard/public/duration.js';

it('the browser formatDuration matches shared/duration.ts', () => {
  const samples = [0, 0.4, 1, 59, 60, 61, 3599, 3600, 3661, 86_399, 86_400, 86_401, 93_784, 10 * 86_400 + 5, 400 * 86_400 + 3599.9, -5];
  for (let s = 0; s < 200_000; s += 997) samples.push(s);
  for (const s of samples) assert.equal((browserFormat as (n: number) => string)(s), formatDuration(s), String(s));
});
