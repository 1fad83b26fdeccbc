/**
 * @module native-parse-cli
 * Runs one SCGI input through the C parser (native/test/parse-cli.c, compiled here with `cc`) and
 * through the TypeScript reference, both giving the same JSON shape, for the differential tests;
 * and the fuzzer's input layout (native/fuzz/scgi-parse-fuzz.c) so corpus files decode here too.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DragonError } from '../../shared/errors.js';
import { ScgiParser } from '../../server/protocol/scgi-parser.js';
import type { ScgiLimits } from '../../server/protocol/limits.js';
import { withoutSanitizer } from './sanitizer-env.js';

export const NATIVE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'native');

export type ParserLimits = Pick<ScgiLimits, 'maxHeaderBytes' | 'maxBodyBytes'>;

/** The fuzzer's four limit profiles, by the index in its first byte's low bits. */
export const FUZZ_LIMITS: readonly ParserLimits[] = [
  { maxHeaderBytes: 65536, maxBodyBytes: 16 * 1024 * 1024 },
  { maxHeaderBytes: 256, maxBodyBytes: 5 },
  { maxHeaderBytes: 1000, maxBodyBytes: 1000 },
  { maxHeaderBytes: 4294967295, maxBodyBytes: Number.MAX_SAFE_INTEGER },
];

export interface FuzzProfile {
  limits: 0 | 1 | 2 | 3;
  /** Where the second run splits the payload (modulo its length + 1). */
  split: number;
  /** Bytes per call in the third run, 1 to 16. */
  step?: number;
  preallocate?: boolean;
}

/** byte 0: limits | preallocate << 2 | (step - 1) << 4; bytes 1-2: split, big-endian; payload. */
export function encodeFuzzInput(profile: FuzzProfile, wire: Buffer): Buffer {
  const step = Math.min(16, Math.max(1, profile.step ?? 1));
  const head = Buffer.from([profile.limits | (profile.preallocate ? 4 : 0) | ((step - 1) << 4), (profile.split >> 8) & 0xff, profile.split & 0xff]);
  return Buffer.concat([head, wire]);
}

export function decodeFuzzInput(data: Buffer): { limits: ParserLimits; split: number; step: number; wire: Buffer } | null {
  if (data.length < 3) return null;
  const mode = data[0] as number;
  const wire = data.subarray(3);
  return {
    limits: FUZZ_LIMITS[mode & 3] as ParserLimits,
    split: (((data[1] as number) << 8) | (data[2] as number)) % (wire.length + 1),
    step: (mode >> 4) + 1,
    wire,
  };
}

export type ParseResult =
  | { error: string }
  | { headers: false }
  | { env: Record<string, string>; contentLength: number; bodyOffset: number; body: string; done: boolean };

function chunksOf(wire: Buffer, cuts: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let last = 0;
  for (const cut of cuts) {
    const at = Math.min(wire.length, Math.max(last, cut));
    chunks.push(wire.subarray(last, at));
    last = at;
  }
  chunks.push(wire.subarray(last));
  return chunks;
}

/** The reference: server/protocol/scgi-parser.ts, fed the same chunks. */
export function parseWithTs(wire: Buffer, limits: ParserLimits, cuts: readonly number[] = []): ParseResult {
  let env: Record<string, string> | null = null;
  let contentLength = 0;
  let done = false;
  const body: Buffer[] = [];
  const parser = new ScgiParser(
    {
      onHeaders(headers, length) {
        // A plain object, as JSON.parse gives for the C side (the parser's env has no prototype).
        env = Object.fromEntries(Object.entries(headers));
        contentLength = length;
      },
      onBody(chunk) {
        body.push(Buffer.from(chunk));
      },
      onBodyEnd() {
        done = true;
      },
    },
    limits,
  );
  try {
    for (const chunk of chunksOf(wire, cuts)) parser.execute(chunk);
  } catch (err) {
    if (err instanceof DragonError) return { error: err.code };
    throw err;
  }
  if (env === null) return { headers: false };
  // The netstring ends at its digits, ":", the block and ",": all valid once headers were given.
  const colon = wire.indexOf(0x3a);
  const bodyOffset = colon + 1 + Number(wire.toString('latin1', 0, colon)) + 1;
  return { env, contentLength, bodyOffset, body: Buffer.concat(body).toString('hex'), done };
}

/** Compiles the CLI into `dir` with the system compiler, warnings as errors. */
export function buildParseCli(dir: string): string {
  const out = join(dir, 'parse-cli');
  execFileSync('cc', ['-std=c99', '-O1', '-Wall', '-Wextra', '-Wpedantic', '-Wconversion', '-Werror', '-o', out,
    join(NATIVE_DIR, 'src', 'scgi-parse.c'), join(NATIVE_DIR, 'test', 'parse-cli.c')], { stdio: 'pipe', env: withoutSanitizer() });
  return out;
}

export function parseWithC(cli: string, wire: Buffer, limits: ParserLimits, cuts: readonly number[] = [], workspace: 'lazy' | 'full' = 'lazy'): ParseResult {
  const args = ['--max-header-bytes', String(limits.maxHeaderBytes), '--max-body-bytes', String(limits.maxBodyBytes), '--workspace', workspace];
  if (cuts.length > 0) args.push('--split', cuts.join(','));
  const run = spawnSync(cli, args, { input: wire, encoding: 'latin1', env: withoutSanitizer() });
  if (run.status !== 0) throw new Error(`parse-cli exited with ${run.status ?? run.signal}: ${run.stderr}`);
  return JSON.parse(run.stdout) as ParseResult;
}

/** Debian's clang, if installed, with libFuzzer (package libclang-rt-14-dev on bookworm). */
export function findClang(): string | null {
  const probe = spawnSync('clang', ['--version'], { encoding: 'utf8', env: withoutSanitizer() });
  return probe.status === 0 ? 'clang' : null;
}

/** The libFuzzer targets: their C sources (under native/), seed corpus and dictionary. */
export const FUZZ_TARGETS = {
  'scgi-parse': { sources: ['src/scgi-parse.c', 'fuzz/scgi-parse-fuzz.c'], corpus: 'fuzz/corpus', dict: 'fuzz/scgi.dict' },
  conn: { sources: ['src/scgi-parse.c', 'src/head-reader.c', 'src/write-queue.c', 'src/id-table.c', 'fuzz/conn-fuzz.c'], corpus: 'fuzz/conn-corpus', dict: 'fuzz/scgi.dict' },
  machine: {
    sources: ['src/scgi-parse.c', 'src/head-reader.c', 'src/write-queue.c', 'src/id-table.c', 'src/conn-machine.c', 'fuzz/machine-fuzz.c'],
    corpus: 'fuzz/machine-corpus',
    dict: 'fuzz/scgi.dict',
  },
} as const;
export type FuzzTarget = keyof typeof FUZZ_TARGETS;

/** A fuzzer, as scripts/fuzz.sh builds it. */
export function buildFuzzer(out: string, target: FuzzTarget = 'scgi-parse'): void {
  execFileSync('clang', ['-g', '-O1', '-fsanitize=fuzzer,address,undefined', '-fno-sanitize-recover=all', '-std=gnu11',
    '-o', out, ...FUZZ_TARGETS[target].sources.map((source) => join(NATIVE_DIR, source))], { stdio: 'pipe', env: withoutSanitizer() });
}
