/**
 * @module trust-proxy
 * Who the client is behind a reverse proxy, for `protocol: 'http'` apps. Over SCGI the front end
 * says so in REMOTE_ADDR and HTTPS; over HTTP it can only say so in X-Forwarded-For,
 * X-Forwarded-Proto and X-Real-IP, which anyone can send. So they are believed only from the peers
 * in `trustProxy` (by default loopback, plus any Unix socket peer: only local processes that the
 * socket's mode lets in can connect). Pure; the address matching is @fastify/proxy-addr's, the
 * walk Express and Fastify do with their own `trust proxy` settings.
 */
import { isIP } from 'node:net';
import proxyAddr from '@fastify/proxy-addr';

export type TrustFunction = (address: string, hop: number) => boolean;

export const DEFAULT_TRUST_PROXY: readonly string[] = Object.freeze(['loopback']);

/** The headers this reads; node:http's IncomingHttpHeaders has them as strings (first value wins). */
export interface ForwardingHeaders {
  'x-forwarded-for'?: string | undefined;
  'x-forwarded-proto'?: string | undefined;
  'x-real-ip'?: string | undefined;
}

export interface ClientIdentity {
  /** The client's address; the peer's own when nothing forwarded is believed (undefined: Unix socket). */
  address: string | undefined;
  /** True when a believed X-Forwarded-Proto says https. */
  https: boolean;
  /** False when the answer is the peer itself: nothing to present. */
  forwarded: boolean;
}

const TRUST_NONE: TrustFunction = () => false;

/** Throws proxy-addr's TypeError ("invalid IP address: ...") for an entry it cannot read. */
export function compileTrust(list: readonly string[] | false): TrustFunction {
  if (list === false || list.length === 0) return TRUST_NONE;
  return proxyAddr.compile([...list]);
}

/**
 * The trust function for one connection: its peer's answer computed once, since neither the
 * peer nor the listener's trustProxy changes while it is open. proxy-addr parses the address
 * with ipaddr.js on every call, which cost about a microsecond per keep-alive request. Other
 * addresses (X-Forwarded-For hops) are asked as before. A Unix socket peer (no address) keeps
 * `trust` itself, which identifyClient compares with TRUST_NONE.
 */
export function trustForPeer(trust: TrustFunction, peer: string | undefined): TrustFunction {
  if (peer === undefined || trust === TRUST_NONE) return trust;
  const peerTrusted = trust(peer, 0);
  return (address, hop) => (hop === 0 && address === peer ? peerTrusted : trust(address, hop));
}

/**
 * Walks X-Forwarded-For from the right, past every trusted hop, as proxy-addr does: the first
 * untrusted address is the client. Without X-Forwarded-For, a trusted peer's X-Real-IP (nginx's
 * `proxy_set_header X-Real-IP $remote_addr`) names it.
 */
export function identifyClient(peer: string | undefined, headers: ForwardingHeaders, trust: TrustFunction): ClientIdentity {
  // A Unix socket peer has no address: it is the front end on this host.
  const peerTrusted = peer === undefined ? trust !== TRUST_NONE : trust(peer, 0);
  if (!peerTrusted) return { address: peer, https: false, forwarded: false };
  const https = isHttpsProto(headers['x-forwarded-proto']);
  const xff = headers['x-forwarded-for'];
  if (xff !== undefined && xff !== '') {
    const hops = proxyAddr.all(
      { headers: { 'x-forwarded-for': xff }, socket: { remoteAddress: peer ?? '' } } as unknown as Parameters<typeof proxyAddr.all>[0],
      (address, hop) => (hop === 0 ? true : trust(address, hop)),
    );
    const address = hops[hops.length - 1];
    if (hops.length > 1 && address !== undefined && isIP(address) !== 0) return { address, https, forwarded: true };
  }
  const realIp = headers['x-real-ip']?.trim();
  if (realIp !== undefined && isIP(realIp) !== 0) return { address: realIp, https, forwarded: true };
  return { address: peer, https, forwarded: https };
}

/** `https`, or a list whose first (client-side) entry is: Express and Fastify read it the same way. */
function isHttpsProto(value: string | undefined): boolean {
  if (value === undefined) return false;
  const comma = value.indexOf(',');
  return (comma === -1 ? value : value.slice(0, comma)).trim().toLowerCase() === 'https';
}
