/**
 * @module row-buffer
 * The main-thread half of the writer: a bounded buffer of packed rows that hands a batch over when
 * the flush timer (started by the first row) fires or the batch is full. No I/O here.
 */
import type { TimingRow } from '../../shared/timing-row.js';
import { BatchPacker, type PackedBatch, type PackOptions } from './packed-batch.js';

export interface RowBufferOptions extends PackOptions {
  flushIntervalMs: number;
  batchSize: number;
  /** Rows buffered plus rows handed over but not yet written; beyond this, rows are dropped. */
  capacityRows: number;
  send(batch: PackedBatch): void;
}

/*
 *   record ─> [ packer: up to batchSize ] ──send──> [ in flight: worker queue ] ──ack──> written
 *             └──────────── buffered + inFlight <= capacityRows, else drop ─────┘
 *
 * Counting in-flight rows against the bound keeps memory bounded while the database is down: the
 * worker keeps failed batches to retry them, and the main thread drops new rows instead.
 */
export class RowBuffer {
  private readonly packer: BatchPacker;
  private timer: NodeJS.Timeout | null = null;
  private inFlight = 0;
  private droppedRows = 0;

  constructor(private readonly options: RowBufferOptions) {
    // Shared: each batch is posted to the writer thread.
    this.packer = new BatchPacker(options.batchSize, options, true);
  }

  /** Never throws; returns false when the row was dropped. */
  push(row: TimingRow): boolean {
    if (this.packer.size + this.inFlight >= this.options.capacityRows) {
      this.droppedRows++;
      return false;
    }
    this.packer.push(row);
    this.afterPush();
    return true;
  }

  /**
   * Takes a batch packed elsewhere (a worker process packs its rows as this buffer does) into the
   * same batch as rows recorded here, under the same bound and flush rule. Workers send each
   * event-loop turn's rows at once, a few rows a message; one SQLite transaction each cost the
   * supervisor's writer ~150 µs a request (measured), so they are gathered here first. Returns
   * false when the batch was dropped.
   */
  pushBatch(batch: PackedBatch): boolean {
    if (this.packer.size + this.inFlight + batch.rows > this.options.capacityRows) {
      this.droppedRows += batch.rows;
      return false;
    }
    let pathAt = 0;
    for (let r = 0; r < batch.rows; ) {
      if (this.packer.size >= this.options.batchSize) this.flush();
      const to = Math.min(batch.rows, r + this.options.batchSize - this.packer.size);
      pathAt = this.packer.pushPacked(batch, r, to, pathAt);
      r = to;
    }
    this.afterPush();
    return true;
  }

  private afterPush(): void {
    if (this.packer.size >= this.options.batchSize) this.flush();
    else if (this.timer === null && this.packer.size > 0) {
      this.timer = setTimeout(() => this.flush(), this.options.flushIntervalMs);
      // The buffer alone must not keep a process alive; close() flushes explicitly.
      this.timer.unref();
    }
  }

  flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.packer.size === 0) return;
    const batch = this.packer.take();
    this.inFlight += batch.rows;
    this.options.send(batch);
  }

  /** The writer finished with `rows` rows (written or given up on). */
  settle(rows: number): void {
    this.inFlight = Math.max(0, this.inFlight - rows);
  }

  /** Rows handed over that will never be acknowledged (the worker died): count them lost. */
  loseInFlight(): number {
    const lost = this.inFlight;
    this.inFlight = 0;
    this.droppedRows += lost;
    return lost;
  }

  countDropped(rows: number): void {
    this.droppedRows += rows;
  }

  get buffered(): number {
    return this.packer.size;
  }
  get pending(): number {
    return this.inFlight;
  }
  get dropped(): number {
    return this.droppedRows;
  }
}
