#!/bin/sh
# fuzz-long.sh BUILD_DIR SECONDS [TARGET...] - the long fuzz runs: each
# libFuzzer target (all of tests/fuzz/fuzz_*.c when none is named) is run,
# niced, until it has had SECONDS of CPU time in all (every run recorded in
# results.tsv counts, so a later call goes on where one stopped), from a
# corpus kept between runs in $FUZZ_LONG_DIR/corpus/NAME (default
# var/fuzz-long; seeded from tests/fuzz/corpus/NAME), with the libFuzzer
# dictionary tests/fuzz/dict/NAME.dict when there is one.
#
# CPU time, not wall-clock time, is what counts: a niced fuzzer on a busy
# machine gets less CPU than its wall-clock time, so a target is run again
# for what it still lacks.
# The binaries are copied first, so a rebuild during the run changes nothing.
# One line per run is appended to $FUZZ_LONG_DIR/results.tsv:
#   date  target  cpu-seconds  executions  corpus-size  result
# where result is "clean", "interrupted" (SIGINT to the fuzzer: its CPU
# seconds count) or "FINDING <file>" (the input is kept in
# $FUZZ_LONG_DIR/findings/). scripts/fuzz-hours.sh sums the file up.
# Exits non-zero when any target found something or did not run.
#
# fuzz-long.sh pause | resume | stop - for every running fuzz-long.sh:
#   pause   stop the scripts (SIGSTOP) and end their fuzzers' runs (SIGINT),
#           e.g. for a benchmark; never SIGSTOP a fuzzer itself: its
#           -timeout watchdog counts wall-clock time and reports a false
#           time-out when it is continued;
#   resume  continue the scripts: each runs its target again for the CPU
#           time it still lacks;
#   stop    end the runs for good (recorded), the scripts exit.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${FUZZ_LONG_DIR:-$top/var/fuzz-long}
scripts() { pgrep -f "fuzz-long.sh [^ ]+ [0-9]+" | grep -vx "$$"; }
fuzzers() { pgrep -f "^$dir/bin/fuzz_"; }
case ${1:-} in
pause)
	for p in $(scripts); do kill -STOP "$p"; done
	for p in $(fuzzers); do kill -INT "$p"; done
	while [ -n "$(fuzzers)" ]; do sleep 0.2; done
	exit 0 ;;
resume)
	for p in $(scripts); do kill -CONT "$p"; done
	exit 0 ;;
stop)
	touch "$dir/stop"
	for p in $(scripts); do kill -CONT "$p"; done
	for p in $(fuzzers); do kill -INT "$p"; done
	exit 0 ;;
esac
build=${1:?usage: fuzz-long.sh BUILD_DIR SECONDS [TARGET...]}
seconds=${2:?usage: fuzz-long.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
rm -f "$dir/stop"
mkdir -p "$dir/corpus" "$dir/findings" "$dir/bin" "$dir/logs"
[ -x /usr/bin/time ] || { echo "fuzz-long: /usr/bin/time is needed (apt-get install time)" >&2; exit 1; }

if [ $# -eq 0 ]; then
	set -- $(find "$top/tests/fuzz" -maxdepth 1 -name 'fuzz_*.c' -exec basename {} .c \; | sort)
fi

# run NAME SECONDS: one run of at most SECONDS (wall clock); sets cpu, result
run() {
	name=$1 short=${1#fuzz_}
	corpus="$dir/corpus/$short"
	log="$dir/logs/$short.log"
	dict=$top/tests/fuzz/dict/$short.dict
	[ -f "$dict" ] && dict=-dict=$dict || dict=
	nice -n 19 /usr/bin/time -f '%U %S' -o "$dir/logs/$short.time" \
		"$dir/bin/$name" -max_total_time="$2" -timeout=10 -rss_limit_mb=2048 ${dict:+"$dict"} \
		-artifact_prefix="$dir/findings/$short-" -print_final_stats=1 \
		-interrupted_exitcode=72 "$corpus" >"$log" 2>&1
	rc=$?
	# "Command exited with non-zero status N" may come first
	cpu=$(awk 'NF == 2 { printf "%d", $1 + $2 + 0.5 }' "$dir/logs/$short.time")
	cpu=${cpu:-0}
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	size=$(find "$corpus" -type f | wc -l)
	if [ $rc -eq 72 ]; then # -interrupted_exitcode: SIGINT
		result=interrupted
	elif [ $rc -ne 0 ]; then
		file=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
		result="FINDING ${file:-see $log}"
	elif [ -z "$runs" ] || [ "$runs" -eq 0 ]; then
		result="DID-NOT-RUN"
	else
		result=clean
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$name" \
		"$cpu" "${runs:-0}" "$size" "$result" >>"$dir/results.tsv"
	echo "fuzz-long: $name: ${cpu} CPU s, ${runs:-0} runs, corpus $size, $result"
}

status=0
for name in "$@"; do
	name=fuzz_${name#fuzz_}
	short=${name#fuzz_}
	if [ ! -x "$build/$name" ]; then
		echo "fuzz-long: $name: not built in $build" >&2
		status=1
		continue
	fi
	cp "$build/$name" "$dir/bin/$name.new" && mv "$dir/bin/$name.new" "$dir/bin/$name"
	if [ ! -d "$dir/corpus/$short" ]; then
		mkdir -p "$dir/corpus/$short"
		[ -d "$top/tests/fuzz/corpus/$short" ] &&
			cp -r "$top/tests/fuzz/corpus/$short/." "$dir/corpus/$short/"
	fi
	total=$(awk -F'\t' -v t="$name" '$2 == t { s += $3 } END { print s + 0 }' \
		"$dir/results.tsv" 2>/dev/null || echo 0)
	while [ "$total" -lt "$seconds" ]; do
		run "$name" $((seconds - total))
		total=$((total + cpu))
		[ -e "$dir/stop" ] && exit $status
		case $result in
		clean) [ "$cpu" -gt 0 ] || { status=1; break; } ;;
		interrupted) ;; # paused: again for what is left
		*) status=1; break ;;
		esac
	done
done
exit $status
