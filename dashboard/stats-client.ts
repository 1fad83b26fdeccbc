/**
 * @module stats-client
 * Reads the runtime's stats port: connect, read until the runtime closes, as `nc host port` does.
 * Anything short of a complete answer in time is DOW_ERR_RUNTIME_UNREACHABLE.
 */
import { connect } from 'node:net';
import { errors } from '../shared/errors.js';

/** Short: the page polls every 1.5 s and must show "unreachable" rather than hang. */
export const STATS_TIMEOUT_MS = 1000;
/** A report is a few KiB; anything far larger is not our stats port. */
const MAX_STATS_BYTES = 1 << 20;

export function readStatsPort(host: string, port: number, timeoutMs = STATS_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const socket = connect({ host, port });
    const fail = (why: string): void => {
      socket.destroy();
      reject(new errors.DOW_ERR_RUNTIME_UNREACHABLE(`stats port ${host}:${port}: ${why}`));
    };
    socket.setTimeout(timeoutMs, () => fail(`no complete answer within ${timeoutMs} ms`));
    socket.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_STATS_BYTES) return fail(`answer larger than ${MAX_STATS_BYTES} bytes`);
      chunks.push(chunk);
    });
    socket.on('end', () => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    socket.on('error', (err) => fail(err.message));
  });
}
