/**
 * @module limits
 * Protocol limits and their defaults. Each is configurable per server; the defaults follow the
 * issue: 64 KiB of headers, 16 MiB of body, 10 s to deliver the header block.
 */

export interface ScgiLimits {
  /** Largest header block (the netstring payload) accepted, bytes. */
  maxHeaderBytes: number;
  /** Largest CONTENT_LENGTH accepted, bytes; larger bodies get 413. */
  maxBodyBytes: number;
  /** Time allowed from accept to the end of the header block (slowloris), ms. */
  headerTimeoutMs: number;
  /** Longest silence allowed while the body is being read, ms. */
  bodyIdleTimeoutMs: number;
}

export const DEFAULT_LIMITS: Readonly<ScgiLimits> = Object.freeze({
  maxHeaderBytes: 64 * 1024,
  maxBodyBytes: 16 * 1024 * 1024,
  headerTimeoutMs: 10_000,
  bodyIdleTimeoutMs: 30_000,
});

/**
 * The largest value each limit may be configured to: what every path can carry. A header block
 * reaches JavaScript as one latin1 string on both paths, and V8's longest string is 2^29 - 24
 * characters (512 MiB) on 64-bit Node: past it the string cannot be made at all. 256 MiB stays
 * well under that (the native parser counts in 32 bits). A body length is a JavaScript number,
 * exact up to 2^53 - 1. Timeouts go to setTimeout, which takes at most 2^31 - 1 ms (a larger
 * delay fires after 1 ms).
 */
export const MAX_LIMITS: Readonly<ScgiLimits> = Object.freeze({
  maxHeaderBytes: 256 * 1024 * 1024,
  maxBodyBytes: Number.MAX_SAFE_INTEGER,
  headerTimeoutMs: 2 ** 31 - 1,
  bodyIdleTimeoutMs: 2 ** 31 - 1,
});
