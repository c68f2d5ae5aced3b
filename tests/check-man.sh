#!/usr/bin/env bash
# Renders every man page with groff's warnings on; any warning fails.
set -u
dir=${1:-man}
rc=0; n=0
for m in "$dir"/*.[0-9]; do
	[ -e "$m" ] || continue
	n=$((n + 1))
	w=$(LC_ALL=C groff -ww -z -man "$m" 2>&1)
	if [ -n "$w" ]; then
		printf 'man: %s:\n%s\n' "$m" "$w"; rc=1
	fi
done
echo "man pages: $n checked"
exit $rc
