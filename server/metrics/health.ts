/**
 * @module health
 * What /readyz answers: every app has a worker ready to accept (or runs in-process) and the
 * timing store is writable. Pure: the supervisor's cheap, already-known facts in, a verdict out.
 */

export interface ReadinessInput {
  stopping: boolean;
  apps: ReadonlyArray<{ name: string; inProcess: boolean; readyWorkers: number; workers: number; backoffMs: number; startError?: string | null }>;
  /** Null when the store is off. */
  store: { writable: boolean; reason: string } | null;
}

export interface Readiness {
  ready: boolean;
  /** Why not, one line each; empty when ready. */
  reasons: string[];
  apps: Record<string, { ready: boolean; readyWorkers: number | null }>;
  store: 'off' | 'writable' | 'failing';
}

export function assessReadiness(input: ReadinessInput): Readiness {
  const reasons: string[] = [];
  if (input.stopping) reasons.push('the server is stopping');
  const apps: Readiness['apps'] = {};
  for (const app of input.apps) {
    const ready = app.inProcess || app.readyWorkers > 0;
    apps[app.name] = { ready, readyWorkers: app.inProcess ? null : app.readyWorkers };
    if (ready) continue;
    const next = `next worker in ${Math.ceil(app.backoffMs / 1000)} s`;
    const why = app.startError ? `${app.startError}${app.backoffMs > 0 ? `; ${next}` : ''}`
      : app.backoffMs > 0 ? `crash loop, ${next}`
      : app.workers > 0 ? `${app.workers} worker${app.workers === 1 ? '' : 's'} not answering heartbeats`
      : 'no worker running';
    reasons.push(`${app.name}: no ready worker (${why})`);
  }
  if (input.store && !input.store.writable) reasons.push(`timing store: ${input.store.reason}`);
  return {
    ready: reasons.length === 0,
    reasons,
    apps,
    store: input.store === null ? 'off' : input.store.writable ? 'writable' : 'failing',
  };
}
