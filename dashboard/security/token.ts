/**
 * @module token
 * The admin token: generation and constant-time comparison. (Login cookies carry random session
 * ids, sessions.ts, not anything derived from the token.)
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 32 random bytes (a configured token must be as strong: token-strength.ts). */
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
