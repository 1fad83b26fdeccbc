/**
 * @module sessions
 * Server-side login sessions: a random id per login, kept in memory with an absolute expiry, so
 * a cookie can be revoked (logout) and dies with the process (a restart, the only way to change
 * the token, signs everyone out).
 */
import { randomBytes } from 'node:crypto';

/** A working day; the operator logs in again with the URL or the token after that. */
export const SESSION_MAX_AGE_MS = 12 * 3600_000;
/** 256 random bits: a session id cannot be guessed, so cookie failures need no throttle. */
const SESSION_ID_BYTES = 32;
/**
 * Only a holder of the token can create sessions, so this bound is against a script that logs
 * in in a loop, not an attacker: the oldest session is dropped beyond it.
 */
const MAX_SESSIONS = 1000;

export interface SessionStore {
  /** A new session id for a login that showed the token. */
  create(): string;
  /** True while `id` names a live session. */
  check(id: string): boolean;
  /** Ends one session (logout); unknown ids are ignored. */
  revoke(id: string): void;
  /** Ends every session. */
  clear(): void;
  size(): number;
}

export function createSessionStore(options: { maxAgeMs?: number; now?: () => number } = {}): SessionStore {
  const maxAgeMs = options.maxAgeMs ?? SESSION_MAX_AGE_MS;
  const now = options.now ?? Date.now;
  // Insertion order is creation order, so the first entries are the oldest.
  const expiresAt = new Map<string, number>();

  function sweep(): void {
    const t = now();
    for (const [id, until] of expiresAt) {
      if (until > t) break; // every later entry was created later and expires later
      expiresAt.delete(id);
    }
  }

  return {
    create() {
      sweep();
      while (expiresAt.size >= MAX_SESSIONS) {
        const oldest = expiresAt.keys().next().value;
        if (oldest === undefined) break;
        expiresAt.delete(oldest);
      }
      const id = randomBytes(SESSION_ID_BYTES).toString('base64url');
      expiresAt.set(id, now() + maxAgeMs);
      return id;
    },
    check(id) {
      const until = expiresAt.get(id);
      if (until === undefined) return false;
      if (until <= now()) {
        expiresAt.delete(id);
        return false;
      }
      return true;
    },
    revoke: (id) => void expiresAt.delete(id),
    clear: () => expiresAt.clear(),
    size: () => expiresAt.size,
  };
}
