/**
 * @module auth-throttle
 * Throttles wrong admin tokens: a leaky bucket per client address and one for everyone. Pure (a
 * clock is passed in); the guard and the login route ask it before they compare a token.
 *
 *   failure ─► client bucket +1, global bucket +1      each drains at its rate
 *   attempt ─► client bucket full? ─► 429 with Retry-After, the token not even compared
 *           └► global bucket full? ─► the token is compared: right gets in, wrong gets 429
 *
 * The global bucket refuses only wrong tokens: otherwise a flood of guesses from many addresses
 * would lock the operator's right token out. Guessing stays held per address, and a configured
 * token is refused at start unless it is far beyond guessing anyway (token-strength.ts).
 */

export interface BucketRule {
  /** Failures allowed back to back before attempts are refused. */
  burst: number;
  /** Failures a minute allowed once the burst is spent (the drain rate). */
  perMinute: number;
}

/**
 * 10 quick failures, then one every 6 s per address: a mistyped token costs nothing, while
 * guessing runs at 0.17 tries a second instead of the 8-10k measured without a throttle.
 */
export const CLIENT_RULE: BucketRule = { burst: 10, perMinute: 10 };
/** Many addresses (IPv6, a botnet) together: at most about one guess a second. */
export const GLOBAL_RULE: BucketRule = { burst: 100, perMinute: 60 };
/** Addresses remembered; beyond it drained buckets go first, then the oldest. */
const MAX_CLIENTS = 10_000;

interface Bucket {
  level: number;
  atMs: number;
}

export interface ThrottleWait {
  /** Milliseconds before `client` may have a token compared again; 0 = now. */
  clientMs: number;
  /** Milliseconds before a wrong token from anyone is answered 401 rather than 429; 0 = now. */
  globalMs: number;
}

export interface AuthThrottle {
  wait(client: string): ThrottleWait;
  /** Counts one wrong token from `client`. */
  fail(client: string): void;
  clients(): number;
}

export interface AuthThrottleOptions {
  client?: BucketRule;
  global?: BucketRule;
  now?: () => number;
}

/**
 * The address a bucket belongs to. An IPv6 host usually owns a whole /64, so one attacker would
 * otherwise get 2^64 buckets; IPv4-mapped addresses count as the IPv4 address.
 */
export function clientKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1] ?? ip;
  if (!ip.includes(':')) return ip;
  const [head = '', tail] = ip.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export function createAuthThrottle(options: AuthThrottleOptions = {}): AuthThrottle {
  const clientRule = options.client ?? CLIENT_RULE;
  const globalRule = options.global ?? GLOBAL_RULE;
  const now = options.now ?? Date.now;
  const buckets = new Map<string, Bucket>();
  const global: Bucket = { level: 0, atMs: now() };

  function drain(bucket: Bucket, rule: BucketRule, t: number): void {
    bucket.level = Math.max(0, bucket.level - ((t - bucket.atMs) * rule.perMinute) / 60_000);
    bucket.atMs = t;
  }

  /** Time until the bucket has room for one more failure. */
  function wait(bucket: Bucket, rule: BucketRule): number {
    const over = bucket.level - (rule.burst - 1);
    return over <= 0 ? 0 : Math.ceil((over * 60_000) / rule.perMinute);
  }

  function evict(t: number): void {
    for (const [key, bucket] of buckets) {
      drain(bucket, clientRule, t);
      if (bucket.level === 0) buckets.delete(key);
    }
    while (buckets.size >= MAX_CLIENTS) {
      const oldest = buckets.keys().next().value;
      if (oldest === undefined) break;
      buckets.delete(oldest);
    }
  }

  return {
    wait(client) {
      const t = now();
      drain(global, globalRule, t);
      const bucket = buckets.get(clientKey(client));
      if (bucket) drain(bucket, clientRule, t);
      return { clientMs: bucket ? wait(bucket, clientRule) : 0, globalMs: wait(global, globalRule) };
    },
    fail(client) {
      const t = now();
      const key = clientKey(client);
      drain(global, globalRule, t);
      global.level += 1;
      let bucket = buckets.get(key);
      if (!bucket) {
        if (buckets.size >= MAX_CLIENTS) evict(t);
        bucket = { level: 0, atMs: t };
        buckets.set(key, bucket);
      }
      drain(bucket, clientRule, t);
      bucket.level += 1;
    },
    clients: () => buckets.size,
  };
}
