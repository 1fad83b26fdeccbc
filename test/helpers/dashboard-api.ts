/**
 * @module dashboard-api
 * The dashboard built around a fake runtime and a stub history, driven through inject(), for the
 * dashboard-api-*.test.ts files: the token, the host, and the error body every refusal answers.
 */
import assert from 'node:assert/strict';
import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildDashboard } from '../../dashboard/app.js';
import type { AuditEntry, EventEntry, HistoryReader, SeriesPoint } from '../../shared/history.js';
import { createFakeRuntime, type FakeRuntime } from '../browser/fake-runtime.js';

export const TOKEN = 'test-token-0123456789';
export const PORT = 9100;
export const HOST = `127.0.0.1:${PORT}`;
export const ORIGIN = `http://${HOST}`;
export const NOW = 1_700_000_000_000;
export const bearer = { authorization: `Bearer ${TOKEN}` };

/** API-shape stub: real history is exercised by the browser and end-to-end tests. */
export function stubHistory(audit: AuditEntry[] = [], events: EventEntry[] = []): HistoryReader {
  const p = { p50: 12.5, p95: 40, p99: null };
  const point = (t: number): SeriesPoint => ({
    t,
    count: 10,
    status: { '1xx': 0, '2xx': 8, '3xx': 0, '4xx': 1, '5xx': 1 },
    rejected: 1,
    timeouts: 0,
    aborted: 0,
    service: p,
    queue: { p50: 0.1, p95: 0.5, p99: 1 },
  });
  return {
    series: (app, fromMs, toMs) => ({ app, fromMs, toMs, stepMs: 10_000, points: [point(fromMs), point(fromMs + 10_000)] }),
    summary: (app, fromMs, toMs) => ({
      app, fromMs, toMs, count: 20, errorRate: 0.05, reqPerS: 0.07, recordedMs: 300_000, runs: 1, rejected: 1, timeouts: 0, aborted: 0, service: p, queue: p,
    }),
    audit: ({ app, sinceMs, limit } = {}) =>
      audit.filter((e) => (app === undefined || e.app === app) && (sinceMs === undefined || e.atMs >= sinceMs)).slice(0, limit),
    events: ({ app, sinceMs, untilMs, limit } = {}) =>
      events
        .filter((e) => (app === undefined || e.app === app) && e.atMs >= (sinceMs ?? 0) && e.atMs < (untilMs ?? Infinity))
        .slice(0, limit ?? 100),
    routes: () => [],
    slowest: () => [],
    routeSeries: (app, method, route, fromMs, toMs) => ({ app, method, route, fromMs, toMs, stepMs: 60_000, points: [] }),
    close() {},
  };
}

/** A refusal: its status, JSON, and exactly the four fields of every dashboard error. */
export function assertErrorBody(res: LightMyRequestResponse, status: number, code: string): void {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json();
  assert.deepEqual(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode']);
  assert.equal(body.statusCode, status);
  assert.equal(body.code, code);
  assert.equal(body.error, STATUS_CODES[status]);
  assert.ok(typeof body.message === 'string' && body.message.length > 0, res.body);
}

export interface Harness {
  app: FastifyInstance;
  runtime: FakeRuntime;
  send(options: InjectOptions): Promise<LightMyRequestResponse>;
}

export function harness(options: { history?: HistoryReader | null; allowedHosts?: string[] } = {}): Harness {
  const runtime = createFakeRuntime();
  const app = buildDashboard({
    control: runtime,
    history: options.history === undefined ? stubHistory() : options.history,
    token: TOKEN,
    port: PORT,
    allowedHosts: options.allowedHosts ?? [],
    now: () => NOW,
  });
  return {
    app,
    runtime,
    send: (o) => app.inject({ ...o, headers: { host: HOST, ...(o.headers ?? {}) } }),
  };
}

export async function loginCookie(h: Harness): Promise<string> {
  const res = await h.send({ method: 'GET', url: `/login?token=${TOKEN}` });
  const cookie = res.cookies[0];
  assert.ok(cookie);
  return `${cookie.name}=${cookie.value}`;
}
