#!/usr/bin/env bash
# The main job: runs the seed's scenario for a person to watch. Today: start a daemon
# in a network namespace of its own (never the machine's), `swarm init`, create the
# seed's network chaos_net (10.0.15.0/24), show that an overlapping network is refused,
# list and inspect, restart the daemon and show the network is still there.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh > /dev/null
scripts/build.sh release overmesh overmeshd > /dev/null

bin=build/release/src
work=$(mktemp -d /tmp/overmesh-demo-XXXXXX)
socket="$work/overmesh.sock"
daemon_pid=""
cleanup() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill "$daemon_pid"
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

start_daemon() {
  # unshare -n: the daemon gets a fresh network namespace holding only a loopback device.
  unshare -n "$bin/daemon/overmeshd" --socket "$socket" --state-dir "$work/state" \
    >> "$work/overmeshd.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 100); do
    "$bin/cli/overmesh" -H "unix://$socket" version > /dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "overmeshd did not start:"; cat "$work/overmeshd.log"; exit 1
}

om() {
  echo "\$ overmesh $*"
  "$bin/cli/overmesh" -H "unix://$socket" "$@"
  echo
}

start_daemon
om swarm init
om network create -d overlay --subnet=10.0.15.0/24 chaos_net
echo "# an overlapping subnet is refused:"
om network create -d overlay --subnet=10.0.15.128/25 chaos_net2 || true
om network create -d overlay backend
om network ls
om network inspect chaos_net --format json
echo "# restart the daemon: the networks are still there"
kill "$daemon_pid"; wait "$daemon_pid" || true
start_daemon
om network ls
echo "demo finished"
