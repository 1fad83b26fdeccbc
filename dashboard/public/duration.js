// The runtime's uptime_str format (shared/duration.ts), ported for the browser so the ticking
// uptime reads exactly like the stats port; test/unit/dashboard-duration.test.ts pins the two together.

const SECONDS_PER_DAY = 86400;

/** Whole seconds as `Dd HHh MMm SSs`, leading zero units left out; '' for zero. */
export function formatDuration(totalSeconds) {
  let rest = Math.max(0, Math.floor(totalSeconds));
  const days = Math.floor(rest / SECONDS_PER_DAY);
  rest -= days * SECONDS_PER_DAY;
  const units = [
    [Math.floor(rest / 3600), 'h'],
    [Math.floor((rest % 3600) / 60), 'm'],
    [rest % 60, 's'],
  ];
  const parts = [];
  if (days > 0) parts.push(`${days}d`);
  for (const [value, unit] of units) {
    if (parts.length > 0 || value > 0) parts.push(`${String(value).padStart(2, '0')}${unit}`);
  }
  return parts.join(' ');
}
