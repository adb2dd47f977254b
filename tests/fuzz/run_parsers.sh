#!/usr/bin/env bash
# Coverage-guided fuzzing of the user-space parsers: every libFuzzer
# harness build/fuzz/fuzz_* (tests/fuzz/fuzz_*.c, clang with ASan and
# UBSan) for FUZZ_TIME seconds each (default 5: the short run of make
# test; make fuzz sets 300), from the seeds in tests/fuzz/corpus/NAME.
# Prints one PASS/FAIL line per harness with its executions; a crash,
# hang (-timeout), leak or sanitizer report is a FAIL and leaves the input
# in build/fuzz-artifacts/.  Installed as build/tests/test_fuzz_parsers so
# that tests/run.sh runs it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
case $here in
  */tests/fuzz) ROOT=$(cd "$here/../.." && pwd); BUILD=$ROOT/build ;;
  # installed as $BUILD/tests/test_fuzz_parsers, whatever BUILD's name
  *) ROOT=$(cd "$here/../.." && pwd); BUILD=$(cd "$here/.." && pwd)
     [ -d "$ROOT/tests/fuzz" ] || ROOT=$PWD ;;
esac
FUZZ_TIME=${FUZZ_TIME:-5}
ART=$BUILD/fuzz-artifacts
mkdir -p "$ART"
shopt -s nullglob
bins=("$BUILD"/fuzz/fuzz_*)
if [ ${#bins[@]} -eq 0 ]; then
  echo "FAIL fuzz_parsers: no harness in $BUILD/fuzz (make fuzz-build)"
  exit 1
fi
rc=0 total=0
for bin in "${bins[@]}"; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  seeds=$ROOT/tests/fuzz/corpus/$name
  work=$(mktemp -d "/tmp/xlb-fuzz-$name.XXXXXX")
  log=$work/log
  args=(-max_total_time="$FUZZ_TIME" -timeout=10 -rss_limit_mb=2048
        -max_len=4096 -print_final_stats=1 -artifact_prefix="$ART/$name-")
  [ -f "$ROOT/tests/fuzz/$name.dict" ] && args+=(-dict="$ROOT/tests/fuzz/$name.dict")
  [ -d "$seeds" ] && args+=("$work" "$seeds") || args+=("$work")
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    timeout -k 5 $((FUZZ_TIME + 120)) "$bin" "${args[@]}" >"$log" 2>&1
  st=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  execs=${execs:-0}
  total=$((total + execs))
  if [ $st -eq 0 ] && ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
    echo "PASS fuzz_$name: $execs executions in ${FUZZ_TIME}s, ${cov:-cov: ?}, no crash, hang, leak or sanitizer report"
  else
    echo "FAIL fuzz_$name: exit $st after $execs executions (artifacts in $ART)"
    grep -E 'ERROR|runtime error|property failed|SUMMARY|Test unit written' "$log" | head -20
    rc=1
  fi
  rm -rf "$work"
done
echo "fuzz_parsers: $total executions in total"
exit $rc
