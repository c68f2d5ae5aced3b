# shellcheck shell=bash
# Sourced by the test tools that fetch Debian packages (tests/qemu/
# fetch-qemu.sh, tests/debian/build-rootfs.sh): the mirror comes from the
# system's own apt sources, never from this repository.
#
# Prints "URI KEYRING" of the first source that serves SUITE with main:
# deb822 .sources files and one-line .list files both.
system_source() {
	local suite=$1 f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		awk -v s="$suite" '
			/^[ \t]*deb[ \t]/ {
				key = ""; i = 2
				if ($2 ~ /^\[/) {
					while (i <= NF && $i !~ /\]$/) { if ($i ~ /signed-by=/) key = $i; i++ }
					if ($i ~ /signed-by=/) key = $i
					i++
				}
				if ($(i + 1) == s) {
					sub(/.*signed-by=/, "", key); sub(/\]$/, "", key)
					print $i, (key == "" ? "-" : key); exit
				}
			}' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk -v s="$suite" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " s " ") && uri != "")
					{ print uri, (key == "" ? "-" : key); found = 1; exit }
				types = suites = uri = key = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			tolower($1) == "types:" { $1 = ""; types = $0 }
			tolower($1) == "uris:" { uri = $2 }
			tolower($1) == "suites:" { $1 = ""; suites = $0 }
			tolower($1) == "signed-by:" { key = $2 }
			END { if (!found) flush() }' "$f"
	done
}
