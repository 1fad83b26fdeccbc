/** The original's uptime_str format, with the reference's own examples. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration } from '../../shared/duration.js';

test('formats durations as the original did', () => {
  const cases: Array<[number, string]> = [
    [0, ''],
    [5, '05s'],
    [14, '14s'],
    [60, '01m 00s'],
    [3600, '01h 00m 00s'],
    [30342, '08h 25m 42s'],
    [51.87, '51s'],
    [86400, '1d 00h 00m 00s'],
    [4863700, '56d 07h 01m 40s'],
    [-3, ''],
  ];
  for (const [seconds, expected] of cases) assert.equal(formatDuration(seconds), expected, String(seconds));
});
