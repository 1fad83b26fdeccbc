#!/usr/bin/env bash
# `npm run test:asan`: the tests that drive the native core, on an AddressSanitizer +
# UndefinedBehaviorSanitizer build of it, which any memory error or undefined behaviour aborts (the
# run then fails). Which tests those are: scripts/test-files.sh asan (the fewest that run every
# line and branch of the core that any integration or end-to-end test runs, measured by
# scripts/test-coverage.mjs native).
# `npm test` runs the whole suite on the core's plain build (io 'auto'), and the Node 22 line of
# `npm run test:node-lines` on node:net (DOW_IO=node), the reference path.
#
# ASan's runtime is gcc's, preloaded into Node, which is not instrumented; every process the tests
# start inherits it. Programs that are not Node (the front ends, cc) are started without it
# (test/helpers/sanitizer-env.ts).
#
# `bash scripts/test-asan.sh [test files...]` runs only those files.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -eq 0 ]; then mapfile -t files < <(bash scripts/test-files.sh asan); set -- "${files[@]}"; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/dow-asan.XXXXXX")
# Readable by all, as a checkout is: some tests run the server as nobody, which loads this build.
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
npm run --silent build:native -- --asan "$work"
# Leaks are not checked (Node does not free everything at exit); every other error aborts the
# process. DOW_TEST_SANITIZED: the addon's own tests build their fault-injecting addon sanitized
# too, and the fuzz runs skip themselves. Every process is several times slower under ASan:
# DOW_TEST_SLOWDOWN stretches the tests' deadlines (test/helpers/wait.ts).
DOW_IO=native \
DOW_TEST_SANITIZED=1 \
DOW_TEST_SLOWDOWN="${DOW_TEST_SLOWDOWN:-3}" \
DOW_NATIVE_ADDON="$work/build/Release/dow_native.node" \
LD_PRELOAD="$(gcc -print-file-name=libasan.so)" \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  node --import tsx --test --test-concurrency=2 --test-timeout=300000 "$@"
