/**
 * @module start-check
 * What startDashboard would refuse, asked without loading the dashboard: the runtime loads
 * Fastify and the dashboard's routes (5-10 MiB it keeps, measured) only when the dashboard is on.
 */
import { errors } from '../shared/errors.js';
import { isLoopback, parseTcpAddress } from '../shared/listen-address.js';
import { tokenWeakness } from './security/token-strength.js';

/**
 * Throws what startDashboard would refuse (bad address, non-loopback bind without a token, a weak
 * token), without listening: the runtime asks before it binds any app, so a refusal never comes
 * after apps were announced UP.
 */
export function checkDashboardStart(options: { listen: string; token?: string | undefined; tokenSource?: string }): void {
  const { host } = parseTcpAddress(options.listen);
  const configured = options.token !== undefined && options.token !== '';
  // Anyone who can reach a non-loopback port could change thread limits: only with a real token.
  if (!isLoopback(host) && !configured) throw new errors.DOW_ERR_DASHBOARD_BIND(options.listen);
  // A configured token is the only thing between the network and the thread limits; one that
  // can be guessed is refused at start rather than trusted (the throttle only slows guessing).
  const weakness = configured ? tokenWeakness(options.token as string) : null;
  if (weakness !== null) throw new errors.DOW_ERR_WEAK_TOKEN(options.tokenSource ?? 'configured', weakness);
}
