#!/bin/sh
# fuzz-hours.sh [RESULTS.tsv] - sum up the long fuzz runs recorded by
# scripts/fuzz-long.sh: per target, the hours fuzzed, executions, runs with
# a finding, and the last corpus size; a markdown table for docs/security.md.
# Hours are CPU hours (fuzz-long.sh records CPU seconds).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
results=${1:-${FUZZ_LONG_DIR:-$top/var/fuzz-long}/results.tsv}
[ -r "$results" ] || { echo "fuzz-hours: no $results" >&2; exit 1; }
echo "| target | hours | executions | findings | corpus |"
echo "|---|---:|---:|---:|---:|"
awk -F'\t' '
	# executions with %.0f: the %d of mawk stops at 2^31 - 1
	{ secs[$2] += $3; runs[$2] += $4; corpus[$2] = $5
	  if ($6 ~ /^FINDING/ || $6 ~ /^DID-NOT/) bad[$2]++ }
	END {
		for (t in secs)
			printf "| `%s` | %.2f | %.0f | %d | %d |\n", t, secs[t] / 3600, runs[t], bad[t], corpus[t]
	}' "$results" | sort
