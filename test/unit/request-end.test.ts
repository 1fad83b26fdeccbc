/** How the server ends a request itself (request-end.ts), and how the host counts each ending. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Outcome, type TimingRecorder, type TimingRow } from '../../shared/timing-row.js';
import { AppHost } from '../../server/host/app-host.js';
import type { HostedRequest } from '../../server/host/hosted-request.js';
import { Phase, Unserved, type Ending } from '../../server/host/request-phase.js';
import { DEFAULT_LIMITS } from '../../server/protocol/limits.js';
import { ANSWERS, answerRequest, drainEnding, endRequest, type Answer, type EndableRequest } from '../../server/host/request-end.js';

/** A request whose primitives only note what they were asked to do. */
function fakeRequest(phase: Phase, headSent: boolean): EndableRequest & { phase: Phase; calls: string[] } {
  const calls: string[] = [];
  return {
    phase,
    calls,
    isHeadSent: () => headSent,
    sentStatus: () => 200,
    finish(status: number, ending: Ending) {
      this.phase = Phase.DONE;
      calls.push(`finish ${status} ${ending}`);
    },
    sendAnswer: (answer: Answer, ending: Ending) => void calls.push(`answer ${answer.status} ${ending}`),
    cut: () => void calls.push('cut'),
  };
}

test('endRequest answers while nothing was sent, recorded with the answer\'s status', () => {
  const request = fakeRequest(Phase.RUNNING, false);
  endRequest(request, Outcome.APP_ERROR, ANSWERS.appError);
  assert.deepEqual(request.calls, [`finish 500 ${Outcome.APP_ERROR}`, `answer 500 ${Outcome.APP_ERROR}`]);
});

test('endRequest cuts a response that started, recorded with the status that went out', () => {
  const request = fakeRequest(Phase.RUNNING, true);
  endRequest(request, Outcome.TIMEOUT, { status: 504, body: 'Gateway Timeout\n' });
  assert.deepEqual(request.calls, [`finish 200 ${Outcome.TIMEOUT}`, 'cut']);
});

test('a request that ended already is left alone, by both', () => {
  const request = fakeRequest(Phase.DONE, false);
  endRequest(request, Outcome.TIMEOUT, ANSWERS.appError);
  answerRequest(request, Outcome.REJECTED, ANSWERS.appError);
  assert.deepEqual(request.calls, []);
});

test('the drain deadline refuses a queued request and times out a running one', () => {
  assert.equal(drainEnding(Phase.QUEUED), Outcome.REJECTED);
  assert.equal(drainEnding(Phase.RUNNING), Outcome.TIMEOUT);
});

test('the host counts a request by its ending: bad requests and peers that left are not the app\'s', () => {
  const rows: TimingRow[] = [];
  const recorder = { record: (row: TimingRow) => void rows.push(row) } as unknown as TimingRecorder;
  const handler = { type: 'node' as const, listener: () => {} };
  const options = { name: 'app', handler, threads: 1, queue: 0, queueTimeoutMs: 1000, requestTimeoutMs: 0, mount: '' };
  const host = new AppHost(options, '127.0.0.1:0', DEFAULT_LIMITS, pino({ level: 'silent' }), recorder);
  const request = (): HostedRequest => ({ ...fakeRequest(Phase.QUEUED, false), target: { method: 'GET', url: '/', mount: '', path: '/' }, routeTemplate: () => null, startMs: 0, acceptedAt: 0, admittedAt: 0, bytesIn: 0, bytesOut: 0 }) as unknown as HostedRequest;

  host.finished(request(), Phase.QUEUED, 413, Unserved.MALFORMED);
  host.finished(request(), Phase.HEAD, 499, Unserved.LEFT);
  assert.equal(host.stats.badRequests, 1);
  assert.equal(host.stats.requests, 0);
  assert.equal(rows.length, 0, 'neither is recorded');

  host.finished(request(), Phase.HEAD, 503, Outcome.REJECTED);
  host.finished(request(), Phase.QUEUED, 499, Outcome.ABORTED);
  assert.equal(host.stats.rejected, 1);
  assert.equal(host.stats.aborted, 1);
  assert.equal(host.stats.badRequests, 1);
  assert.deepEqual(rows.map((row) => [row.status, row.outcome]), [[503, Outcome.REJECTED], [499, Outcome.ABORTED]]);
});
