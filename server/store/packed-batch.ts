/**
 * @module packed-batch
 * Columnar packing of timing rows for the trip to the writer thread: one Float64Array (moved, not
 * copied), a small string dictionary and one string of concatenated paths, instead of N objects.
 */
import type { TimingRow } from '../../shared/timing-row.js';

/*
 * nums, one row every COLS doubles:
 *
 *   +-----+----------+----------+------------+--------+---------+----------+-----------+--------+----------+-------+
 *   | app | start_ms | queue_ms | service_ms | status | outcome | bytes_in | bytes_out | method | path_len | route |
 *   +-----+----------+----------+------------+--------+---------+----------+-----------+--------+----------+-------+
 *     app, method and route index `dict` (route -1: none; routes are few per app, so a dictionary
 *     entry each is cheap); path_len is -1 for no path, else the length of the next slice of `paths`.
 */
export const COLS = 11;
export const C_APP = 0, C_START = 1, C_QUEUE = 2, C_SERVICE = 3, C_STATUS = 4, C_OUTCOME = 5;
export const C_BYTES_IN = 6, C_BYTES_OUT = 7, C_METHOD = 8, C_PATH_LEN = 9, C_ROUTE = 10;

export interface PackedBatch {
  rows: number;
  nums: Float64Array;
  dict: string[];
  paths: string;
}

export interface PackOptions {
  recordPaths: boolean;
  maxPathLength: number;
}

/** Fills one batch; `take()` hands it over and starts a fresh one. */
export class BatchPacker {
  private nums: Float64Array;
  private rows = 0;
  private dict: string[] = [];
  private dictIndex = new Map<string, number>();
  private paths: string[] = [];

  /**
   * `shared`: each batch's numbers in a SharedArrayBuffer, for a batch posted to a thread. A plain
   * one is copied twice by postMessage (V8's serializer, then the receiving side), 0.17-0.23 µs a
   * row measured, against 0.01 shared; transferring it instead would detach it (see
   * timing-store.ts). Never for a batch that leaves the process: IPC cannot carry shared memory.
   */
  constructor(
    private readonly capacity: number,
    private readonly options: PackOptions,
    private readonly shared = false,
  ) {
    this.nums = new Float64Array(capacity * COLS);
  }

  get size(): number {
    return this.rows;
  }

  /** Returns false when the batch is full. */
  push(row: TimingRow): boolean {
    if (this.rows >= this.capacity) return false;
    const o = this.rows * COLS;
    const n = this.nums;
    n[o + C_APP] = this.intern(row.app);
    n[o + C_START] = row.startMs;
    n[o + C_QUEUE] = row.queueMs;
    n[o + C_SERVICE] = row.serviceMs;
    n[o + C_STATUS] = row.status;
    n[o + C_OUTCOME] = row.outcome;
    n[o + C_BYTES_IN] = row.bytesIn;
    n[o + C_BYTES_OUT] = row.bytesOut;
    n[o + C_METHOD] = this.intern(row.method);
    n[o + C_ROUTE] = row.route === undefined || row.route === null ? -1 : this.intern(row.route);
    const path = this.options.recordPaths ? cleanPath(row.path, this.options.maxPathLength) : null;
    n[o + C_PATH_LEN] = path === null ? -1 : path.length;
    if (path !== null) this.paths.push(path);
    this.rows++;
    return true;
  }

  /**
   * Appends rows [from, to) of a batch packed elsewhere (a worker's, paths already cleaned there)
   * without building row objects; `pathAt` is where row `from`'s path starts in `batch.paths`.
   * Returns where the next row's path starts. The caller keeps to the capacity (push's rule).
   * The batch's dictionary is mapped once per call, not per row: most of a worker's rows share
   * their app, method and route.
   */
  pushPacked(batch: PackedBatch, from: number, to: number, pathAt: number): number {
    const remap = batch.dict.map((s) => this.intern(s));
    const src = batch.nums;
    const n = this.nums;
    let pathChars = 0;
    for (let r = from; r < to; r++, this.rows++) {
      const i = r * COLS;
      const o = this.rows * COLS;
      for (let c = 0; c < COLS; c++) n[o + c] = src[i + c]!;
      n[o + C_APP] = remap[src[i + C_APP]!]!;
      n[o + C_METHOD] = remap[src[i + C_METHOD]!]!;
      if (src[i + C_ROUTE]! >= 0) n[o + C_ROUTE] = remap[src[i + C_ROUTE]!]!;
      const len = src[i + C_PATH_LEN]!;
      if (len > 0) pathChars += len;
    }
    if (pathChars > 0) this.paths.push(batch.paths.slice(pathAt, pathAt + pathChars));
    return pathAt + pathChars;
  }

  take(): PackedBatch {
    const batch: PackedBatch = {
      rows: this.rows,
      // A copy of the rows filled, and the array is kept: a fresh capacity-sized array per batch
      // cost a zeroed 80 KB allocation each time a worker sent its rows.
      nums: this.shared ? sharedCopy(this.nums, this.rows * COLS) : this.nums.slice(0, this.rows * COLS),
      dict: this.dict,
      paths: this.paths.join(''),
    };
    this.rows = 0;
    this.dict = [];
    this.dictIndex.clear();
    this.paths = [];
    return batch;
  }

  private intern(s: string): number {
    return internString(this.dict, this.dictIndex, s);
  }
}

/** `s`'s index in a batch's dictionary, added if new; `index` finds it again without a scan. */
export function internString(dict: string[], index: Map<string, number>, s: string): number {
  let i = index.get(s);
  if (i === undefined) {
    i = dict.length;
    dict.push(s);
    index.set(s, i);
  }
  return i;
}

function sharedCopy(nums: Float64Array, length: number): Float64Array {
  const copy = new Float64Array(new SharedArrayBuffer(length * Float64Array.BYTES_PER_ELEMENT));
  copy.set(nums.subarray(0, length));
  return copy;
}

/** The query string never reaches the database, even if the caller left it on. */
export function cleanPath(path: string | null, maxLength: number): string | null {
  if (path === null) return null;
  const q = path.indexOf('?');
  const bare = q === -1 ? path : path.slice(0, q);
  return bare.length > maxLength ? bare.slice(0, maxLength) : bare;
}

/** Reads back the rows of a batch (writer side, and tests). */
export function* unpack(batch: PackedBatch): Generator<TimingRow> {
  let p = 0;
  const n = batch.nums;
  for (let r = 0; r < batch.rows; r++) {
    const o = r * COLS;
    const len = n[o + C_PATH_LEN]!;
    let path: string | null = null;
    if (len >= 0) {
      path = batch.paths.slice(p, p + len);
      p += len;
    }
    yield {
      app: batch.dict[n[o + C_APP]!]!,
      startMs: n[o + C_START]!,
      queueMs: n[o + C_QUEUE]!,
      serviceMs: n[o + C_SERVICE]!,
      status: n[o + C_STATUS]!,
      outcome: n[o + C_OUTCOME]! as TimingRow['outcome'],
      bytesIn: n[o + C_BYTES_IN]!,
      bytesOut: n[o + C_BYTES_OUT]!,
      method: batch.dict[n[o + C_METHOD]!]!,
      path,
      route: n[o + C_ROUTE]! >= 0 ? batch.dict[n[o + C_ROUTE]!]! : null,
    };
  }
}

/** A batch that crossed a process boundary: the shape the writer thread relies on, checked. */
export function isPackedBatch(value: unknown): value is PackedBatch {
  const b = value as Partial<PackedBatch> | null;
  return (
    typeof b === 'object' && b !== null &&
    Number.isInteger(b.rows) && (b.rows as number) >= 0 &&
    b.nums instanceof Float64Array && b.nums.length >= (b.rows as number) * COLS &&
    Array.isArray(b.dict) && b.dict.every((s) => typeof s === 'string') &&
    typeof b.paths === 'string'
  );
}
