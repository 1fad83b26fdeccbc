#!/usr/bin/env bash
# `npm run test:io-paths`: the integration tests (real sockets, real processes) twice more than
# `npm test` runs them:
#   1. on node:net (DOW_IO=node), the reference path, since `npm test` takes the native core
#      where it built (io 'auto');
#   2. on an AddressSanitizer + UndefinedBehaviorSanitizer build of the native core, which any
#      memory error or undefined behaviour aborts (the run then fails).
# The end-to-end tests (real nginx, lighttpd, Apache) run natively in `npm test` and on node:net in
# the Node 22 run of `npm run test:node-lines`. The unit tests touch no socket and run once (the
# fuzz tests build their own sanitized binaries with clang, whose ASan runtime cannot share a
# process with gcc's).
set -euo pipefail
cd "$(dirname "$0")/.."

run() { node --import tsx --test --test-concurrency=2 --test-timeout=300000 "$@"; }

echo "=== node:net path (DOW_IO=node)"
DOW_IO=node run test/integration/*.test.ts

work=$(mktemp -d "${TMPDIR:-/tmp}/dow-asan.XXXXXX")
# Readable by all, as a checkout is: some tests run the server as nobody, which loads this build.
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
echo "=== native path under AddressSanitizer and UBSan"
npm run --silent build:native -- --asan "$work"
# ASan's runtime must come first in the process: Node itself is not instrumented. Leaks are not
# checked (Node does not free everything at exit); every other error aborts the process.
# DOW_TEST_SANITIZED: the one test bound by timing rather than by order skips itself (see
# test/integration/workers-stop.test.ts).
DOW_IO=native \
DOW_TEST_SANITIZED=1 \
DOW_NATIVE_ADDON="$work/build/Release/dow_native.node" \
LD_PRELOAD="$(gcc -print-file-name=libasan.so)" \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  run test/integration/*.test.ts
