/**
 * @module up-line
 * The line an operator (and the tests) look for once a socket listens: `UP on <address> (<what>)`.
 */

/**
 * `what` is joined inside the parentheses ("shop", "HTTP", "2 workers"); an SCGI app served by the
 * native I/O core says so after them.
 */
export function upLine(address: string, what: readonly string[], nativeIo = false): string {
  return `UP on ${address} (${what.join(', ')})${nativeIo ? ', native I/O' : ''}`;
}
