#!/bin/sh
# fuzz-smoke.sh BUILD_DIR SECONDS - run every libFuzzer target in BUILD_DIR
# for SECONDS each, from a copy of its seed corpus in tests/fuzz/corpus/NAME.
# Fails when a target crashes, finds a leak or timeout, or did not run at all.
set -u
build=${1:-build-fuzz}
seconds=${2:-10}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

targets=$(find "$top/tests/fuzz" -maxdepth 1 -name 'fuzz_*.c' | sort)
[ -n "$targets" ] || { echo "fuzz-smoke: no fuzz targets" >&2; exit 1; }
failed=0 ran=0
for src in $targets; do
	name=$(basename "$src" .c)
	bin="$build/$name"
	short=${name#fuzz_}
	if [ ! -x "$bin" ]; then
		echo "fuzz-smoke: $name: not built" >&2
		failed=$((failed + 1))
		continue
	fi
	mkdir -p "$work/$short" "$work/artifacts-$short"
	[ -d "$top/tests/fuzz/corpus/$short" ] && cp -r "$top/tests/fuzz/corpus/$short/." "$work/$short/"
	log="$work/$short.log"
	if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$work/artifacts-$short/" -print_final_stats=1 \
		"$work/$short" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		if [ -z "$runs" ] || [ "$runs" -eq 0 ]; then
			echo "fuzz-smoke: $name: did not run" >&2
			tail -5 "$log" >&2
			failed=$((failed + 1))
		else
			echo "fuzz-smoke: $name: $runs runs in ${seconds}s, no finding"
			ran=$((ran + 1))
		fi
	else
		echo "fuzz-smoke: $name: FINDING" >&2
		grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -10 >&2
		mkdir -p "$top/tests/fuzz/findings"
		cp "$work/artifacts-$short/"* "$top/tests/fuzz/findings/" 2>/dev/null
		failed=$((failed + 1))
	fi
done
echo "fuzz-smoke: $ran targets ran clean, $failed failed"
[ "$failed" -eq 0 ]
