/**
 * Free loopback ports for end-to-end tests, so that any number of tests can start servers and
 * front ends side by side without fixed ports (their folders: temp-dir.ts).
 */
import net from 'node:net';

/**
 * Asks the kernel for a free port on 127.0.0.1 (listen on 0, read it, close). Another process
 * may take the port between this call and its use: the front-end harnesses retry on EADDRINUSE.
 */
export function getFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error('no port from listen(0)'))));
    });
  });
}

/**
 * `count` distinct free ports. Each probe stays open until all are picked: calling getFreePort()
 * several times can return the same port twice, since the kernel may hand a port out again as
 * soon as its probe closed (a CLI test once got "apps[1].listen: 127.0.0.1:33957 is used twice" that way, on Node 24 in CI).
 */
export function getFreePorts(count: 2): Promise<[number, number]>;
export function getFreePorts(count: 3): Promise<[number, number, number]>;
export function getFreePorts(count: number): Promise<number[]>;
export async function getFreePorts(count: number): Promise<number[]> {
  const probes: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const probe = net.createServer();
      probe.unref();
      probes.push(probe);
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve());
      });
    }
    return probes.map((probe) => (probe.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(probes.map((probe) => new Promise((resolve) => probe.close(resolve))));
  }
}

