#!/bin/sh
# test-all.sh BUILD_DIR - run the unit tests (ctest) and the integration tests
# (pytest against BUILD_DIR/postern) and print one closing summary line.
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
cd "$top" || exit 1

unit_log=$(mktemp)
(cd "$build" && ctest --output-on-failure -j "$jobs") 2>&1 | tee "$unit_log"
unit_rc=$?
u_total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$unit_log")
u_failed=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$unit_log")
rm -f "$unit_log"
[ -n "$u_total" ] || { u_total=0; u_failed=1; }

py_log=$(mktemp)
POSTERN_BIN="$top/$build/postern" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
	tests/integration bench/tests 2>&1 | tee "$py_log"
py_rc=$?
p_passed=$(grep -Eo '[0-9]+ passed' "$py_log" | tail -1 | cut -d' ' -f1)
p_failed=$(grep -Eo '[0-9]+ (failed|error)' "$py_log" | awk '{s+=$1} END {print s+0}')
p_skipped=$(grep -Eo '[0-9]+ skipped' "$py_log" | tail -1 | cut -d' ' -f1)
rm -f "$py_log"

passed=$(( u_total - u_failed + ${p_passed:-0} ))
failed=$(( u_failed + p_failed ))
[ "$py_rc" -eq 0 ] || [ "$p_failed" -gt 0 ] || failed=$((failed + 1))
echo
echo "$passed passed, $failed failed, ${p_skipped:-0} skipped"
[ "$unit_rc" -eq 0 ] && [ "$py_rc" -eq 0 ] && [ "$failed" -eq 0 ]
