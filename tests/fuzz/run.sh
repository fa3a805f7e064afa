#!/usr/bin/env bash
# Fuzzes one target for real with clang-14's libFuzzer:
#
#   tests/fuzz/run.sh NAME SECONDS [libFuzzer option…]
#
# Builds build-fuzz/ (clang-14, -Dfuzzing=true, -fsanitize=fuzzer,address,
# undefined) and runs tests/fuzz/fuzz-NAME for SECONDS, starting from the
# committed seeds in tests/fuzz/corpus/NAME/.  What it keeps:
#   build-fuzz/corpus/NAME/    the working corpus (kept between runs)
#   tests/fuzz/corpus/NAME/    gains the new inputs that add coverage (merged
#                              at the end: review and commit them)
#   tests/fuzz/crashes/NAME/   crash-*, timeout-*, oom-*, leak-* inputs (fix the
#                              bug, move the input into corpus/NAME/, commit both)
# Prints the number of executions.  Exits non-zero when something was found.
set -euo pipefail

cd "$(dirname "$0")/../.."

if [ $# -lt 2 ]; then
  echo "usage: tests/fuzz/run.sh NAME SECONDS [libFuzzer option…]" >&2
  echo "targets: $(cd tests/fuzz && ls fuzz-*.c | sed 's/^fuzz-//; s/\.c$//' | tr '\n' ' ')" >&2
  exit 2
fi
name=$1
seconds=$2
shift 2

seeds=tests/fuzz/corpus/$name
if [ ! -f "tests/fuzz/fuzz-$name.c" ] || [ ! -d "$seeds" ]; then
  echo "run.sh: no target '$name' (tests/fuzz/fuzz-$name.c and $seeds/)" >&2
  exit 2
fi
command -v clang-14 >/dev/null || { echo "run.sh: clang-14 is missing: scripts/setup.sh installs it" >&2; exit 1; }

build=build-fuzz
if [ ! -f "$build/build.ninja" ]; then
  CC=clang-14 meson setup "$build" --buildtype=debugoptimized -Dfuzzing=true \
    -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
ninja -C "$build" --quiet "tests/fuzz/fuzz-$name"

work=$build/corpus/$name
crashes=tests/fuzz/crashes/$name
log=$build/fuzz-$name.log
mkdir -p "$work" "$crashes"
dict=()
[ -f "tests/fuzz/$name.dict" ] && dict=("-dict=tests/fuzz/$name.dict")

export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export G_DEBUG=fatal-criticals G_SLICE=always-malloc

set +e
"$build/tests/fuzz/fuzz-$name" -max_total_time="$seconds" -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" \
  "${dict[@]}" "$@" "$work" "$seeds" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
before=$(find "$seeds" -type f | wc -l)
# Keep in the committed corpus only what adds coverage to it.
"$build/tests/fuzz/fuzz-$name" -merge=1 "$seeds" "$work" >"$build/merge-$name.log" 2>&1 || true
after=$(find "$seeds" -type f | wc -l)

echo
echo "fuzz-$name: ${execs:-?} executions in ${seconds} s; $((after - before)) new inputs in $seeds/"
found=$(find "$crashes" -type f | wc -l)
if [ "$status" -ne 0 ] || [ "$found" -gt 0 ]; then
  echo "fuzz-$name: found something (exit $status); inputs in $crashes/:"
  find "$crashes" -type f | sed 's/^/  /'
  echo "reproduce one with: $build/tests/fuzz/fuzz-$name FILE"
  exit 1
fi
rmdir "$crashes" 2>/dev/null || true
echo "fuzz-$name: nothing found"
