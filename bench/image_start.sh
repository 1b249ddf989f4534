#!/usr/bin/env bash
# image_start.sh — what running a task from an OCI image costs at start: the time from
# `service create` returning to all replicas running, for the same service as
#   process  a process task (the command runs on the node's own filesystem: no image)
#   warm     an image task whose image every node already has
#   cold     an image task whose image no node has: every node pulls it from the lab registry
# measured side by side in one run (the rounds alternate the three), with the ratios to the
# process task and the start overhead of an image container.
#
# Usage (as root, on a Debian 12 machine with podman, skopeo, docker-registry, busybox-static
# and jq; scripts/setup.sh installs them):
#   bench/image_start.sh                 # reuse build/release or build/debug, else build release
#   OVERMESH_BUILD=build/debug bench/image_start.sh
#   BENCH_LAB=imgb BENCH_ROUNDS=5 BENCH_REPLICAS=3 bench/image_start.sh
#
# What it does, all inside one throw-away lab (network namespaces on the underlay
# 198.18.0.0/24; the machine's own namespace and podman storage are never touched: each
# node's podman keeps its store under the node's state directory):
#   1. `overmesh lab up --hosts 3 --clients 1`; the test image built offline
#      (scripts/test-image.sh) and served by a registry in c1 on 198.18.0.101:5000
#      (scripts/lab-registry.sh); `swarm update --insecure-registry 198.18.0.101:5000`.
#   2. A warm-up service of the image on every node (not timed): from then on every node
#      has web:1.
#   3. BENCH_ROUNDS rounds; each creates, in turn, a process service, a warm image service
#      and a cold image service (an image of its own, whose layer no node has, pushed just
#      before under a new repository), BENCH_REPLICAS replicas each (spread over the 3 hosts), all running
#      `sleep 3600` so that only the start differs. The clock starts before `service create
#      -d` and stops when `ps` shows every replica running (polled in h1; the poll's own
#      cost is printed as the floor); then the service is removed and its tasks awaited
#      (not timed).
# Printed: every round, the median per mode, warm÷process and cold÷process, and the
# overhead per image container: (warm − process) ÷ the replicas a host starts, since the
# hosts start theirs in parallel; the pull on top of that: cold − warm.
# Nothing is asserted: it exits non-zero only when the setup fails. The lab is removed on
# exit (also on failure or Ctrl-C).
#
# `source bench/image_start.sh` defines the functions without running anything.
set -euo pipefail

LAB="${BENCH_LAB:-imgb}"
ROUNDS="${BENCH_ROUNDS:-3}"
REPLICAS="${BENCH_REPLICAS:-3}"
REGISTRY=198.18.0.101:5000
BOUND_S=180  # one service's start may take at most this long

die() { echo "image_start: setup failed: $*" >&2; exit 2; }

source "$(dirname "${BASH_SOURCE[0]}")/bench-helpers.sh"  # find_binaries

on() { "$OM" lab exec --name "$LAB" "$1" -- "${@:2}"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# How many replicas of SERVICE run (desired and observed).
running() {
  on 1 "$OM" ps --format json 2> /dev/null |
    jq --arg s "$1" '[.[] | select(.serviceName == $s and .desiredState == "running"
      and .state == "running")] | length' 2> /dev/null || echo 0
}
# Whether SERVICE has tasks left at all (after service rm).
has_tasks() {
  [ "$(on 1 "$OM" ps --format json 2> /dev/null |
    jq --arg s "$1" '[.[] | select(.serviceName == $s)] | length' 2> /dev/null || echo 0)" -gt 0 ]
}

# time_start NAME FLAGS...: ms from `service create -d` to REPLICAS running; removes it after.
time_start() {
  local name=$1 start end
  shift
  start=$(now_ms)
  on 1 "$OM" service create -d --name "$name" --replicas "$REPLICAS" --network bench \
    --restart-delay 1s "$@" -- sleep 3600 > /dev/null || die "service create $name"
  until [ "$(running "$name")" -eq "$REPLICAS" ]; do
    [ $(($(now_ms) - start)) -lt $((BOUND_S * 1000)) ] ||
      die "$name: $REPLICAS replicas not running after ${BOUND_S}s: $(on 1 "$OM" service ps --no-trunc "$name")"
    sleep 0.05
  done
  end=$(now_ms)
  on 1 "$OM" service rm "$name" > /dev/null || die "service rm $name"
  local deadline=$((SECONDS + 60))
  while has_tasks "$name" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  echo $((end - start))
}

median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }

setup() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (the lab makes network namespaces)"
  for tool in podman skopeo docker-registry jq; do
    command -v "$tool" > /dev/null || die "$tool is missing (scripts/setup.sh installs it)"
  done
  [[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "BENCH_ROUNDS \"$ROUNDS\": 1-99"
  [[ $REPLICAS =~ ^[1-9][0-9]?$ ]] || die "BENCH_REPLICAS \"$REPLICAS\": 1-99"
  find_binaries
  IMAGES=$(mktemp -d "${TMPDIR:-/tmp}/overmesh-bench-images.XXXXXX")
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  "$OM" lab up --hosts 3 --clients 1 --name "$LAB" > /dev/null || die "lab up"
  # Version 1 for the warm services; one more per round for the cold ones: each version is
  # a layer of its own (its files differ), so a cold pull really transfers and unpacks one.
  # shellcheck disable=SC2046
  scripts/test-image.sh "$IMAGES" 1 $(seq 101 $((100 + ROUNDS))) > /dev/null || die "test image"
  scripts/lab-registry.sh start "$LAB" > /dev/null || die "registry"
  scripts/lab-registry.sh push "$LAB" "$IMAGES/web-1.tar" web:1 > /dev/null || die "push web:1"
  on 1 "$OM" swarm update --insecure-registry "$REGISTRY" > /dev/null || die "swarm update"
  on 1 "$OM" network create --attachable --subnet 10.0.50.0/24 bench > /dev/null ||
    die "network create"
}

cleanup() {
  "$OM" lab down --name "$LAB" > /dev/null 2>&1 || true
  rm -rf "$IMAGES"
}

main() {
  cd "$(dirname "$0")/.."
  setup
  echo "lab $LAB: 3 hosts, registry on $REGISTRY (c1); $REPLICAS replicas per service, $ROUNDS rounds"
  # Every node gets web:1 (a global service would do too; 3 replicas spread over 3 hosts).
  local warmup_replicas=$REPLICAS
  REPLICAS=3
  time_start warmup --image "$REGISTRY/web:1" > /dev/null
  REPLICAS=$warmup_replicas

  local floor_start
  floor_start=$(now_ms)
  for _ in 1 2 3 4 5; do running nothing > /dev/null; done
  echo "measuring floor: one poll of ps in h1 takes $((($(now_ms) - floor_start) / 5)) ms"
  echo
  printf '  %-6s %10s %10s %10s\n' round "process" "warm" "cold"
  local process=() warm=() cold=() p w c
  for round in $(seq "$ROUNDS"); do
    scripts/lab-registry.sh push "$LAB" "$IMAGES/web-$((100 + round)).tar" "cold$round/web:1" \
      > /dev/null ||
      die "push cold$round/web:1"
    p=$(time_start "proc$round")
    w=$(time_start "warm$round" --image "$REGISTRY/web:1")
    c=$(time_start "cold$round" --image "$REGISTRY/cold$round/web:1")
    process+=("$p") warm+=("$w") cold+=("$c")
    printf '  %-6s %8s ms %7s ms %7s ms\n' "$round" "$p" "$w" "$c"
  done
  local mp mw mc per_host
  mp=$(printf '%s\n' "${process[@]}" | median)
  mw=$(printf '%s\n' "${warm[@]}" | median)
  mc=$(printf '%s\n' "${cold[@]}" | median)
  per_host=$(((REPLICAS + 2) / 3))
  echo
  echo "median, create -> $REPLICAS replicas running:"
  printf '  process %s ms, image present %s ms, cold pull %s ms\n' "$mp" "$mw" "$mc"
  printf '  image present / process: %s x, cold pull / process: %s x\n' \
    "$(ratio "$mw" "$mp")" "$(ratio "$mc" "$mp")"
  printf '  start overhead per image container: %s ms ((warm - process) / %s replicas per host)\n' \
    "$(awk -v w="$mw" -v p="$mp" -v n="$per_host" 'BEGIN {printf "%.0f", (w - p) / n}')" "$per_host"
  printf '  the pull on top (2 MB image, registry in the lab): %s ms per service\n' \
    "$(awk -v c="$mc" -v w="$mw" 'BEGIN {printf "%.0f", c - w}')"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
