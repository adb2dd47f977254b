#!/usr/bin/env bash
# Test runner: runs unit test binaries (build/tests/test_*) and end-to-end
# scripts (tests/e2e/test_*.sh).  Each prints one line per case:
#   PASS <name> | FAIL <name> [reason] | SKIP <name> [reason]
# and whatever logs it wants on other lines.  This script counts the
# PASS/FAIL/SKIP lines and ends with "N passed, N failed, N skipped".
# BUILD: the build directory to test (default build; make passes its own,
# so `make BUILD=build-c19 CLANG=clang-19 unit` tests that build).
set -u
cd "$(dirname "$0")/.."
what=${1:-all}
build=${BUILD:-build}
case $build in /*) ;; *) build=$PWD/$build ;; esac
# the e2e scripts' binaries (tests/e2e/lib.sh), unless already set
export XLB=${XLB:-$build/xlb} XDP_PASS_OBJ=${XDP_PASS_OBJ:-$build/xdp_pass.bpf.o}
export FLOOD=${FLOOD:-$build/tools/flood}
passed=0 failed=0 skipped=0
failed_names=()

run_one() {
  local name=$1; shift
  local log rc
  log=$(mktemp)
  echo "== $name"
  "$@" >"$log" 2>&1
  rc=$?
  local p f s
  p=$(grep -c '^PASS ' "$log")
  f=$(grep -c '^FAIL ' "$log")
  s=$(grep -c '^SKIP ' "$log")
  grep -E '^(PASS|FAIL|SKIP) ' "$log"
  if [ "$f" -gt 0 ] || [ "$rc" -ne 0 ]; then
    echo "---- log of $name (exit $rc) ----"
    tail -n 200 "$log"
    echo "---- end of $name ----"
    if [ "$f" -eq 0 ]; then f=1; echo "FAIL $name (exit $rc with no FAIL line)"; fi
    failed_names+=("$name")
  fi
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  rm -f "$log"
}

if [ "$what" = unit ] || [ "$what" = all ]; then
  for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "unit/$(basename "$t")" "$t"
  done
fi
if [ "$what" = e2e ] || [ "$what" = all ]; then
  for t in tests/e2e/test_*.sh; do
    [ -f "$t" ] || continue
    run_one "e2e/$(basename "$t" .sh)" timeout 600 bash "$t"
  done
fi
echo
[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
