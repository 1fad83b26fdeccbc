#!/usr/bin/env bash
# `bash scripts/test-files.sh asan|asan-candidates|node-lines`: the test files that stage of CI
# runs, one a line. `npm test` runs every file. node-lines and asan-candidates are whole folders
# less a list of kinds, each with its reason, that tell the stage nothing its kept tests do not, so
# that a new test file is in them unless it is of a kind listed here. asan is the fewest of the
# candidates that run every line and branch of the native core they all run, as measured
# (scripts/test-coverage.mjs).
set -euo pipefail
shopt -s extglob
cd "$(dirname "$0")/.."

case "${1:-}" in
  asan)
    # The sanitizers report only on code that runs, and most candidates run the same lines of the
    # native core as others: the HTTP listeners' and WebSockets' tests only its row ring, the
    # reloads, stops and scaling the same serving paths again. `node scripts/test-coverage.mjs native`
    # ran each candidate alone on a gcov build (2026-12-07): the 46 ran 1,688 lines and branches
    # of native/src in 1,274 s; these 11 run all of them in 266 s. Run it again when native/src
    # changes or a test reaches a part of it that none of these does, and keep this list to what
    # it prints.
    files=(
      test/e2e/nginx-scgi-params.test.ts test/unit/row-ring.test.ts
      test/integration/native-io.test.ts test/integration/native-io-random.test.ts
      test/e2e/nginx-unread-body.test.ts test/e2e/nginx-repeated-headers.test.ts
      test/e2e/nginx-workers.test.ts test/integration/runtime-protocol.test.ts
      test/integration/runtime-limits.test.ts test/integration/worker-faults.test.ts
      test/e2e/matrix.test.ts
      # What that count cannot see: the addon's own tests build their own fault-injecting addon
      # (sanitized under DOW_TEST_SANITIZED), and the server at its descriptor limit (accept
      # failing with EMFILE) is SIGKILLed at the test's end, which writes no gcov counts.
      test/integration/native-addon.test.ts test/integration/descriptor-limit.test.ts
    )
    skip=()
    ;;
  asan-candidates)
    # What the AddressSanitizer run chooses from (see asan): what reaches the native core
    # (native/), which Node loads when an SCGI app is served. The integration and end-to-end
    # tests, where apps serve traffic in-process, in worker processes and behind nginx, lighttpd
    # and Apache (upgrades, stops, reloads), and the unit tests that load the addon themselves
    # (they import server/native/).
    files=(test/integration/*.test.ts test/e2e/*.test.ts)
    while IFS= read -r file; do files+=("$file"); done < <(grep -l "server/native/" test/unit/*.test.ts)
    skip=(
      # npm pack and npm install: they build and load their own (plain) addon, not the sanitized one.
      'test/e2e/npm-*'
      # The front ends' harness: a minimal node:net SCGI server and an echo backend, not this one.
      'test/e2e/frontends-harness.test.ts'
      # Configuration refused or checked before anything binds: nothing is served.
      'test/integration/config-*' 'test/integration/cli-check.test.ts'
      'test/integration/first-run-config.test.ts'
      # The dashboard's and the metrics port's own listeners (node:http, not the native core),
      # behind nginx and scraped by Prometheus too.
      'test/*/*dashboard*' 'test/integration/metrics-*' 'test/e2e/prometheus.test.ts'
      # Subjects beside the request's path, whose apps serve a few plain requests that the tests
      # kept here serve too: the timing store (SQLite), the command line (arguments, signals,
      # exit codes), the apps' environment, log files and speed, the adaptive limit's decisions,
      # the operator's log lines, limits kept across restarts, systemd's notify and reload
      # protocols, file ownership and users, the docs' walkthroughs.
      'test/integration/store-*' 'test/integration/runtime-store.test.ts'
      'test/integration/route-api.test.ts'
      'test/integration/cli-*' 'test/integration/cli.test.ts' 'test/integration/demo-app.test.ts'
      'test/integration/app-*' 'test/integration/adaptive-*' 'test/integration/operator-*'
      'test/integration/persist-limits.test.ts'
      'test/integration/systemd-notify.test.ts' 'test/integration/systemd-reload.test.ts'
      'test/integration/deploy-units.test.ts'
      'test/integration/drop-privileges.test.ts' 'test/integration/socket-owner.test.ts'
      'test/e2e/nginx-socket-group.test.ts'
      'test/e2e/readme-quickstart.test.ts' 'test/e2e/from-pm2-doc.test.ts'
      'test/e2e/frameworks-doc-examples.test.ts'
    )
    # Not in the set at all: test/browser (the dashboard in Chromium, which runs without the
    # sanitizer), the other unit tests (pure TypeScript), and the libFuzzer runs
    # (test/unit/native-parser-fuzz.test.ts), which are sanitized by clang already.
    ;;
  node-lines|node-lines-candidates)
    # The other Node lines are for what differs between them: node:http internals the adapters
    # touch, IPC and worker processes, better-sqlite3's build, the addon's ABI, npm installing the
    # package (test/e2e/npm-*), Node's internal listen handles (test/unit/listen-handle-internals).
    # Not cut further as asan is: `node scripts/test-coverage.mjs node` (2026-12-07) found that
    # reaching every block of Node's own modules that these 114 files reach takes 69 of them,
    # 1,882 of their 2,318 s, so the list stays whole (node-lines-candidates is the same list).
    files=(test/unit/*.test.ts test/integration/*.test.ts test/e2e/*.test.ts)
    skip=(
      # The dashboard's UI in Chromium: the page, not the Node line, is what they check.
      'test/browser/*'
      # The front ends (nginx, lighttpd, Apache) and Prometheus end to end: what they send and
      # expect is the same on every line, and the server side they reach is the one the
      # integration tests drive over the same sockets on each line.
      'test/e2e/!(npm-*)'
      # TypeScript alone, on no Node surface that differs: configuration checked or refused
      # before anything binds, the adaptive limit's decisions, the operator's log wording.
      'test/integration/config-*' 'test/integration/cli-check.test.ts'
      'test/integration/first-run-config.test.ts'
      'test/integration/adaptive-*' 'test/integration/operator-*'
      'test/integration/deploy-units.test.ts' 'test/integration/demo-app.test.ts'
      # The command line's own options, config reloads and exit codes, the apps' environment and
      # log files, and features kept in the timing store: TypeScript over the same process, socket
      # and SQLite calls that the tests of the workers, listeners and store make on each line.
      # The CLI itself runs on each line in test/e2e/npm-consumer (npx serve, SIGTERM), and its
      # signal paths through npm's own signal handling in cli-parent-watch and cli-second-signal.
      'test/integration/cli.test.ts' 'test/integration/cli-!(parent-watch|second-signal).test.ts'
      'test/integration/app-environment.test.ts' 'test/integration/app-log-files.test.ts'
      'test/integration/persist-limits.test.ts' 'test/integration/route-api.test.ts'
      # The C parser against the TypeScript one, compiled with cc: no Node in between.
      'test/unit/native-parser*'
    )
    ;;
  *)
    echo "usage: test-files.sh asan|asan-candidates|node-lines" >&2
    exit 2
    ;;
esac

for file in "${files[@]}"; do
  for pattern in ${skip[@]+"${skip[@]}"}; do
    # shellcheck disable=SC2053 # the pattern is a glob on purpose
    [[ "$file" == $pattern ]] && continue 2
  done
  echo "$file"
done
