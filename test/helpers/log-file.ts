/**
 * @module log-file
 * A JSON log file as a test reads it: its lines so far, and a wait for the line it expects.
 */
import { readFile } from 'node:fs/promises';
import { waitUntil } from './wait.js';

export type LogLine = Record<string, unknown>;

/** Every line so far, parsed; none while the file does not exist yet. */
export async function readLines(file: string): Promise<LogLine[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as LogLine);
}

/** The first line that matches, once there is one; a failure shows the whole file. */
export async function waitForLine(file: string, match: (line: LogLine) => boolean): Promise<LogLine> {
  return waitUntil(`the line in ${file}`, async () => (await readLines(file)).find(match)).catch(async (err: Error) => {
    throw new Error(`${err.message}:\n${await readFile(file, 'utf8').catch(() => '(no file)')}`);
  });
}
