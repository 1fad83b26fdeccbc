/**
 * @module exposure-warning
 * SCGI trusts its peer for REMOTE_ADDR and HTTPS: an app port that more than
 * the front end can reach lets anyone forge them. Said once, at start, for each such app.
 */
import { isLoopback, parseListenAddress } from '../../shared/listen-address.js';

/** The warning for an app bound to `address`, or null when only this host can connect. */
export function exposureWarning(app: string, address: string): string | null {
  const bound = parseListenAddress(address);
  if (bound.kind !== 'tcp' || isLoopback(bound.host)) return null;
  return `${app}: listens on ${address}, not a loopback address: anyone who can connect can forge REMOTE_ADDR and HTTPS=on (SCGI trusts its front end). Let only the front end reach it: listen on 127.0.0.1, or on a Unix socket with socketGroup, or firewall the port`;
}
