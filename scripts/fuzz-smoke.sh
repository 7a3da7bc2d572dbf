#!/bin/sh
# fuzz-smoke.sh BUILD_DIR SECONDS - run every libFuzzer target of
# tests/fuzz/fuzz_*.c, built in BUILD_DIR, for SECONDS each, from a copy of
# its seed corpus in tests/fuzz/corpus/NAME, with the libFuzzer dictionary
# tests/fuzz/dict/NAME.dict when there is one (a dictionary libFuzzer cannot
# parse fails the target).
#
# A target fails when its binary is missing (not built), when it crashes,
# finds a leak or a time-out (the input is copied to tests/fuzz/findings/),
# or when it did not run: no executions reported, or it stopped before its
# SECONDS were up. The script fails unless every target of the source tree
# ran clean, and names each one that did not.
set -u
build=${1:-build-fuzz}
seconds=${2:-10}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

targets=$(find "$top/tests/fuzz" -maxdepth 1 -name 'fuzz_*.c' | sort)
[ -n "$targets" ] || { echo "fuzz-smoke: no fuzz targets in tests/fuzz" >&2; exit 1; }
total=$(echo "$targets" | wc -l)
ran=0 failures=""

fail() { # name why
	echo "fuzz-smoke: $1: FAILED: $2" >&2
	failures="$failures $1"
}

for src in $targets; do
	name=$(basename "$src" .c)
	bin="$build/$name"
	short=${name#fuzz_}
	if [ ! -x "$bin" ]; then
		fail "$name" "not built ($bin missing; run 'make fuzz')"
		continue
	fi
	mkdir -p "$work/$short" "$work/artifacts-$short"
	[ -d "$top/tests/fuzz/corpus/$short" ] && cp -r "$top/tests/fuzz/corpus/$short/." "$work/$short/"
	log="$work/$short.log"
	dict=$top/tests/fuzz/dict/$short.dict
	[ -f "$dict" ] && dict=-dict=$dict || dict=
	if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 ${dict:+"$dict"} \
		-artifact_prefix="$work/artifacts-$short/" -print_final_stats=1 \
		"$work/$short" >"$log" 2>&1; then
		fail "$name" "crash, leak or time-out"
		grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -10 >&2
		mkdir -p "$top/tests/fuzz/findings"
		cp "$work/artifacts-$short/"* "$top/tests/fuzz/findings/" 2>/dev/null
		continue
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	# "Done 1234 runs in 2 second(s)"
	took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
	if [ -z "$runs" ] || [ "$runs" -eq 0 ]; then
		fail "$name" "did not run (no executions reported)"
		tail -5 "$log" >&2
	elif [ -z "$took" ] || [ "$took" -lt "$seconds" ]; then
		fail "$name" "stopped after ${took:-?}s of ${seconds}s ($runs runs)"
		tail -5 "$log" >&2
	else
		echo "fuzz-smoke: $name: $runs runs in ${took}s, no finding"
		ran=$((ran + 1))
	fi
done
failed=$((total - ran))
echo "fuzz-smoke: $ran of $total targets ran clean, $failed failed${failures:+:$failures}"
[ "$failed" -eq 0 ]
