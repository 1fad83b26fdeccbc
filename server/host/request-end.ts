/**
 * @module request-end
 * How the server itself ends a request (an app error, a timeout, a 503, a drain, a bad request),
 * the same for both protocols: an answer of ours while no byte of the response is out, else a
 * cut, so that a front end never passes a truncated response on as a whole one.
 */
import { Outcome } from '../../shared/timing-row.js';
import { Phase, type Ending } from './request-phase.js';

/** Status recorded for a request whose client left first (nginx's own code for it). */
export const CLIENT_CLOSED_STATUS = 499;

/** A complete response of ours: its status, a `text/plain` body, extra `Name: value\r\n` lines. */
export interface Answer {
  readonly status: number;
  readonly body: string;
  readonly extraHeaders?: string;
}

/** How long a client should wait before retrying after a 503, seconds. */
const RETRY_AFTER_S = 1;

/** Our own answers, beside a refusal's, which carries its reason. */
export const ANSWERS = {
  /** The limiter's: the queue is full, or the wait in it ran out. */
  tooBusy: { status: 503, body: 'Service Unavailable: too many requests, retry later\n', extraHeaders: `Retry-After: ${RETRY_AFTER_S}\r\n` },
  appError: { status: 500, body: 'Internal Server Error\n' },
  requestTimeout: { status: 504, body: 'Gateway Timeout\n' },
  bodyTimeout: { status: 408, body: 'Request Timeout\n' },
  bodyTooLarge: { status: 413, body: 'Content Too Large\n' },
  /** At the drain deadline: a clean 503 the front end passes on, where a cut would become its 502. */
  stopping: { status: 503, body: 'Service Unavailable: the server is stopping\n', extraHeaders: `Retry-After: ${RETRY_AFTER_S}\r\n` },
} as const satisfies Record<string, Answer>;

/** What each protocol supplies: its state, its way to record, answer and cut. */
export interface EndableRequest {
  readonly phase: Phase;
  /** Some of the response (its head at least) is out: only a cut can end it now. */
  isHeadSent(): boolean;
  /** The status of the response that is out, for the record of a cut one. */
  sentStatus(): number;
  /** Records the ending, once: phase DONE, the host's figures, the timing row. */
  finish(status: number, ending: Ending): void;
  /** Sends a complete answer of ours (or nothing, if the connection is gone already). */
  sendAnswer(answer: Answer, ending: Ending): void;
  /** Ends a started response so that it arrives incomplete and the front end reports an error. */
  cut(): void;
}

/** Answers if nothing was sent yet, else records the response that is out and cuts it. */
export function endRequest(request: EndableRequest, ending: Ending, answer: Answer): void {
  if (request.phase === Phase.DONE) return;
  if (!request.isHeadSent()) return answerRequest(request, ending, answer);
  request.finish(request.sentStatus(), ending);
  request.cut();
}

/** Answers: for endings that come before the app could send anything (a 503, a refusal). */
export function answerRequest(request: EndableRequest, ending: Ending, answer: Answer): void {
  if (request.phase === Phase.DONE) return;
  request.finish(answer.status, ending);
  request.sendAnswer(answer, ending);
}

/** The drain deadline: a request still queued was refused, one already running ran out of time. */
export function drainEnding(phase: Phase): Ending {
  return phase === Phase.QUEUED ? Outcome.REJECTED : Outcome.TIMEOUT;
}
