#!/bin/sh
# test-all.sh BUILD_DIR [FUZZ_BUILD_DIR] - run the unit tests (ctest), the
# integration tests (pytest against BUILD_DIR/postern) and, given a fuzz
# build, the fuzz smoke run (every libFuzzer target for FUZZ_SECONDS, default
# 2, each: scripts/fuzz-smoke.sh), and print one closing summary line.
set -u
build=${1:-build}
fuzz_build=${2:-}
top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
cd "$top" || exit 1

rc_file=$(mktemp)
# "cmd | tee" gives tee's status: each command writes its own to rc_file.
unit_log=$(mktemp)
{ (cd "$build" && ctest --output-on-failure -j "$jobs"); echo $? >"$rc_file"; } 2>&1 | tee "$unit_log"
unit_rc=$(cat "$rc_file")
u_total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$unit_log")
u_failed=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$unit_log")
rm -f "$unit_log"
[ -n "$u_total" ] || { u_total=0; u_failed=1; }

py_log=$(mktemp)
{
	POSTERN_BIN="$top/$build/postern" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
		tests/integration bench/tests
	echo $? >"$rc_file"
} 2>&1 | tee "$py_log"
py_rc=$(cat "$rc_file")
rm -f "$rc_file"
p_passed=$(grep -Eo '[0-9]+ passed' "$py_log" | tail -1 | cut -d' ' -f1)
p_failed=$(grep -Eo '[0-9]+ (failed|error)' "$py_log" | awk '{s+=$1} END {print s+0}')
p_skipped=$(grep -Eo '[0-9]+ skipped' "$py_log" | tail -1 | cut -d' ' -f1)
rm -f "$py_log"

# Each fuzz target counts as one test.
f_passed=0 f_failed=0
if [ -n "$fuzz_build" ]; then
	fuzz_log=$(mktemp)
	scripts/fuzz-smoke.sh "$fuzz_build" "${FUZZ_SECONDS:-2}" 2>&1 | tee "$fuzz_log"
	f_passed=$(sed -n 's/^fuzz-smoke: \([0-9]*\) of [0-9]* targets ran clean.*/\1/p' "$fuzz_log")
	f_failed=$(sed -n 's/^fuzz-smoke: [0-9]* of [0-9]* targets ran clean, \([0-9]*\) failed.*/\1/p' "$fuzz_log")
	rm -f "$fuzz_log"
	# No summary line: the smoke run itself broke.
	[ -n "$f_failed" ] || { f_passed=0; f_failed=1; }
fi

passed=$(( u_total - u_failed + ${p_passed:-0} + f_passed ))
failed=$(( u_failed + p_failed + f_failed ))
[ "$py_rc" -eq 0 ] || [ "$p_failed" -gt 0 ] || failed=$((failed + 1))
echo
echo "$passed passed, $failed failed, ${p_skipped:-0} skipped"
[ "$unit_rc" -eq 0 ] && [ "$py_rc" -eq 0 ] && [ "$failed" -eq 0 ]
