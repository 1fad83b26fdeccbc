/**
 * @module verdict
 * One line of a bench run's verdict table: a target from an issue, what was measured, met or not.
 */

/** `met`: null when it was not measured (a backend skipped, a part not run). */
export interface Verdict {
  issue: string;
  target: string;
  measured: string;
  met: boolean | null;
}
