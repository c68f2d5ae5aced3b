#!/usr/bin/env bash
# The folders' include rules (docs/architecture.md): a folder includes only
# from itself and the folders below it, and no two .c files include each
# other's headers.  Prints every breach; exits 1 if there is one.
#
#   tests/check-layers.sh            (from the repository's top)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

# folder: the folders it may include from (besides itself)
declare -A may=(
	[protocol]=""
	[dirtylog]=""
	[agent/common]=""
	[agent/datapath]="agent/common"
	[agent/daemon]="agent/common agent/datapath protocol dirtylog"
	[agent/cli]="agent/common protocol dirtylog"
	[contrib/vdpa-simd]="agent/common agent/datapath protocol dirtylog"
)
bad=0 n=0
for dir in "${!may[@]}"; do
	for f in "$dir"/*.[ch]; do
		[ -e "$f" ] || continue
		n=$((n + 1))
		while IFS= read -r inc; do
			incdir=${inc%/*}
			[ "$incdir" = "$dir" ] && continue
			case " ${may[$dir]} " in *" $incdir "*) continue ;; esac
			echo "check-layers: $f includes $inc: $dir may include only from ${may[$dir]:-itself}"
			bad=1
		done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
	done
done
# No pair of files that include each other's headers.
for dir in "${!may[@]}"; do
	for f in "$dir"/*.c; do
		[ -e "$f" ] || continue
		self=${f%.c}.h
		while IFS= read -r inc; do
			other=${inc%.h}.c
			[ "$inc" != "$self" ] && [ -e "$other" ] || continue
			if grep -q "^#include \"$self\"" "$other"; then
				[[ "$f" < "$other" ]] &&
					echo "check-layers: $f and $other include each other's headers" && bad=1
			fi
		done < <(sed -n 's/^#include "\([^"]*\.h\)".*/\1/p' "$f")
	done
done
[ $bad = 0 ] && echo "include rules: $n files checked"
exit $bad
