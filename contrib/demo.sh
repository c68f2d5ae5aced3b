#!/usr/bin/env bash
# make demo: the main job of vdpa-migrate on this machine, with nothing but
# the repository.  It grows with the project; today it builds everything and
# runs the agent's host self-check and a configuration check.
set -euo pipefail
build=${1:-build}
rt=$(mktemp -d /tmp/vdpa-demo.XXXXXX)
trap 'rm -rf "$rt"' EXIT

echo "== vdpa-agentd --self-check"
"$build/vdpa-agentd" --self-check --runtime-dir "$rt"

echo "== vdpa-agentd --check-config with two ports"
"$build/vdpa-agentd" --check-config --runtime-dir "$rt" \
	--port "name=vm1-net0,socket=$rt/vm1-net0.sock,endpoint=loop,queues=2" \
	--port "name=vm2-net0,socket=$rt/vm2-net0.sock,endpoint=null,mtu=9000"
