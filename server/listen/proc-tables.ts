/**
 * @module proc-tables
 * Reads a kernel table under /proc (net/tcp, net/tcp6, net/unix) line by line, never
 * synchronously: /proc/net/tcp lists every socket of the host (tens of thousands on a busy one),
 * and reading it at once blocked the supervisor's loop for 0.3-24 s. The table is streamed in
 * chunks through libuv's thread pool and parsed between other events: the loop is never held for
 * more than one chunk's lines.
 */
import { createReadStream } from 'node:fs';

/** One read of a table: ~500 lines of /proc/net/tcp, parsed in well under a millisecond. */
const CHUNK_BYTES = 64 * 1024;

/** Calls `onLine` for each line of a /proc table but its header, a chunk per event-loop turn. */
export async function eachProcLine(path: string, onLine: (line: string) => void): Promise<void> {
  let rest = '';
  let header = true;
  for await (const chunk of createReadStream(path, { encoding: 'latin1', highWaterMark: CHUNK_BYTES })) {
    const lines = (rest + (chunk as string)).split('\n');
    rest = lines.pop() as string;
    for (const line of lines) {
      if (header) header = false;
      else onLine(line);
    }
  }
  if (rest !== '' && !header) onLine(rest);
}

/** A TCP port as the tables write it after an address: `:1F90`. */
export function hexPortSuffix(port: number): string {
  return `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}
