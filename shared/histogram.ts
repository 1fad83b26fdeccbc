/**
 * @module histogram
 * Mergeable log-linear latency histogram over integer microseconds (HdrHistogram-like, 7 significant
 * bits). Exact below 128 µs; above, 64 sub-buckets per power of two, so a reported value (the bucket
 * midpoint, clamped to min..max) is within 1/128 (0.79 %) of the exact value of the same rank.
 */
import { errors } from './errors.js';

/*
 * Bucket layout (v = value in µs, an unsigned 32-bit integer):
 *
 *   index 0..63      v = index                          (width 1, exact)
 *   index 64..1727   block b = index >> 6 (1..26), sub = index & 63
 *                    lower = (64 + sub) << (b - 1), width = 1 << (b - 1)
 *
 * Block 1 still has width 1, so values below 128 are exact. In block b every value is at least
 * 64 << (b - 1), and the midpoint is at most width / 2 away: error <= (width / 2) / (64 * width).
 */
const SUB_BITS = 6;
const SUB_COUNT = 1 << SUB_BITS;
const SUB_MASK = SUB_COUNT - 1;
/** Values above this (about 71.6 minutes) are recorded as this. */
export const HISTOGRAM_MAX_US = 0xffff_ffff;
export const HISTOGRAM_BUCKETS = SUB_COUNT + (32 - SUB_BITS) * SUB_COUNT;
/** Guaranteed bound on |reported - exact| / exact for any percentile. */
export const HISTOGRAM_RELATIVE_ERROR = 1 / 128;

const FORMAT_VERSION = 1;
/* Largest encoding: version byte, 4 varints of header, then (index delta, count) per bucket. */
const MAX_VARINT_BYTES = 11; // 7 bits per byte; sums of huge merged rollups may pass 2^53
const scratch = Buffer.allocUnsafe(1 + 4 * MAX_VARINT_BYTES + HISTOGRAM_BUCKETS * (2 + MAX_VARINT_BYTES));

export function bucketIndex(v: number): number {
  if (v < SUB_COUNT) return v;
  const shift = 31 - Math.clz32(v) - SUB_BITS;
  return ((shift + 1) << SUB_BITS) + ((v >>> shift) & SUB_MASK);
}

/**
 * Whether `us` is where a bucket begins: every value below it falls in buckets that end at or
 * before it. True for 0..128 and for m * 2^k with 64 <= m < 128 (numbers whose odd part is < 128).
 */
export function isBucketEdge(us: number): boolean {
  if (!Number.isInteger(us) || us < 0 || us > HISTOGRAM_MAX_US) return false;
  if (us <= 2 * SUB_COUNT) return true;
  return us === bucketLowerEdge(bucketIndex(us));
}

function bucketLowerEdge(index: number): number {
  if (index < SUB_COUNT) return index;
  return (SUB_COUNT + (index & SUB_MASK)) * 2 ** ((index >> SUB_BITS) - 1);
}

/** Midpoint of the integer values that fall in bucket `index`. */
export function bucketMidpoint(index: number): number {
  if (index < SUB_COUNT) return index;
  const shift = (index >> SUB_BITS) - 1;
  const width = 2 ** shift;
  return (SUB_COUNT + (index & SUB_MASK)) * width + (width - 1) / 2;
}

export class LatencyHistogram {
  // Float64 rather than Uint32: merged rollups over days pass 2^32 requests per bucket.
  private readonly counts = new Float64Array(HISTOGRAM_BUCKETS);
  private total = 0;
  private total_us = 0;
  private lo = Infinity;
  private hi = -Infinity;
  /*
   * The lowest and highest bucket that may hold a count: what merge, encode, percentile and reset
   * scan, instead of all 1,728 buckets (a store batch's route cells are each a few buckets wide,
   * and scanning whole arrays was most of their cost).
   */
  private first = HISTOGRAM_BUCKETS;
  private last = -1;

  /** Hot path: no allocation. Negative and NaN become 0, fractions round, huge values cap. */
  record(us: number, count = 1): void {
    if (!(count > 0)) return;
    let v = us > 0 ? Math.round(us) : 0;
    if (v > HISTOGRAM_MAX_US) v = HISTOGRAM_MAX_US;
    const i = bucketIndex(v);
    this.counts[i] = this.counts[i]! + count;
    if (i < this.first) this.first = i;
    if (i > this.last) this.last = i;
    this.total += count;
    this.total_us += v * count;
    if (v < this.lo) this.lo = v;
    if (v > this.hi) this.hi = v;
  }

  merge(other: LatencyHistogram): void {
    if (other.total === 0) return;
    const mine = this.counts;
    const theirs = other.counts;
    for (let i = other.first; i <= other.last; i++) {
      const c = theirs[i]!;
      if (c !== 0) mine[i] = mine[i]! + c;
    }
    if (other.first < this.first) this.first = other.first;
    if (other.last > this.last) this.last = other.last;
    this.total += other.total;
    this.total_us += other.total_us;
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
  }

  get count(): number {
    return this.total;
  }
  /** Sum of recorded values, µs. */
  get sum(): number {
    return this.total_us;
  }
  get min(): number | null {
    return this.total === 0 ? null : this.lo;
  }
  get max(): number | null {
    return this.total === 0 ? null : this.hi;
  }

  /**
   * The value of rank ceil(q * count) (nearest-rank definition), µs; null when empty. Reported as the
   * bucket midpoint clamped to the exact min and max, so p0 and p100 are exact.
   */
  percentile(q: number): number | null {
    if (this.total === 0) return null;
    const qq = q > 1 ? 1 : q > 0 ? q : 0;
    const rank = Math.max(1, Math.ceil(qq * this.total));
    let seen = 0;
    const counts = this.counts;
    for (let i = this.first; i <= this.last; i++) {
      seen += counts[i]!;
      if (seen >= rank) return Math.min(this.hi, Math.max(this.lo, bucketMidpoint(i)));
    }
    return this.hi;
  }

  /*
   * Sparse encoding for SQLite BLOBs, all integers unsigned LEB128 varints:
   *
   *   +---------+-----+---------+-----+-------------------+----------------------------------+
   *   | version | min | max-min | sum | n (non-empty)     | n x (index gap, count)           |
   *   | 1 byte  |     |         | µs  | buckets           | gap = index - previous index - 1 |
   *   +---------+-----+---------+-----+-------------------+----------------------------------+
   *
   * An empty histogram encodes as version, 0, 0, 0, 0. A typical latency rollup is 100-300 bytes.
   */
  encode(): Buffer {
    let p = 0;
    scratch[p++] = FORMAT_VERSION;
    const empty = this.total === 0;
    p = writeVarint(scratch, p, empty ? 0 : this.lo);
    p = writeVarint(scratch, p, empty ? 0 : this.hi - this.lo);
    p = writeVarint(scratch, p, this.total_us);
    let n = 0;
    for (let i = this.first; i <= this.last; i++) if (this.counts[i] !== 0) n++;
    p = writeVarint(scratch, p, n);
    let prev = -1;
    for (let i = this.first; i <= this.last; i++) {
      const c = this.counts[i]!;
      if (c === 0) continue;
      p = writeVarint(scratch, p, i - prev - 1);
      p = writeVarint(scratch, p, c);
      prev = i;
    }
    return Buffer.from(scratch.subarray(0, p));
  }

  static decode(buf: Uint8Array): LatencyHistogram {
    const h = new LatencyHistogram();
    h.mergeEncoded(buf);
    return h;
  }

  /** Adds an encoded histogram into this one without building a second instance. */
  mergeEncoded(buf: Uint8Array): void {
    if (buf.length < 5 || buf[0] !== FORMAT_VERSION) {
      throw new errors.DOW_ERR_STORE('histogram', `unknown blob format (${buf.length} bytes, version ${buf[0]})`);
    }
    const r = { buf, p: 1 };
    const lo = readVarint(r);
    const hi = lo + readVarint(r);
    const sumUs = readVarint(r);
    const n = readVarint(r);
    // Validate everything before touching this histogram, so a bad blob leaves it unchanged.
    const start = r.p;
    let index = -1;
    let total = 0;
    for (let k = 0; k < n; k++) {
      index += readVarint(r) + 1;
      total += readVarint(r);
      if (index >= HISTOGRAM_BUCKETS) throw new errors.DOW_ERR_STORE('histogram', `bucket ${index} out of range`);
    }
    if (r.p !== buf.length) throw new errors.DOW_ERR_STORE('histogram', `${buf.length - r.p} trailing bytes`);
    if (total === 0) return;
    r.p = start;
    index = -1;
    for (let k = 0; k < n; k++) {
      index += readVarint(r) + 1;
      const c = readVarint(r);
      if (c === 0) continue;
      this.counts[index] = this.counts[index]! + c;
      if (index < this.first) this.first = index;
      if (index > this.last) this.last = index;
    }
    this.total += total;
    this.total_us += sumUs;
    if (lo < this.lo) this.lo = lo;
    if (hi > this.hi) this.hi = hi;
  }

  /**
   * For each edge (ascending, each a bucket's lower edge: see isBucketEdge), how many recorded
   * values are below it. Exact, not estimated: no bucket straddles an edge. Used for Prometheus
   * histograms, whose cumulative `le` buckets need exactly these counts.
   */
  countsBelow(edgesUs: readonly number[]): number[] {
    const out: number[] = [];
    let seen = 0;
    let i = 0;
    for (const edge of edgesUs) {
      if (!isBucketEdge(edge)) throw new RangeError(`${edge} µs is not a bucket edge`);
      const end = bucketIndex(edge);
      for (; i < end; i++) seen += this.counts[i]!;
      out.push(seen);
    }
    return out;
  }

  reset(): void {
    if (this.last >= 0) this.counts.fill(0, this.first, this.last + 1);
    this.first = HISTOGRAM_BUCKETS;
    this.last = -1;
    this.total = 0;
    this.total_us = 0;
    this.lo = Infinity;
    this.hi = -Infinity;
  }
}

/** Where a caller gets a histogram: new ones, or a HistogramPool's. */
export interface HistogramSource {
  take(): LatencyHistogram;
}

export const NEW_HISTOGRAMS: HistogramSource = { take: () => new LatencyHistogram() };

/**
 * Histograms to use again. A store batch's rollup cells each hold one for a moment: 13.8 KB
 * allocated zeroed per cell, then collected, cost more than the cell's own figures, while a reset
 * clears only the buckets that were used. Holds at most `max` spares.
 */
export class HistogramPool implements HistogramSource {
  private readonly spares: LatencyHistogram[] = [];

  constructor(private readonly max: number) {}

  take(): LatencyHistogram {
    return this.spares.pop() ?? new LatencyHistogram();
  }

  /** `h` is not used again by the caller. */
  give(h: LatencyHistogram): void {
    if (this.spares.length >= this.max) return;
    h.reset();
    this.spares.push(h);
  }
}

// Arithmetic rather than bit operations: counts and sums exceed 32 bits.
function writeVarint(out: Buffer, p: number, value: number): number {
  let v = value;
  while (v >= 128) {
    out[p++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  out[p++] = v;
  return p;
}

function readVarint(r: { buf: Uint8Array; p: number }): number {
  let value = 0;
  let scale = 1;
  for (let k = 0; k < MAX_VARINT_BYTES; k++) {
    const b = r.buf[r.p++];
    if (b === undefined) throw new errors.DOW_ERR_STORE('histogram', 'truncated blob');
    value += (b & 127) * scale;
    if (b < 128) return value;
    scale *= 128;
  }
  throw new errors.DOW_ERR_STORE('histogram', 'varint too long');
}
