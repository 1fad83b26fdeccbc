/**
 * @module enter-app
 * The one way the server calls an app's code: from a promise job, never from a function of ours.
 *
 * Why: V8 inlines a hot app into the function that calls it, and code inlined inside a `try`
 * block runs several times slower (an app's CPU loop: 4x on Node 20 and 22, 1.8x on 24; see
 * docs/architecture.md, "Entering the app"). A caller wraps the call in a `try` (to answer 500
 * for a throw) or is an async function, which is one. A job is run by V8's microtask
 * runner, which is not JavaScript and so never has the app inlined into it; the app is compiled on
 * its own or into the small `call` closure below, which has no `try`, as under node:http, whose
 * 'request' emit has none either. A throw and a rejected promise both reach the returned promise.
 *
 * Cost: two promises per request (~0.3-0.8 µs); the app runs in the same turn of the event loop,
 * right after the I/O callback that admitted it.
 */
const settled = Promise.resolve();

export function enterApp<T>(call: () => T): Promise<Awaited<T>> {
  return settled.then(call) as Promise<Awaited<T>>;
}
