#!/usr/bin/env bash
# make fuzz: runs every libFuzzer target for SECONDS with its seed corpus
# (tests/fuzz/corpus/NAME, copied so that new inputs stay in the build tree).
set -u
secs=$1; build=$2; shift 2
rc=0
for f in "$@"; do
	name=$(basename "$f")
	corpus=$build/fuzz/corpus/$name
	mkdir -p "$corpus" "$build/fuzz/artifacts/$name"
	[ -d "tests/fuzz/corpus/$name" ] && cp -n tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null
	echo "fuzz: $name for ${secs}s"
	if ! "$f" -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix="$build/fuzz/artifacts/$name/" "$corpus" \
		>"$build/fuzz/$name.log" 2>&1; then
		echo "fuzz: $name FOUND A PROBLEM; see $build/fuzz/$name.log and $build/fuzz/artifacts/$name/"
		tail -n 40 "$build/fuzz/$name.log"
		rc=1
	else
		grep -E 'stat::number_of_executed_units|stat::new_units_added' "$build/fuzz/$name.log" | sed 's/^/    /'
	fi
done
exit $rc
