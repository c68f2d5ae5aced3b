#!/usr/bin/env bash
# The bash completion of vdpa-migrate (contrib/bash-completion/vdpa-migrate)
# against two running agents: commands, subcommands, options, port names
# from the agent that --agent earlier on the line names (else $VDPA_AGENT),
# nothing (and no noise) when the agent cannot be reached.  COMP_WORDS are
# split as bash splits them, at white space and at ':' and '='.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init

agent_start a -- --port "name=p0,socket=$(agent_sock a p0)" \
	--port "name=p1,socket=$(agent_sock a p1)" --port "name=web.1,socket=$(agent_sock a web)"
agent_start b -- --port "name=b0,socket=$(agent_sock b b0)"
A=unix:$(agent_rt a)/control.sock
B=unix:$(agent_rt b)/control.sock

PATH=$VDPA_BUILD:$PATH
unset VDPA_AGENT
# shellcheck source=/dev/null
. "$REPO_DIR/contrib/bash-completion/vdpa-migrate"
[[ $(complete -p vdpa-migrate) == *"-F _vdpa_migrate"* ]] || fail "no complete -F _vdpa_migrate"

# comp LINE: the completions bash would offer at the end of LINE, sorted,
# on one line; what the completion wrote to stderr goes to TEST_DIR/comp.err.
comp() {
	local line=$1 t
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMP_WORDS=()
	set -f
	for t in $line; do
		while [[ $t =~ ^([^:=]*)([:=]+)(.*)$ ]]; do
			[ -z "${BASH_REMATCH[1]}" ] || COMP_WORDS+=("${BASH_REMATCH[1]}")
			COMP_WORDS+=("${BASH_REMATCH[2]}")
			t=${BASH_REMATCH[3]}
		done
		[ -z "$t" ] || COMP_WORDS+=("$t")
	done
	set +f
	[[ $line != *' ' ]] || COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	# As in an interactive shell: no errexit, no ERR trap (this is a subshell).
	trap - ERR
	set +eE
	_vdpa_migrate 2>>"$TEST_DIR/comp.err" || fail "_vdpa_migrate returned $?"
	[ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}" | sort | paste -sd' ' -
}
n=0
want() { # LINE EXPECTED
	local got
	got=$(comp "$1")
	[ "$got" = "$2" ] || fail "completing '$1': got '$got', expected '$2'"
	n=$((n + 1))
	log "ok: '$1' -> '$got'"
}

: >"$TEST_DIR/comp.err"
want 'vdpa-migrate ' 'dirtylog help libvirt-hook migrate port ports precheck switch version'
want 'vdpa-migrate p' 'port ports precheck'
want 'vdpa-migrate ver' 'version'
want 'vdpa-migrate -' '--agent --help -j'
want 'vdpa-migrate port ' 'add del show'
want 'vdpa-migrate port s' 'show'
want 'vdpa-migrate ports ' ''
want 'vdpa-migrate version ' ''
want 'vdpa-migrate port add ' 'name='
want 'vdpa-migrate dirtylog ' 'analyze record'
# Port names from the agent --agent names, in either spelling, with -j too.
want "vdpa-migrate --agent $A port show " 'p0 p1 web.1'
want "vdpa-migrate --agent $A port del w" 'web.1'
want "vdpa-migrate --agent=$A -j port show p" 'p0 p1'
want "vdpa-migrate -j --agent $B port del " 'b0'
want "vdpa-migrate --agent $A port show p0 " ''
want "vdpa-migrate --agent $A switch " 'p0 p1 web.1'
want "vdpa-migrate --agent $A switch p0 " '--to'
want "vdpa-migrate --agent $A switch p0 --to " 'accel sw'
want "vdpa-migrate --agent $A dirtylog record w" 'web.1'
# Global options after the command too, as vdpa-migrate takes them; a
# command's own options and the global ones after "-".
want "vdpa-migrate port show --agent $A " 'p0 p1 web.1'
want "vdpa-migrate port -j show --agent=$A w" 'web.1'
want "vdpa-migrate port show p0 --agent u" 'unix:'
want 'vdpa-migrate --' '--agent --help --json --pretty --version'
want 'vdpa-migrate port show p0 -' '--agent --help -j'
want 'vdpa-migrate dirtylog record p0 --' '--agent --help --interval --out --seconds'
want 'vdpa-migrate dirtylog analyze t.trace --p' '--plot'
want 'vdpa-migrate switch -' '--agent --help --to -j'
# $VDPA_AGENT when the line has no --agent; --agent wins over it.
export VDPA_AGENT=$A
want 'vdpa-migrate port show ' 'p0 p1 web.1'
want "vdpa-migrate --agent $B port show " 'b0'
export VDPA_AGENT=$B
want 'vdpa-migrate port del ' 'b0'
unset VDPA_AGENT
# Names follow the agent's state.
"$VMCLI" --agent "$B" port add "name=b1,socket=$(agent_sock b b1)" >/dev/null
want "vdpa-migrate --agent $B port show " 'b0 b1'
# An unreachable agent: nothing, and nothing on the terminal.
want 'vdpa-migrate --agent unix:/nonexistent/control.sock port show ' ''
[ ! -s "$TEST_DIR/comp.err" ] || fail "the completion wrote to stderr: $(cat "$TEST_DIR/comp.err")"
# The value of --agent: the scheme, then paths (bash replaces the part after
# the ':' only).
want 'vdpa-migrate --agent ' 'unix:'
want 'vdpa-migrate --agent u' 'unix:'
rt=$(agent_rt a)
want "vdpa-migrate --agent unix:$rt/con" "$rt/control.sock"
want "vdpa-migrate --agent=unix:$rt/con" "$rt/control.sock"
want "vdpa-migrate --agent unix:${rt%/*}/a." "${rt%/*}/a.rt/"
want 'vdpa-migrate --agent s' 'ssh://'
# precheck: its options (each once), agents, the --from agent's ports, backends.
want 'vdpa-migrate precheck ' '--from --port --to --to-backend'
want 'vdpa-migrate precheck --to' '--to --to-backend'
want "vdpa-migrate precheck --from $A " '--port --to --to-backend'
want "vdpa-migrate precheck --from $A --port " 'p0 p1 web.1'
want "vdpa-migrate precheck --from $B --port b" 'b0 b1'
want "vdpa-migrate precheck --from $A --port p0 --to-backend " 'accel sw'
want 'vdpa-migrate precheck --to u' 'unix:'
want "vdpa-migrate precheck --from unix:$rt/con" "$rt/control.sock"
# migrate in QMP mode (a QMP-only option on the line): its options (each
# once, OPTION=VALUE too), socket files, agents, the --from agent's ports.
q=$TEST_DIR/qmp
mkdir -p "$q/sub"
: >"$q/src.qmp"
: >"$q/dst.qmp"
want 'vdpa-migrate m' 'migrate'
want "vdpa-migrate migrate --qmp $q/s" "$q/src.qmp $q/sub/"
want "vdpa-migrate migrate --qmp=$q/s" "$q/src.qmp $q/sub/"
want "vdpa-migrate migrate --qmp $q/src.qmp --dest-qmp $q/d" "$q/dst.qmp"
want "vdpa-migrate migrate --qmp $q/src.qmp " \
	'--dest-qmp --downtime-limit --from --port --to --to-backend --to-uri -j'
want "vdpa-migrate migrate -j --qmp $q/src.qmp --dest-qmp=$q/dst.qmp --to-uri tcp:h2:4444 --" \
	'--downtime-limit --from --port --to --to-backend'
want "vdpa-migrate migrate --dest-qmp $q/dst.qmp --q" '--qmp'
want "vdpa-migrate migrate --qmp $q/src.qmp --from $A --port " 'p0 p1 web.1'
want "vdpa-migrate migrate --qmp $q/src.qmp --from=$B --port=b" 'b0 b1'
want "vdpa-migrate migrate --qmp $q/src.qmp --port p0 --to-backend " 'accel sw'
want "vdpa-migrate migrate --qmp $q/src.qmp --to-backend=a" 'accel'
want "vdpa-migrate migrate --qmp $q/src.qmp --to u" 'unix:'
want "vdpa-migrate migrate --qmp $q/src.qmp --from unix:$rt/con" "$rt/control.sock"
want "vdpa-migrate migrate --qmp $q/src.qmp --to-uri " ''
want "vdpa-migrate migrate --qmp $q/src.qmp --downtime-limit " ''
# migrate in libvirt mode (DOMAIN --to URI ...), with a virsh that lists the
# running domains of the libvirt -c names (and complains on stderr, as virsh
# does); libvirt-hook: nothing.
fake=$TEST_DIR/fakebin
mkdir -p "$fake"
cat >"$fake/virsh" <<'EOF'
#!/bin/sh
echo 'virsh: warning: this is not libvirt' >&2
[ -z "${FAKE_VIRSH_SLEEP:-}" ] || sleep "$FAKE_VIRSH_SLEEP" >/dev/null
[ "$1 $3 $4" = "-c list --name" ] || exit 1
case $2 in
qemu:///system) printf 'vm1\nvm2\nweb\n\n' ;;
*) printf 'far\n\n' ;;
esac
EOF
chmod +x "$fake/virsh"
PATH=$fake:$PATH
want 'vdpa-migrate migrate ' '--qmp vm1 vm2 web'
want 'vdpa-migrate migrate v' 'vm1 vm2'
want 'vdpa-migrate migrate -' \
	'--connect --dest-qmp --downtime-limit --dry-run --from --port --qmp --socket-dir --to --to-backend --to-uri -j'
want 'vdpa-migrate migrate vm1 ' '--connect --dry-run --socket-dir --to --to-backend'
want 'vdpa-migrate migrate vm1 w' ''
want 'vdpa-migrate migrate vm1 --to ' 'qemu+ssh://'
want 'vdpa-migrate migrate vm1 --to q' 'qemu+ssh://'
want 'vdpa-migrate migrate vm1 --to qemu+ssh:' '://'
want 'vdpa-migrate migrate vm1 --to u' ''
want 'vdpa-migrate migrate vm1 --to qemu+ssh://h2/system --to-backend ' 'accel sw'
want 'vdpa-migrate migrate vm1 --to qemu+ssh://h2/system --dry-run --to-backend sw ' '--connect --socket-dir'
want "vdpa-migrate migrate vm1 --socket-dir $q/s" "$q/sub/"
want 'vdpa-migrate migrate vm1 --connect ' ''
want 'vdpa-migrate migrate --to qemu+ssh://h2/system ' '--qmp vm1 vm2 web'
want 'vdpa-migrate migrate --dry-run ' 'vm1 vm2 web'
want 'vdpa-migrate migrate --dry-run -' '--connect --socket-dir --to --to-backend'
want 'vdpa-migrate migrate --connect qemu+ssh://h1/system ' 'far'
want 'vdpa-migrate l' 'libvirt-hook'
want 'vdpa-migrate libvirt-hook ' ''
want 'vdpa-migrate libvirt-hook vm1 migrate ' ''
# A virsh that does not answer within 2 s, and no virsh: no domains.
export FAKE_VIRSH_SLEEP=10
t0=$(lib_now_cs)
want 'vdpa-migrate migrate ' '--qmp'
[ $(($(lib_now_cs) - t0)) -lt 500 ] || fail "a silent virsh held the completion for $(($(lib_now_cs) - t0))0 ms"
unset FAKE_VIRSH_SLEEP
nov=$TEST_DIR/novirsh
mkdir -p "$nov"
for t in sort paste sed timeout; do ln -sf "$(command -v "$t")" "$nov/$t"; done
PATH=$nov want 'vdpa-migrate migrate ' '--qmp'
PATH=$nov want 'vdpa-migrate migrate v' ''
[ ! -s "$TEST_DIR/comp.err" ] || fail "the completion wrote to stderr: $(cat "$TEST_DIR/comp.err")"
log "$n completions checked"
log "PASS"
