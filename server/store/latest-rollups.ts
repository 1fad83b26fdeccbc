/**
 * @module latest-rollups
 * The rollup row each series (an app's or a route's, at one resolution) last wrote, kept by the
 * writer so that the next batch in the same bucket adds to it without reading it back. Reading
 * the row back was half of a route cell's SQLite work: 60 reads per batch with 20 routes.
 *
 *   batch 1 (bucket B): read row ─ merge ─ write ─ commit ─ keep it
 *   batch 2 (bucket B): kept row  ─ merge ─ write ─ commit ─ keep it
 *   batch 3 (bucket B+1): not kept for B+1 ─ read (usually nothing) ─ ...
 *
 * What is kept must be what the file holds. Rows are kept only once their transaction committed
 * (stage, then committed or dropped), and all are forgotten when anything else may have changed
 * the file: another connection committed (PRAGMA data_version moved: a second server on the same
 * store, or the dashboard's commands), or this writer pruned rollups.
 */
export class LatestRollups<R extends { bucket_ms: number }> {
  private readonly rows = new Map<string, R>();
  private staged: Array<[string, R]> = [];

  /** The series' row for `bucketMs` as last committed, or undefined: read it from the file. */
  get(series: string, bucketMs: number): R | undefined {
    const row = this.rows.get(series);
    return row !== undefined && row.bucket_ms === bucketMs ? row : undefined;
  }

  /** `row` is being written in the open transaction: kept once it commits. */
  stage(series: string, row: R): void {
    this.staged.push([series, row]);
  }

  committed(): void {
    // One row per series: the latest bucket written, so the map holds no more than the series.
    for (const [series, row] of this.staged) this.rows.set(series, row);
    this.staged = [];
  }

  /** The transaction failed: nothing staged is in the file. */
  dropStaged(): void {
    this.staged = [];
  }

  forget(): void {
    this.rows.clear();
    this.staged = [];
  }
}
