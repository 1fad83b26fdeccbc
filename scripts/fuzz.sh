#!/usr/bin/env bash
# `bash scripts/fuzz.sh [seconds] [target]` (default 600, scgi-parse): builds a libFuzzer target of
# the native core under ASan and UBSan with Debian's clang and runs it over its seed corpus, one
# job, new corpus entries in a temporary directory (the committed seeds stay as they are). Prints
# the run's figures; a crash leaves its input in the temporary directory and exits non-zero.
#   scgi-parse  the SCGI parser (native/fuzz/scgi-parse-fuzz.c)
#   conn        a connection's head reader, write queue and id table (native/fuzz/conn-fuzz.c)
#   machine     the connection state machine with a scripted socket, loop and JavaScript
#               (native/fuzz/machine-fuzz.c)
# Needs: apt-get install clang libclang-rt-14-dev (libFuzzer for clang 14, Debian 12).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
target=${2:-scgi-parse}
case "$target" in
  scgi-parse) sources=(native/src/scgi-parse.c native/fuzz/scgi-parse-fuzz.c); seeds=native/fuzz/corpus ;;
  conn) sources=(native/src/scgi-parse.c native/src/head-reader.c native/src/write-queue.c native/src/id-table.c native/fuzz/conn-fuzz.c); seeds=native/fuzz/conn-corpus ;;
  machine) sources=(native/src/scgi-parse.c native/src/head-reader.c native/src/write-queue.c native/src/id-table.c native/src/conn-machine.c native/fuzz/machine-fuzz.c); seeds=native/fuzz/machine-corpus ;;
  *) echo "fuzz.sh: unknown target $target (scgi-parse, conn or machine)" >&2; exit 2 ;;
esac

command -v clang >/dev/null 2>&1 || { echo "fuzz.sh: clang is missing (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/dow-fuzz.XXXXXX")
echo "fuzz.sh: working in $work (kept: new corpus entries and any crash input)"
mkdir -p "$work/corpus"

clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -std=gnu11 \
  -o "$work/fuzzer" "${sources[@]}"

# -jobs=1 runs one fuzzing process and writes its log to fuzz-0.log in the current directory.
# The first corpus directory receives new entries; native/fuzz/corpus is only read.
# -use_value_profile=1: at -O1 some short-circuit tests become branch-free compares, which add
# no edge; comparison operands as features still steer the fuzzer to them (SCGI's value "1").
status=0
(cd "$work" && ./fuzzer -jobs=1 -workers=1 -max_total_time="$seconds" -print_final_stats=1 -use_value_profile=1 \
  -dict="$OLDPWD/native/fuzz/scgi.dict" -artifact_prefix="$work/" -timeout=10 -rss_limit_mb=2048 \
  corpus "$OLDPWD/$seeds" >/dev/null 2>&1) || status=$?
log="$work/fuzz-0.log"

last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
echo "fuzz.sh: last status line: $last"
grep -E '^stat::' "$log" || true
execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
per_second=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}')
cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")
ft=$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$last")
corpus=$(sed -nE 's/.*corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$last")
crashes=$(find "$work" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'leak-*' -o -maxdepth 1 -name 'timeout-*' -o -maxdepth 1 -name 'oom-*' | wc -l)
echo "fuzz.sh: $target, ${seconds} s, ${execs:-?} execs (${per_second:-?}/s), cov ${cov:-?}, ft ${ft:-?}, corpus ${corpus:-?}, crashes ${crashes}"
if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
  echo "fuzz.sh: the fuzzer stopped with status $status; inputs and log in $work" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
