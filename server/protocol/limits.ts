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
