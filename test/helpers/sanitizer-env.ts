/**
 * @module sanitizer-env
 * `npm run test:asan` runs the suite once with AddressSanitizer's runtime preloaded into every
 * process (LD_PRELOAD), for the sanitized build of the native core that Node loads. Programs that
 * are not Node do not load that core and get the environment without it: Chromium hangs at start
 * under a preloaded ASan, and the clang-built fuzzers carry an ASan runtime of their own, which
 * cannot share a process with gcc's.
 */
const SANITIZER_VARIABLES = ['LD_PRELOAD', 'ASAN_OPTIONS', 'UBSAN_OPTIONS'];

/** `env` (this process's by default) without the sanitizer's preload and options. */
export function withoutSanitizer(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !SANITIZER_VARIABLES.includes(name)) out[name] = value;
  }
  return out;
}
