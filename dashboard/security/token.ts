/**
 * @module token
 * The admin token: generation, constant-time comparison, and the session value the login cookie
 * carries instead of the token itself.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** 32 random bytes: guessing is hopeless, so no login rate limiting is needed. */
const TOKEN_BYTES = 32;

export function generateToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/**
 * Compares in constant time. Both sides are hashed first because timingSafeEqual throws on
 * different lengths, and an early length check would leak the token's length.
 */
export function safeEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * The cookie holds an HMAC of the token rather than the token: a cookie read from a browser
 * profile then cannot be replayed as a `Bearer` token against other tools that share it.
 */
export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('dragon-on-wheels dashboard session v1').digest('base64url');
}
