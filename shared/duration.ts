/**
 * @module duration
 * The original's `uptime_str` format: whole seconds as `Dd HHh MMm SSs`, leading zero units left
 * out, every unit but days two digits wide, and the empty string for zero.
 */

const SECONDS_PER_DAY = 86_400;

export function formatDuration(totalSeconds: number): string {
  let rest = Math.max(0, Math.floor(totalSeconds));
  const days = Math.floor(rest / SECONDS_PER_DAY);
  rest -= days * SECONDS_PER_DAY;
  const units: Array<[number, string]> = [
    [Math.floor(rest / 3600), 'h'],
    [Math.floor((rest % 3600) / 60), 'm'],
    [rest % 60, 's'],
  ];
  const parts: string[] = [];
  if (days > 0) parts.push(`${days}d`);
  for (const [value, unit] of units) {
    // A unit is shown once any larger unit was shown, or when it is itself non-zero.
    if (parts.length > 0 || value > 0) parts.push(`${String(value).padStart(2, '0')}${unit}`);
  }
  return parts.join(' ');
}
