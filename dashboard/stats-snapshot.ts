/**
 * @module stats-snapshot
 * Turns the stats port's figures (parsed by shared/stats-format) into a RuntimeSnapshot, the
 * same shape the in-process Server gives. Pure, so it is tested without a socket.
 *
 *   SCGI_SERVER_apps='shop blog_v2'     app names, space-separated (names may contain `_`)
 *   SCGI_SERVER_blog_v2_threads='4'     per-app figures are `<app>_<figure>`
 *   SCGI_SERVER_shop_worker_pids='41 42' live worker pids, space-separated, '' for none
 *
 * A runtime older than worker processes prints no worker figures: they read as 0 and [], which
 * is what an in-process app reports, so its cards say "in-process".
 */
import { errors } from '../shared/errors.js';
import type { AppSnapshot, RuntimeSnapshot } from '../shared/runtime-control.js';

const MS_PER_S = 1000;

function pids(value: string | undefined): number[] {
  if (value === undefined) return [];
  return value
    .split(' ')
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

export function snapshotFromStats(figures: ReadonlyMap<string, string>): RuntimeSnapshot {
  // Anything answering without a pid is not our stats port (or answered half a report).
  if (!figures.has('pid') || !figures.has('apps')) {
    throw new errors.DOW_ERR_RUNTIME_UNREACHABLE('the stats port answered without pid and apps');
  }
  const num = (key: string): number => {
    const value = Number(figures.get(key) ?? '0');
    return Number.isFinite(value) ? value : 0;
  };
  const names = (figures.get('apps') ?? '').split(' ').filter((n) => n !== '');
  const apps = names.map((name): AppSnapshot => {
    const key = (figure: string): string => `${name}_${figure}`;
    return {
      name,
      listen: figures.get(key('listen')) ?? '',
      mount: figures.get(key('mount')) ?? '',
      threads: num(key('threads')),
      online: num(key('online')),
      queued: num(key('queued')),
      requests: num(key('requests')),
      rejected: num(key('rejected')),
      errors: num(key('errors')),
      timeouts: num(key('timeouts')),
      aborted: num(key('aborted')),
      workers: num(key('workers')),
      restarts: num(key('restarts')),
      hangs: num(key('hangs')),
      workerPids: pids(figures.get(key('worker_pids'))),
      backoffMs: num(key('backoff_ms')),
      websockets: num(key('websockets')),
      upgrades: num(key('upgrades')),
      // Only an app with `adaptive` has a reason; every app says its mode (`fixed` by default).
      ...(figures.has(key('threads_reason'))
        ? { threadsMode: figures.get(key('threads_mode')) === 'adaptive' ? 'adaptive' as const : 'fixed' as const, threadsReason: figures.get(key('threads_reason')) as string }
        : {}),
    };
  });
  return {
    version: figures.get('version') ?? '',
    pid: num('pid'),
    // start_time is epoch seconds with a fraction, as the original writes it.
    startTimeMs: Math.round(num('start_time') * MS_PER_S),
    uptimeS: num('uptime'),
    requests: num('requests'),
    online: num('online'),
    apps,
  };
}
