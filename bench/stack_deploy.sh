#!/usr/bin/env bash
# stack_deploy.sh — what a stack costs at deploy: the time from the command to all tasks
# running for the same BENCH_SERVICES process services (no image: `sleep 3600`, 1 replica
# each) made
#   stack    by one `stack deploy -c FILE STACK` of a generated compose file (services
#            s1..sN, no networks: they get <stack>_default)
#   by hand  the way a user would without stacks: `network create -d overlay NET`, then N ×
#            `service create -d --name … --network NET -- sleep 3600`
# measured side by side in one run (the rounds alternate which goes first), with the ratio
# stack÷by-hand, and
#   redeploy the same `stack deploy` again of the unchanged file, once the stack runs: the
#            manager finds nothing to write, so this is the command's own cost (a note on
#            stderr if it did not report every service unchanged).
#
# Usage (as root, on a Debian 12 machine with jq; scripts/setup.sh installs it):
#   bench/stack_deploy.sh                # reuse build/release or build/debug, else build release
#   OVERMESH_BUILD=build/debug bench/stack_deploy.sh
#   BENCH_LAB=stkb BENCH_ROUNDS=5 BENCH_SERVICES=20 bench/stack_deploy.sh
#
# What it does, all inside one throw-away lab (network namespaces on the underlay
# 198.18.0.0/24; the machine's own namespace is never touched):
#   1. `overmesh lab up --hosts 3`; the compose file written to a temporary directory.
#   2. BENCH_ROUNDS rounds; each deploys, in turn (odd rounds the stack first, even rounds
#      by hand first), the stack st<round> and the services hand<round>_s1..sN on the
#      network hand<round>. The clock starts before the first command and stops when `ps`
#      shows every service's replica running (polled in h1; the poll's own cost is printed
#      as the floor). After the stack runs, the unchanged file is deployed again and that
#      command alone is timed. Then everything is removed (`stack rm`, or `service rm` and
#      `network rm`) and the tasks and the network awaited (not timed).
# Printed: every round, the median per mode, stack÷by-hand, and the redeploy's median.
# Nothing is asserted: it exits non-zero only when the setup fails. The lab is removed on
# exit (also on failure or Ctrl-C).
#
# `source bench/stack_deploy.sh` defines the functions without running anything.
set -euo pipefail

LAB="${BENCH_LAB:-stkb}"
ROUNDS="${BENCH_ROUNDS:-3}"
SERVICES="${BENCH_SERVICES:-10}"
BOUND_S=180  # one deploy may take at most this long to run, one removal to finish

die() { echo "stack_deploy: setup failed: $*" >&2; exit 2; }

source "$(dirname "${BASH_SOURCE[0]}")/bench-helpers.sh"  # find_binaries

on() { "$OM" lab exec --name "$LAB" "$1" -- "${@:2}"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# How many tasks of the services named PREFIX* run (desired and observed).
running() {
  on 1 "$OM" ps --format json 2> /dev/null |
    jq --arg p "$1" '[.[] | select((.serviceName | startswith($p))
      and .desiredState == "running" and .state == "running")] | length' 2> /dev/null ||
    echo 0
}
# Whether the services named PREFIX* have tasks left at all (after their removal).
has_tasks() {
  [ "$(on 1 "$OM" ps --format json 2> /dev/null |
    jq --arg p "$1" '[.[] | select(.serviceName | startswith($p))] | length' 2> /dev/null ||
    echo 0)" -gt 0 ]
}
has_network() { on 1 "$OM" network inspect "$1" > /dev/null 2>&1; }

# wait_running PREFIX START: until SERVICES tasks of PREFIX* run; prints ms since START.
wait_running() {
  local prefix=$1 start=$2
  until [ "$(running "$prefix")" -eq "$SERVICES" ]; do
    [ $(($(now_ms) - start)) -lt $((BOUND_S * 1000)) ] ||
      die "${prefix}*: $SERVICES tasks not running after ${BOUND_S}s: $(on 1 "$OM" ps)"
    sleep 0.05
  done
  echo $(($(now_ms) - start))
}

# wait_gone PREFIX NETWORK: until PREFIX* has no tasks and NETWORK is gone (bounded).
wait_gone() {
  local deadline=$((SECONDS + BOUND_S))
  while has_tasks "$1"; do
    [ $SECONDS -lt $deadline ] || die "${1}*: tasks left after ${BOUND_S}s"
    sleep 0.2
  done
  while has_network "$2"; do
    [ $SECONDS -lt $deadline ] || die "network $2 left after ${BOUND_S}s"
    sleep 0.2
  done
}

write_compose() {  # write_compose FILE: services s1..sN, no networks
  {
    echo 'version: "3.8"'
    echo 'services:'
    for i in $(seq "$SERVICES"); do
      echo "  s$i:"
      echo '    command: ["sleep", "3600"]'
    done
  } > "$1"
}

# time_stack ROUND: "DEPLOY REDEPLOY" in ms; removes the stack after.
time_stack() {
  local stack="st$1" start ms redeploy out
  start=$(now_ms)
  on 1 "$OM" stack deploy -q -c "$COMPOSE" "$stack" > /dev/null || die "stack deploy $stack"
  ms=$(wait_running "${stack}_" "$start")
  start=$(now_ms)
  out=$(on 1 "$OM" stack deploy -c "$COMPOSE" "$stack") || die "stack redeploy $stack"
  redeploy=$(($(now_ms) - start))
  # Not asserted, only told: the redeploy should have found every service unchanged.
  [ "$(grep -c ' is unchanged$' <<< "$out")" -eq "$SERVICES" ] ||
    echo "  (round $1: the redeploy did not find all $SERVICES services unchanged: $out)" >&2
  on 1 "$OM" stack rm "$stack" > /dev/null || die "stack rm $stack"
  wait_gone "${stack}_" "${stack}_default"
  echo "$ms $redeploy"
}

# time_hand ROUND: ms from `network create` to the N services running; removes them after.
time_hand() {
  local net="hand$1" start ms i names=()
  for i in $(seq "$SERVICES"); do names+=("${net}_s$i"); done
  start=$(now_ms)
  on 1 "$OM" network create -d overlay "$net" > /dev/null || die "network create $net"
  for i in "${names[@]}"; do
    on 1 "$OM" service create -d --name "$i" --network "$net" -- sleep 3600 > /dev/null ||
      die "service create $i"
  done
  ms=$(wait_running "${net}_" "$start")
  on 1 "$OM" service rm "${names[@]}" > /dev/null || die "service rm ${net}_*"
  local deadline=$((SECONDS + BOUND_S))
  while has_tasks "${net}_"; do
    [ $SECONDS -lt $deadline ] || die "${net}_*: tasks left after ${BOUND_S}s"
    sleep 0.2
  done
  until on 1 "$OM" network rm "$net" > /dev/null 2>&1; do  # refused while still in use
    [ $SECONDS -lt $deadline ] || die "network rm $net"
    sleep 0.2
  done
  wait_gone "${net}_" "$net"
  echo "$ms"
}

median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }

setup() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (the lab makes network namespaces)"
  command -v jq > /dev/null || die "jq is missing (scripts/setup.sh installs it)"
  [[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "BENCH_ROUNDS \"$ROUNDS\": 1-99"
  [[ $SERVICES =~ ^[1-9][0-9]?$ ]] || die "BENCH_SERVICES \"$SERVICES\": 1-99"
  find_binaries
  WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/overmesh-bench-stack.XXXXXX")
  COMPOSE="$WORKDIR/stack.yml"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  write_compose "$COMPOSE"
  "$OM" lab up --hosts 3 --name "$LAB" > /dev/null || die "lab up"
}

cleanup() {
  "$OM" lab down --name "$LAB" > /dev/null 2>&1 || true
  rm -rf "$WORKDIR"
}

main() {
  cd "$(dirname "$0")/.."
  setup
  echo "lab $LAB: 3 hosts; $SERVICES process services of 1 replica each, $ROUNDS rounds"
  local floor_start
  floor_start=$(now_ms)
  for _ in 1 2 3 4 5; do running nothing > /dev/null; done
  echo "measuring floor: one poll of ps in h1 takes $((($(now_ms) - floor_start) / 5)) ms"
  echo
  printf '  %-6s %10s %10s %10s\n' round "stack" "by hand" "redeploy"
  local stack=() hand=() redeploy=() s h r
  for round in $(seq "$ROUNDS"); do
    if ((round % 2)); then
      read -r s r < <(time_stack "$round")
      h=$(time_hand "$round")
    else
      h=$(time_hand "$round")
      read -r s r < <(time_stack "$round")
    fi
    [[ -n $s && -n $r && -n $h ]] || die "round $round failed"
    stack+=("$s") hand+=("$h") redeploy+=("$r")
    printf '  %-6s %8s ms %7s ms %7s ms\n' "$round" "$s" "$h" "$r"
  done
  local ms mh mr
  ms=$(printf '%s\n' "${stack[@]}" | median)
  mh=$(printf '%s\n' "${hand[@]}" | median)
  mr=$(printf '%s\n' "${redeploy[@]}" | median)
  echo
  echo "median, first command -> $SERVICES services running:"
  printf '  stack deploy %s ms, by hand (network create + %s x service create) %s ms\n' \
    "$ms" "$SERVICES" "$mh"
  printf '  stack / by hand: %s x\n' "$(ratio "$ms" "$mh")"
  printf '  redeploy of the unchanged file (nothing written): %s ms\n' "$mr"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
