/**
 * @module route-fold
 * The route a timing row carries: the template the framework matched, or else the path with its
 * ids folded, so that `/items/1` and `/items/2` are one route. Pure.
 */
import { MAX_ROUTE_LENGTH } from '../../shared/store/schema.js';

/** What every request the app answered 404 without a matched template counts as: a scanner's paths are one route. */
export const UNMATCHED_ROUTE = '(unmatched)';
/** What an id segment becomes. */
const ID_SEGMENT = ':id';

const DIGITS = /^\d+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** 16 hex digits or more: object ids (24), hashes (32, 40, 64); shorter hex is too often a word ("cafe", "added"). */
const LONG_HEX = /^[0-9a-f]{16,}$/i;

/**
 * Whether any segment of a path is one of the three above. Most paths have none ('/', '/api/health'):
 * one scan of the whole string then spares the split and join, which cost ~0.8 µs per request.
 */
const ANY_ID_SEGMENT = new RegExp(`(?:^|/)(?:${[DIGITS, UUID, LONG_HEX].map((r) => r.source.slice(1, -1)).join('|')})(?=/|$)`, 'i');

export function isIdSegment(segment: string): boolean {
  return DIGITS.test(segment) || UUID.test(segment) || LONG_HEX.test(segment);
}

/** `/users/42/orders/9f1c...` -> `/users/:id/orders/:id`; the segments' number and order are kept. */
export function foldPath(path: string): string {
  let folded = path;
  if (ANY_ID_SEGMENT.test(path)) {
    const segments = path.split('/');
    for (let i = 0; i < segments.length; i++) {
      if (isIdSegment(segments[i]!)) segments[i] = ID_SEGMENT;
    }
    folded = segments.join('/');
  }
  if (folded === '') return '/';
  return folded.length > MAX_ROUTE_LENGTH ? folded.slice(0, MAX_ROUTE_LENGTH) : folded;
}

/**
 * The row's route: the framework's template when it matched one; a 404 without one is
 * UNMATCHED_ROUTE (each probed path a route of its own would let a scanner grow the store);
 * anything else the folded path.
 */
export function routeOf(template: string | null, path: string, status: number): string {
  if (template !== null && template !== '') return template.length > MAX_ROUTE_LENGTH ? template.slice(0, MAX_ROUTE_LENGTH) : template;
  if (status === 404) return UNMATCHED_ROUTE;
  return foldPath(path);
}
