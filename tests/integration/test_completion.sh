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
want 'vdpa-migrate ' 'dirtylog help port ports precheck switch version'
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
log "$n completions checked"
log "PASS"
