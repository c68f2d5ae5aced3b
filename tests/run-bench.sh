#!/usr/bin/env bash
# make bench: runs each benchmark program, then every executable
# tests/bench/bench_*.sh script (with the build dir as $1); every line they
# print that is a JSON object is one result and is collected in
# BUILD/bench/results.jsonl.  Benchmarks report, they never judge: a
# script fails only when it could not measure.
set -u
build=$1; shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$build/bench/results.jsonl
mkdir -p "$build/bench"
: >"$out"
rc=0
for b in "$@"; do
	echo "bench: $(basename "$b")" >&2
	"$b" | tee -a "$out.raw" | grep '^{' >>"$out" || rc=1
done
for s in "$here"/bench/bench_*.sh; do
	[ -f "$s" ] && [ -x "$s" ] || continue
	echo "bench: $(basename "$s")" >&2
	# The script's own status counts, not grep's: a script may report
	# nothing (a skip) and succeed.
	"$s" "$build" </dev/null | tee -a "$out.raw" | { grep '^{' || true; } >>"$out"
	st=${PIPESTATUS[0]}
	if [ "$st" -ne 0 ]; then
		echo "bench: $(basename "$s") failed (exit $st)" >&2
		rc=1
	fi
done
rm -f "$out.raw"
echo "bench: $(wc -l <"$out") results in $out" >&2
exit $rc
