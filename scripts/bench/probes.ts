/**
 * @module probes
 * Reads figures out of a running backend without touching its code: the stats port's
 * `SCGI_SERVER_key='value'` lines, and the event-loop delay the preload appends on SIGUSR2.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const STATS_TIMEOUT_MS = 3_000;

/** `SCGI_SERVER_store_rows='123'` -> Map { 'store_rows' => '123' } (values are single-quoted). */
export function parseStatsText(text: string): Map<string, string> {
  const figures = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^SCGI_SERVER_([A-Za-z0-9_]+)='(.*)'$/.exec(line);
    if (match) figures.set(match[1] as string, (match[2] as string).replaceAll(`'"'"'`, "'"));
  }
  return figures;
}

export function readStatsPort(port: number): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setTimeout(STATS_TIMEOUT_MS, () => socket.destroy(new Error(`stats port ${port}: no answer in ${STATS_TIMEOUT_MS} ms`)));
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    socket.on('error', reject);
    socket.on('close', () => resolve(parseStatsText(text)));
  });
}

export interface LoopFigures {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

/**
 * Asks the preload for the figures since the previous call (SIGUSR2) and waits for its line.
 * The first call of a run only resets the histogram; its line is discarded by the caller.
 */
export async function takeLoopFigures(pid: number, file: string, timeoutMs = 2_000): Promise<LoopFigures | null> {
  const before = readLines(file).length;
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const lines = readLines(file);
    if (lines.length > before) return JSON.parse(lines[lines.length - 1] as string) as LoopFigures;
    await sleep(10);
  }
  return null;
}

function readLines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter((line) => line.length > 0);
}
