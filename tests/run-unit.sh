#!/usr/bin/env bash
# Runs each CMocka unit-test program, prints a one-line verdict per program
# and a total; exits non-zero if any program failed.  A program that hangs
# fails after UNIT_TIMEOUT seconds (120) instead of holding the suite.
set -u
limit=${UNIT_TIMEOUT:-120}
fail=0; total=0; failed=()
for t in "$@"; do
	out=$(timeout -k 5 "$limit" "$t" 2>&1); rc=$?
	[ $rc -eq 124 ] && out+=$'\n'"hung: killed after ${limit} s"
	n=$(printf '%s\n' "$out" | sed -n 's/^\[==========\] \([0-9]*\) test(s) run\./\1/p' | tail -n1)
	total=$((total + ${n:-0}))
	if [ $rc -ne 0 ]; then
		printf '%s\n' "$out"
		printf '  FAIL    %s\n' "$(basename "$t")"
		fail=1; failed+=("$(basename "$t")")
	else
		printf '  PASS    %s (%s tests)\n' "$(basename "$t")" "${n:-?}"
	fi
done
echo "unit tests: $total run, ${#failed[@]} program(s) failed ${failed[*]}"
exit $fail
