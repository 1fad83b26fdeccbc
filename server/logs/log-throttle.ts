/**
 * @module log-throttle
 * At most one log line per interval for a kind of event a client can repeat at will (503s under
 * overload, malformed requests from a broken or hostile peer), with the count of the lines left
 * out, so a flood costs one line a second instead of a full disk.
 */

export class LogThrottle {
  private lastAt = -Infinity;
  private suppressed = 0;

  constructor(private readonly intervalMs: number) {}

  /** Null when this line is to be left out (and counted); else how many were left out before it. */
  take(nowMs: number): number | null {
    if (nowMs - this.lastAt < this.intervalMs) {
      this.suppressed++;
      return null;
    }
    const left = this.suppressed;
    this.lastAt = nowMs;
    this.suppressed = 0;
    return left;
  }
}
