/**
 * @module internal-symbol
 * Finds one of Node's private symbol keys (kOutHeaders, kHeadersCount) on an object by its
 * description. Each use is pinned in test/unit/node-internals.test.ts, so a Node release that
 * renames one fails there first; callers keep a public-API fallback for `undefined`.
 */
export function internalSymbol(object: object, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(object).find((symbol) => symbol.description === description);
}
