/**
 * @module dashboard
 * Starts the admin dashboard: checks the bind is safe, settles the token, listens, and hands back
 * the login URL for the caller to print once (the way Jupyter prints its token URL).
 */
import { isIP } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { errors } from '../shared/errors.js';
import type { HistoryReader } from '../shared/history.js';
import type { RuntimeControl } from '../shared/runtime-control.js';
import { buildDashboard } from './app.js';
import { formatHostPort, isLoopback, parseTcpAddress } from '../shared/listen-address.js';
import { generateToken } from './security/token.js';
import { checkDashboardStart } from './start-check.js';

export { buildDashboard, type DashboardOptions } from './app.js';
export { createRemoteControl, type RemoteControlOptions } from './remote-control.js';
export { checkDashboardStart } from './start-check.js';

export interface StartDashboardOptions {
  /** `host:port`; the default bind is 127.0.0.1:9100 (set by the caller's config). Port 0 picks one. */
  listen: string;
  /** From config or DRAGON_ADMIN_TOKEN; generated when absent, which only a loopback bind allows. */
  token?: string | undefined;
  /** Where a configured token came from, for the weak-token message: `dashboard.token`, `DRAGON_ADMIN_TOKEN`. */
  tokenSource?: string;
  control: RuntimeControl;
  history: HistoryReader | null;
  log: FastifyBaseLogger;
  /** Extra names the dashboard may be reached under (Host header), e.g. behind a proxy. */
  allowedHosts?: string[];
  /** Proxies (IPs or CIDRs) whose X-Forwarded-For names the client. */
  trustedProxies?: string[];
}

export interface RunningDashboard {
  /** `host:port` actually bound. */
  address: string;
  /** `http://…/login?token=…`: print it once, it is the credential. */
  loginUrl: string;
  /**
   * What to print for logging in: the login URL when the token was generated here (printing it
   * once is the only way to hand it over), never a configured token, which the operator has.
   */
  loginHint: string;
  token: string;
  /** Stops listening and ends open event streams; the control and history stay the caller's. */
  close(): Promise<void>;
}

export async function startDashboard(options: StartDashboardOptions): Promise<RunningDashboard> {
  checkDashboardStart(options);
  const { host, port } = parseTcpAddress(options.listen);
  const configured = options.token !== undefined && options.token !== '';
  const token = configured ? (options.token as string) : generateToken();

  const allowedHosts = [...(options.allowedHosts ?? [])];
  const app = buildDashboard({
    control: options.control,
    history: options.history,
    token,
    allowedHosts,
    logger: options.log,
    ...(options.trustedProxies === undefined ? {} : { trustedProxies: options.trustedProxies }),
  });
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close();
    throw new errors.DOW_ERR_LISTEN(options.listen, err instanceof Error ? err.message : String(err));
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  // An IP literal in the Host header cannot be a rebinding attack (that needs the attacker's
  // name), so a bind to one concrete address also accepts that address.
  if (isIP(host) !== 0 && !isLoopback(host) && !isWildcard(host)) allowedHosts.push(formatHostPort(host, boundPort));

  // A wildcard bind is reached locally through loopback, which the Host check always accepts.
  const urlHost = isWildcard(host) ? '127.0.0.1' : host;
  const base = `http://${formatHostPort(urlHost, boundPort)}`;
  const loginUrl = `${base}/login?token=${encodeURIComponent(token)}`;
  return {
    address: formatHostPort(host, boundPort),
    loginUrl,
    loginHint: configured ? `log in with the configured admin token at ${base}/login?token=<token>` : `log in with ${loginUrl}`,
    token,
    close: () => app.close(),
  };
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}
