#!/usr/bin/env bash
# node_sim.sh — the manager at 100, 300 and 1,000 nodes (issue 13): for each N, a fresh lab
# (`lab up --hosts 1 --clients 1`: host 1 is the manager, client 1 runs bench/node_sim with N
# simulated agents), then one table of the figures. docs/scale.md explains them.
#
# Usage (as root):
#   bench/node_sim.sh                      # N = 100 300 1000, 30 s of steady state each
#   SIM_NODES="100 300" SIM_STEADY=10 bench/node_sim.sh
#   bench/node_sim.sh --smoke              # N = 20, 2 s: proves the simulator still works (ctest)
#   SIM_FANOUT_ROUNDS=9 bench/node_sim.sh  # network creates measured (default 5; median reported)
#   OVERMESH_BUILD=build/debug bench/node_sim.sh
#
# Everything happens inside the lab's namespaces (underlay 198.18.0.0/24; the simulated
# nodes' addresses 198.19.x.y live on the client's eth0, with a route to them in the
# manager's namespace). The lab is removed after each N, also on failure or Ctrl-C.
# Exit status: 0 when every run completed (every node saw the network, every silent node
# was seen down), 1 otherwise, 2 when the setup failed. Targets are printed, not asserted.
set -euo pipefail
cd "$(dirname "$0")/.."

LAB="${SIM_LAB:-omsim}"
NODES="${SIM_NODES:-100 300 1000}"
STEADY="${SIM_STEADY:-30}"
SILENT="${SIM_SILENT:-10}"
ROUNDS="${SIM_FANOUT_ROUNDS:-5}"
RUN_DIR="${SIM_RUN_DIR:-/run/overmesh-lab}"
if [[ ${1:-} == --smoke ]]; then
  NODES=20 STEADY=2 SILENT=3 ROUNDS=2
fi

die() { echo "node_sim: setup failed: $*" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || die "run as root (the lab makes network namespaces)"

# find_binaries wants the build directory relative to the source tree (ctest passes it whole).
if [[ ${OVERMESH_BUILD:-} == /* ]]; then
  OVERMESH_BUILD=$(realpath --relative-to="$PWD" "$OVERMESH_BUILD")
  export OVERMESH_BUILD
fi
source bench/bench-helpers.sh  # find_binaries
find_binaries
SIM="$(dirname "$(dirname "$(dirname "$OM")")")/bench/node_sim"
[[ -x $SIM ]] || die "no $SIM: scripts/build.sh <preset> node_sim"

WORK=$(mktemp -d /tmp/node_sim.XXXXXX)
cleanup() { "$OM" lab down --name "$LAB" --run-dir "$RUN_DIR" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

status=0
for n in $NODES; do
  "$OM" lab down --name "$LAB" --run-dir "$RUN_DIR" >/dev/null 2>&1 || true
  "$OM" lab up --name "$LAB" --hosts 1 --clients 1 --run-dir "$RUN_DIR" >/dev/null || die "lab up"
  # Every node gets an address on the ingress network: swarm init's default /24 holds 253.
  # Replace it with a /20 (4,093 nodes), as a Docker operator would for a large swarm.
  "$OM" lab exec --name "$LAB" --run-dir "$RUN_DIR" 1 -- "$OM" network rm ingress >/dev/null \
    || die "network rm ingress"
  "$OM" lab exec --name "$LAB" --run-dir "$RUN_DIR" 1 -- "$OM" network create -d overlay \
    --ingress --subnet 10.240.0.0/20 ingress >/dev/null || die "network create --ingress"
  echo "== $n nodes"
  if ! "$OM" lab exec --name "$LAB" --run-dir "$RUN_DIR" c1 -- "$SIM" --lab "$LAB" \
      --run-dir "$RUN_DIR" --nodes "$n" --steady-seconds "$STEADY" --silent "$SILENT" --fanout-rounds "$ROUNDS" \
      | tee "$WORK/run-$n.txt"; then
    status=1
  fi
  "$OM" lab down --name "$LAB" --run-dir "$RUN_DIR" >/dev/null || die "lab down"
done

# One table from the RESULT lines.
echo
echo "(fan-out: the round with the median p99 of $ROUNDS; max: the worst of all rounds)"
printf '%6s %8s %8s %9s %8s %11s %11s %11s %12s %9s\n' nodes join_s cpu_% rss_MiB threads \
  fanout_p50 fanout_p99 fanout_max detect_max timeout
for n in $NODES; do
  line=$(grep '^RESULT ' "$WORK/run-$n.txt" || true)
  if [[ -z $line ]]; then
    printf '%6s  (no result: see the run above)\n' "$n"
    continue
  fi
  get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
  printf '%6s %8s %8s %9s %8s %9sms %9sms %9sms %10sms %7sms\n' "$(get nodes)" "$(get join_s)" \
    "$(get cpu_pct)" "$(get rss_mib)" "$(get threads)" "$(get fanout_p50_ms)" \
    "$(get fanout_p99_ms)" "$(get fanout_max_ms)" "$(get detect_max_ms)" "$(get timeout_ms)"
done
echo "targets: fan-out p99 < 100 ms, detection <= timeout + 300 ms, RSS < 200 MiB, CPU < 25 %"
exit "$status"
