/**
 * @module io-choice
 * Which I/O an SCGI app's listener gets: the native core ('native'), node:net ('node'), or the
 * native core where it can serve and node:net otherwise ('auto', the default), with the reason
 * logged once per process.
 */
import type { Logger } from 'pino';
import { errors } from '../../shared/errors.js';
import type { ScgiLimits } from '../protocol/limits.js';
import { loadNative, type NativeBinding } from './native-binding.js';

export type IoMode = 'auto' | 'native' | 'node';
export const IO_MODES: readonly IoMode[] = ['auto', 'native', 'node'];

/** The C parser counts the header limit in 32 bits (native/src/scgi-parse.h). */
const NATIVE_MAX_HEADER_BYTES = 0xffff_ffff;

/**
 * The mode for an app that sets none: DOW_IO if set (so a whole deployment, or the test suite,
 * can take the other path without editing configs), else 'auto'.
 */
export function defaultIoMode(): IoMode {
  const value = process.env.DOW_IO;
  if (value === undefined || value === '') return 'auto';
  if (!(IO_MODES as readonly string[]).includes(value)) {
    throw new errors.DOW_ERR_CONFIG('DOW_IO', `must be one of ${IO_MODES.join(', ')}, not ${JSON.stringify(value)}`);
  }
  return value as IoMode;
}

const loggedReasons = new Set<string>();

/** The binding that can serve apps under these limits, or why none can. */
function nativeFor(limits: ScgiLimits): { binding: NativeBinding; reason?: never } | { binding: null; reason: string } {
  const load = loadNative();
  if (load.binding === null) return load;
  if (limits.maxHeaderBytes > NATIVE_MAX_HEADER_BYTES) {
    return { binding: null, reason: `limits.maxHeaderBytes ${limits.maxHeaderBytes} is above the native parser's ${NATIVE_MAX_HEADER_BYTES}` };
  }
  return { binding: load.binding };
}

export interface IoDecision {
  /** The binding to serve with, or null for node:net. */
  binding: NativeBinding | null;
  /** Why 'auto' falls back to node:net. */
  fallback?: string;
  /** Why 'native' cannot be served: a config error. */
  error?: Error;
}

/** What `app`'s listener gets under `mode`, decided without acting on it (`check` reports it). */
export function decideIo(app: string, mode: IoMode, limits: ScgiLimits): IoDecision {
  if (mode === 'node') return { binding: null };
  const { binding, reason } = nativeFor(limits);
  if (binding !== null) return { binding };
  if (mode === 'native') return { binding: null, error: new errors.DOW_ERR_CONFIG(`apps: ${app}`, `io: 'native' cannot be served: ${reason}`) };
  return { binding: null, fallback: reason };
}

/** The binding to serve `app` with, or null for node:net; throws when 'native' cannot be had. */
export function chooseIo(app: string, mode: IoMode, limits: ScgiLimits, log: Logger): NativeBinding | null {
  const { binding, fallback, error } = decideIo(app, mode, limits);
  if (error !== undefined) throw error;
  if (fallback !== undefined && !loggedReasons.has(fallback)) {
    loggedReasons.add(fallback);
    log.warn(`io 'auto' serves SCGI through node:net: ${fallback}`);
  }
  return binding;
}
