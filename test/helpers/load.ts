/**
 * @module load
 * Closed-loop load for the reload tests: clients that send one request after another until the
 * test says stop, so that load lasts as long as the reloads it covers take, however busy the
 * machine. A request count and a generous deadline bound it if the test never says stop.
 */
import { performance } from 'node:perf_hooks';
import { scaledMs } from './wait.js';

export interface Load {
  /** Ends the load: each client finishes the request it is in and stops. */
  stop(): Promise<void>;
  /** Requests sent so far. */
  readonly sent: number;
}

/**
 * Starts `clients` loops, each awaiting `send(client)` again and again, until stop(),
 * `maxRequests` in all, or `timeoutMs`. `send` records its own outcome; a rejection ends the
 * load with it. `client` (0 to clients - 1) lets each loop keep a connection of its own.
 */
export function startLoad(
  clients: number,
  send: (client: number) => Promise<void>,
  { maxRequests = 200_000, timeoutMs = 300_000 }: { maxRequests?: number; timeoutMs?: number } = {},
): Load {
  let stopped = false;
  let sent = 0;
  const deadline = performance.now() + scaledMs(timeoutMs);
  const running = Promise.all(Array.from({ length: clients }, async (_, client) => {
    while (!stopped && sent < maxRequests && performance.now() < deadline) {
      sent++;
      await send(client);
    }
  }));
  // A failure surfaces at stop(); until then it must not count as unhandled.
  running.catch(() => {});
  return {
    async stop() {
      stopped = true;
      await running;
    },
    get sent() {
      return sent;
    },
  };
}
