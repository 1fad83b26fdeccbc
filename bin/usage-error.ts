/**
 * @module usage-error
 * A command-line mistake: the CLI prints it with the usage text and exits 2.
 */
export class UsageError extends Error {}
