/**
 * @module hosted-request
 * One request as the app host sees it, whichever protocol carried it: an SCGI connection (one
 * request per connection) or one request of an HTTP/1.1 keep-alive connection. The host queues,
 * admits and records these; request-end.ts ends them, each protocol giving its own primitives.
 */
import type { ScgiLimits } from '../protocol/limits.js';
import type { AppHandler } from '../adapters/app-handler.js';
import type { RequestTarget } from '../adapters/request-target.js';
import type { Waiter } from './limiter.js';
import type { EndableRequest } from './request-end.js';
import type { Phase } from './request-phase.js';

/** What the access log prints about a request besides what the host knows. */
export interface AccessFields {
  uri: string;
  protocol: string;
  remoteAddr: string;
  referer: string;
  userAgent: string;
}

export interface HostedRequest extends Waiter, EndableRequest {
  phase: Phase;
  /** performance.now() when the request began (SCGI: accepted; HTTP: its head parsed). */
  readonly acceptedAt: number;
  /** Wall clock at the same moment, for the timing row. */
  readonly startMs: number;
  admittedAt: number;
  readonly target: RequestTarget;
  /** Bytes of this request and of its response, for the timing row. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  accessFields(): AccessFields;
  /** The route template the app's framework matched, once it answered; null: none known. */
  routeTemplate(): string | null;
  /** Hands the request to the app (the host has admitted it). */
  run(handler: AppHandler, appName: string): void;
  /** The app threw or rejected: 500 if nothing was sent, else the response is cut. */
  appFailed(err: unknown): void;
  /** drainTimeout ran out while stopping: answer 503 or cut, and finish now (see connection.ts). */
  cutByDrain(): void;
  /** Checks this request's timeouts; called by the server's sweep every 100 ms. */
  sweep(now: number, limits: ScgiLimits): void;
}
