#!/usr/bin/env bash
# make bench: runs each benchmark program; every line it prints that is a
# JSON object is one result and is collected in BUILD/bench/results.jsonl.
set -u
build=$1; shift
out=$build/bench/results.jsonl
: >"$out"
rc=0
for b in "$@"; do
	echo "bench: $(basename "$b")" >&2
	"$b" | tee -a "$out.raw" | grep '^{' >>"$out" || rc=1
done
rm -f "$out.raw"
echo "bench: $(wc -l <"$out") results in $out" >&2
exit $rc
