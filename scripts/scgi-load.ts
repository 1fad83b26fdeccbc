/**
 * @module scgi-load
 * A small SCGI load and smoke tool for a running server (the demo by default): sends a bounded
 * number of requests at a fixed concurrency straight to an app's SCGI port, then prints req/s,
 * the status counts and latency percentiles. Loopback targets only; bounded in count and time.
 *
 *   npx tsx scripts/scgi-load.ts [--target 127.0.0.1:9002] [--requests 2000] [--concurrency 16]
 *                                [--uri /] [--max-seconds 30]
 */
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { encodeScgiRequest } from '../test/helpers/scgi-client.js';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: '127.0.0.1:9002' },
    requests: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '16' },
    uri: { type: 'string', default: '/' },
    'max-seconds': { type: 'string', default: '30' },
  },
});

const [host, portText] = [values.target.slice(0, values.target.lastIndexOf(':')), values.target.slice(values.target.lastIndexOf(':') + 1)];
if (!/^(127\.\d+\.\d+\.\d+|localhost|\[?::1\]?)$/.test(host)) {
  console.error(`refusing ${values.target}: this tool only sends traffic to loopback addresses`);
  process.exit(2);
}
const port = Number(portText);
const total = Number(values.requests);
const concurrency = Math.min(Number(values.concurrency), total);
const deadline = performance.now() + Number(values['max-seconds']) * 1000;
const payload = encodeScgiRequest({ uri: values.uri, env: { SERVER_PORT: String(port) } });

const statuses = new Map<string, number>();
const latencies: number[] = [];
let sent = 0;

function once(): Promise<void> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(port, host.replace(/^\[|\]$/g, ''));
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      if (head.length < 64) head += chunk.toString('latin1', 0, Math.min(chunk.length, 64));
    });
    const done = (status: string): void => {
      latencies.push(performance.now() - started);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      resolve();
    };
    socket.on('error', (err: NodeJS.ErrnoException) => done(`error ${err.code ?? err.message}`));
    socket.on('close', () => {
      done(/^Status: (\d{3})/.exec(head)?.[1] ?? 'no status');
    });
    socket.write(payload);
  });
}

async function worker(): Promise<void> {
  while (sent < total && performance.now() < deadline) {
    sent++;
    await once();
  }
}

const started = performance.now();
await Promise.all(Array.from({ length: concurrency }, worker));
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (q: number): string => (latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(2);
console.log(`target ${values.target}${values.uri}: ${latencies.length} requests in ${seconds.toFixed(2)} s at concurrency ${concurrency}`);
console.log(`throughput ${(latencies.length / seconds).toFixed(0)} req/s; latency ms p50 ${pct(0.5)} p95 ${pct(0.95)} p99 ${pct(0.99)} max ${pct(1)}`);
console.log(`statuses ${[...statuses].map(([status, count]) => `${status}=${count}`).join(' ')}`);
process.exit([...statuses.keys()].every((status) => /^[23]\d\d$/.test(status)) ? 0 : 1);
