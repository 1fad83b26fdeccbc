/**
 * @module scale-command
 * `dragon-on-wheels scale <app> <N>`: asks the running server's dashboard for N workers
 * (`PUT /api/apps/<app>/workers`, with the admin token) and waits for its answer, which comes once
 * the new count serves: added workers listen, removed ones drained. A worker count carries a
 * value, which a signal (reload's way) cannot, and the dashboard is the server's one authenticated
 * way in.
 */
import { DragonError, errors } from '../shared/errors.js';
import { describeScale, type ScaleResult } from '../shared/runtime-control.js';
import { formatHostPort, parseTcpAddress } from '../shared/listen-address.js';
import { UsageError } from './usage-error.js';

/** As reload: a worker may take a minute to load, and the surplus drains for up to drainTimeout. */
export const SCALE_DEFAULTS = { maxSeconds: 180 } as const;

export interface ScaleCommandOptions {
  /** The dashboard's `host:port`. */
  dashboard: string;
  token: string | undefined;
  app: string;
  workers: string;
  timeoutMs: number;
}

export async function runScale(o: ScaleCommandOptions): Promise<ScaleResult> {
  const workers = Number(o.workers);
  if (!Number.isInteger(workers)) throw new UsageError(`scale: the worker count must be an integer, not ${JSON.stringify(o.workers)}`);
  if (o.token === undefined || o.token === '') {
    throw new errors.DOW_ERR_UNAUTHORIZED('scale needs the dashboard\'s admin token in DRAGON_ADMIN_TOKEN (the one the server runs with, or the token= part of the login URL it printed)');
  }
  const { host, port } = parseTcpAddress(o.dashboard);
  const url = `http://${formatHostPort(host, port)}/api/apps/${encodeURIComponent(o.app)}/workers`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'PUT',
      headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ workers }),
      signal: AbortSignal.timeout(o.timeoutMs),
    });
  } catch (err) {
    const cause = err instanceof Error && err.name === 'TimeoutError'
      ? `no answer within ${Math.round(o.timeoutMs / 1000)} s; the change may still be under way (the server's log says when it ends)`
      : `${(err as Error).message}${(err as { cause?: Error }).cause ? ` (${(err as { cause: Error }).cause.message})` : ''}`;
    throw new errors.DOW_ERR_RUNTIME_UNREACHABLE(`the dashboard on ${o.dashboard}: ${cause}`);
  }
  const body = (await res.json().catch(() => null)) as (ScaleResult & { code?: string; message?: string }) | null;
  // The server's refusal keeps its code and message: the CLI prints them as for its own errors.
  if (!res.ok || body === null) throw new DragonError(body?.code ?? 'DOW_ERR_INTERNAL', body?.message ?? `the dashboard answered HTTP ${res.status}`, res.status);
  return body;
}

export function formatScaleResult(r: ScaleResult): string {
  if (r.oldWorkers === r.newWorkers) return `${r.app}: already ${r.newWorkers} worker${r.newWorkers === 1 ? '' : 's'}\n`;
  return `${r.app}: ${describeScale(r)} in ${r.tookMs} ms\n`;
}
