/**
 * @module capacity-resource
 * A stand-in for what limits an app's throughput (a database pool, a licence server): a loopback
 * HTTP server that serves `capacity` requests at once, each for `holdMs`, and queues the rest
 * FIFO. Its capacity can change at run time; it reports how many wait, the app's internal queue.
 *
 *   app ──GET──▶ [ serving: s s s (≤ capacity) ]  ◀── waiting: w w w w (FIFO)
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CapacityResource {
  port: number;
  capacity: number;
  /** Requests waiting for a place now. */
  readonly waiting: number;
  /** Requests served since start. */
  readonly served: number;
  /** Arrival to response (wait + hold) of each request served since the last call, ms. */
  takeTimes(): number[];
  close(): Promise<void>;
}

export async function startCapacityResource(capacity: number, holdMs = 20): Promise<CapacityResource> {
  let capacityNow = capacity;
  let serving = 0;
  let served = 0;
  const queue: Array<() => void> = [];
  let times: number[] = [];
  const release = (): void => {
    serving--;
    served++;
    admit();
  };
  const admit = (): void => {
    while (serving < capacityNow && queue.length > 0) {
      serving++;
      (queue.shift() as () => void)();
    }
  };
  const server: Server = createServer((req, res) => {
    req.resume();
    const arrived = performance.now();
    queue.push(() => setTimeout(() => {
      res.end('ok\n');
      times.push(performance.now() - arrived);
      release();
    }, holdMs));
    admit();
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const resource = {
    port: (server.address() as AddressInfo).port,
    get capacity() {
      return capacityNow;
    },
    set capacity(c: number) {
      capacityNow = c;
      admit();
    },
    get waiting() {
      return queue.length;
    },
    get served() {
      return served;
    },
    takeTimes() {
      const taken = times;
      times = [];
      return taken;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  return resource;
}
