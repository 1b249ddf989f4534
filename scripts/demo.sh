#!/usr/bin/env bash
# The main job: the seed's scenario on a lab of three simulated hosts, for a person to
# watch. Every host is a network namespace on one underlay bridge (198.18.0.0/24) running
# its own overmeshd; nothing touches the machine's own network namespace, and the lab is
# removed at the end (also on failure or Ctrl-C).
#
#   1. a swarm of three nodes (`node ls`);
#   2. the seed's network: `network create -d overlay --subnet=10.0.15.0/24 chaos_net`,
#      and an overlapping subnet refused with a clear message;
#   3. one container (task) on each host, each with its 10.0.15.x address on eth0;
#   4. each reaches the others across hosts (ping and TCP), and two tasks on one host
#      both listen on port 80.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh > /dev/null
scripts/build.sh release overmesh overmeshd > /dev/null

bin="$PWD/build/release/src"
export PATH="$bin/cli:$bin/daemon:$PATH"
lab="demo$$"
lab="${lab:0:8}"
cleanup() { overmesh lab down --name "$lab" > /dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }
on() {  # on HOST overmesh ARGS...: runs a command on a lab host, showing it
  local host=$1; shift
  echo "[h$host]\$ $*"
  overmesh lab exec --name "$lab" "$host" -- "$@"
}

say "A lab of three hosts, each running overmeshd; h1 is the manager"
overmesh lab up --hosts 3 --name "$lab"
on 2 overmesh node ls

say "The seed's network, with its own subnet"
on 1 overmesh network create -d overlay --attachable --subnet=10.0.15.0/24 chaos_net
on 1 overmesh network create -d overlay --subnet=10.0.15.128/25 chaos_net2 || true
on 3 overmesh network inspect chaos_net --format json

say "One container per host on chaos_net; each listens on TCP port 80"
for h in 1 2 3; do
  on 1 overmesh run --network chaos_net --name web$h --node "$lab-h$h" -- \
    socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:'echo hello from $(hostname)'
done
on 1 overmesh run --network chaos_net --name web1b --node "$lab-h1" -- \
  socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:'echo hello from $(hostname)'
on 1 overmesh ps

say "Each container's eth0 holds its overlay address (what Dubbo would register)"
for t in web1 web2 web3; do on 1 overmesh exec "$t" -- ip -4 -br addr show eth0; done

say "Across hosts, by overlay address: ICMP and TCP"
addr() {  # the overlay address on a task's eth0
  overmesh lab exec --name "$lab" 1 -- overmesh exec "$1" -- ip -4 -o addr show eth0 |
    awk '{print $4}' | cut -d/ -f1
}
for from in web1 web2 web3; do
  for to in web1 web2 web3 web1b; do
    [ "$from" = "$to" ] && continue
    ip=$(addr "$to")
    on 1 overmesh exec "$from" -- sh -c "ping -c1 -W2 $ip > /dev/null && printf '%s -> %s (%s): ping ok, TCP: ' $from $to $ip && socat -T2 - TCP:$ip:80 </dev/null"
  done
done

say "Containers on different networks cannot reach each other"
on 1 overmesh network create -d overlay --attachable --subnet=10.0.16.0/24 other_net
on 1 overmesh run --network other_net --name stranger --node "$lab-h2" -- sleep 3600
on 1 overmesh exec stranger -- ping -c1 -W1 "$(addr web1)" || echo "stranger -> web1: unreachable, as it should be"

say "The lab is removed when the demo ends"
