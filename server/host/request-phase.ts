/**
 * @module request-phase
 * Where a request is in its life, and how it ended: the words the host, both protocols and the
 * adapters share, kept apart from the request's interface so that each can name them.
 */
import type { Outcome } from '../../shared/timing-row.js';

export const enum Phase {
  /** SCGI only: the header block is still arriving. */
  HEAD,
  QUEUED,
  RUNNING,
  DONE,
}

/**
 * Endings of a request the app never saw, beside the timing row's outcomes; neither is recorded.
 * MALFORMED counts as a bad request; LEFT (the peer closed before its head was complete) nowhere.
 */
export const Unserved = { MALFORMED: -1, LEFT: -2 } as const;

/** How a request ended, as the host counts it. */
export type Ending = Outcome | (typeof Unserved)[keyof typeof Unserved];
