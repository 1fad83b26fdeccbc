/**
 * @module sealed-response
 * A ServerResponse that an answer of ours ended, made deaf to the app's late writes.
 */
import type { ServerResponse } from 'node:http';

/**
 * After an answer of ours (504, 500) the app may still be running and write to its response, as
 * it would over SCGI: its writes are dropped instead of throwing ERR_HTTP_HEADERS_SENT or
 * emitting a 'write after end' error nobody listens for.
 */
export function sealResponse(res: ServerResponse): void {
  const sealed = res as unknown as Record<string, unknown>;
  const self = (): ServerResponse => res;
  sealed.setHeader = self;
  sealed.appendHeader = self;
  sealed.removeHeader = noop;
  sealed.writeHead = self;
  sealed.flushHeaders = noop;
  sealed.write = (...args: unknown[]): boolean => {
    callLast(args);
    return true;
  };
  sealed.end = (...args: unknown[]): ServerResponse => {
    callLast(args);
    return res;
  };
}

function noop(): void {}

function callLast(args: unknown[]): void {
  const last = args[args.length - 1];
  if (typeof last === 'function') queueMicrotask(() => (last as () => void)());
}
