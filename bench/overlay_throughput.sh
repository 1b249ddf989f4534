#!/usr/bin/env bash
# overlay_throughput.sh — overlay vs underlay TCP throughput, and run-to-reachable time.
#
# Usage (as root, on a Debian 12 machine with iperf3, iputils-ping and jq):
#   bench/overlay_throughput.sh                 # reuse build/release or build/debug, else build release
#   OVERMESH_BUILD=build/debug bench/overlay_throughput.sh
#   BENCH_LAB=tput BENCH_SECONDS=5 BENCH_ROUNDS=3 BENCH_TRIES=10 bench/overlay_throughput.sh
#
# What it does, all inside one throw-away lab (network namespaces; underlay 198.18.0.0/24,
# overlay chaos_net 10.0.15.0/24); the machine's own namespace is never touched:
#   1. `overmesh lab up --hosts 3`, then `network create -d overlay --attachable chaos_net`.
#   2. Throughput, BENCH_ROUNDS times, alternating underlay / overlay, BENCH_SECONDS each:
#      underlay: iperf3 -s -1 in host 2's namespace, iperf3 -c 198.18.0.2 -J in host 1's;
#      overlay:  iperf3 -s as a task on h2, `overmesh exec` of iperf3 -c <its overlay IP>
#                inside a task on h1.
#      Prints each run in Gbit/s (receiver side), the overlay/underlay ratio, and medians.
#   3. Reachability, BENCH_TRIES times: `overmesh run` (without -d, so it returns once the
#      task runs) of a new task on h2; from the moment it returns, tasks already running on
#      h1 and h3 ping it (ping -c1 -W1 in a loop) until it answers. The time to the last
#      host's first answer is "reachable from all hosts". The ping loops are started (via
#      `overmesh exec`) before `run` and wait for the address in a file; the time still
#      includes one `ps` to learn the address, so it is an upper bound; the script prints
#      that floor (the same steps for a task that is already reachable).
# It never asserts a speed: it exits non-zero only when the setup fails. The lab is always
# removed on exit (trap), also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

LAB="${BENCH_LAB:-tput}"
SECS="${BENCH_SECONDS:-5}"
ROUNDS="${BENCH_ROUNDS:-3}"
TRIES="${BENCH_TRIES:-10}"
NET=chaos_net

die() { echo "overlay_throughput: setup failed: $*" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || die "run as root (the lab makes network namespaces)"
for t in iperf3 jq ping; do command -v "$t" >/dev/null || die "$t is not installed"; done

# --- binaries: reuse a build if there is one, else build the release preset ---------------
BUILD="${OVERMESH_BUILD:-}"
if [[ -z $BUILD ]]; then
  for b in build/release build/debug; do
    [[ -x $b/src/cli/overmesh && -x $b/src/daemon/overmeshd ]] && { BUILD=$b; break; }
  done
fi
if [[ -z $BUILD ]]; then
  scripts/build.sh release overmesh overmeshd >/dev/null || die "build failed"
  BUILD=build/release
fi
OM="$PWD/$BUILD/src/cli/overmesh"
[[ -x $OM && -x $PWD/$BUILD/src/daemon/overmeshd ]] || die "no binaries in $BUILD"
export OVERMESHD="$PWD/$BUILD/src/daemon/overmeshd"
echo "binaries: $BUILD"

# --- lab -------------------------------------------------------------------------------------
cleanup() { "$OM" lab down --name "$LAB" >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup   # a lab of this name left over by a crashed run
"$OM" lab up --hosts 3 --name "$LAB" >/dev/null || die "lab up"
on() { local h=$1; shift; "$OM" lab exec --name "$LAB" "$h" -- "$@"; }   # run in host h
om() { local h=$1; shift; on "$h" "$OM" "$@"; }                          # CLI on host h
on 1 true || die "lab exec"

# Every cluster write runs on the manager (h1): workers refuse writes (issue 12).
om 1 network create -d overlay --attachable --subnet 10.0.15.0/24 "$NET" >/dev/null \
  || die "network create"
task_ip() {  # overlay address of a task, without the prefix length
  om "$1" ps --format json | jq -r --arg n "$2" \
    '.[] | select(.name == $n) | .attachments[0].address | split("/")[0]'
}
om 1 run -d --network "$NET" --name srv --node "$LAB-h2" -- iperf3 -s >/dev/null || die "run srv"
om 1 run --network "$NET" --name cli --node "$LAB-h1" -- sleep infinity >/dev/null || die "run cli"
om 1 run --network "$NET" --name pin3 --node "$LAB-h3" -- sleep infinity >/dev/null || die "run pin3"
SRV_IP=$(task_ip 1 srv)
[[ $SRV_IP =~ ^10\.0\.15\. ]] || die "no overlay address for srv ($SRV_IP)"
# The overlay path must work before measuring it (iperf3 -s may need a moment to listen).
for _ in $(seq 50); do
  om 1 exec cli -- ping -c1 -W1 -q "$SRV_IP" >/dev/null 2>&1 && break; sleep 0.1
done || true
om 1 exec cli -- ping -c1 -W1 -q "$SRV_IP" >/dev/null 2>&1 || die "overlay: cli cannot reach srv"

# --- throughput ------------------------------------------------------------------------------
gbit() { jq -r '.end.sum_received.bits_per_second / 1e9' 2>/dev/null; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan";
  else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2}'; }
underlay_once() {
  on 2 iperf3 -s -1 -D >/dev/null || return 1
  local out
  for _ in $(seq 20); do  # until the one-off server listens
    out=$(on 1 iperf3 -c 198.18.0.2 -t "$SECS" -J 2>/dev/null) && { gbit <<<"$out"; return; }
    sleep 0.1
  done
  return 1
}
overlay_once() {
  local out
  for _ in $(seq 20); do
    out=$(om 1 exec cli -- iperf3 -c "$SRV_IP" -t "$SECS" -J 2>/dev/null) && { gbit <<<"$out"; return; }
    sleep 0.2
  done
  return 1
}
echo
echo "TCP throughput, $SECS s each, receiver side (Gbit/s):"
printf '  %-6s %10s %10s %8s\n' round underlay overlay ratio
U=() O=() R=()
for r in $(seq "$ROUNDS"); do
  u=$(underlay_once) || die "underlay iperf3 failed"
  o=$(overlay_once) || die "overlay iperf3 failed"
  ratio=$(awk -v o="$o" -v u="$u" 'BEGIN {printf "%.3f", (u > 0 ? o / u : 0)}')
  U+=("$u") O+=("$o") R+=("$ratio")
  printf '  %-6s %10.2f %10.2f %8s\n' "$r" "$u" "$o" "$ratio"
done
mu=$(printf '%s\n' "${U[@]}" | median)
mo=$(printf '%s\n' "${O[@]}" | median)
mr=$(printf '%s\n' "${R[@]}" | median)
printf '  %-6s %10.2f %10.2f %8.3f\n' median "$mu" "$mo" "$mr"

# --- run → reachable from all hosts ----------------------------------------------------------
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# Runs in a task's namespaces, started before `run`: read the target address from a FIFO
# (blocking, so it costs no CPU while the lookup runs), ping it until it answers, print the
# time (ms). Starting it early keeps the `exec` round trip out of the measurement; what
# remains is one `ps` to learn the address.
PING_LOOP=': >"$1.ready"; ip=$(cat "$1")
until ping -c1 -W1 -q "$ip" >/dev/null 2>&1; do :; done; echo $(( $(date +%s%N) / 1000000 ))'
WORK=$(mktemp -d /tmp/overlay_throughput.XXXXXX)
trap 'cleanup; rm -rf "$WORK"' EXIT
pinger() {  # host task file → background job printing the time of the first answer
  timeout 30 "$OM" lab exec --name "$LAB" "$1" -- "$OM" exec "$2" -- sh -c "$PING_LOOP" _ "$3"
}
reach_once() {  # name [existing] → prints "d1 d3" (ms from `run` returning to the first answer)
  local name=$1 f=$WORK/$1.ip
  mkfifo "$f.1" "$f.3"
  pinger 1 cli "$f.1" >"$WORK/$name.h1" & local p1=$!
  pinger 3 pin3 "$f.3" >"$WORK/$name.h3" & local p3=$!
  local n=0   # until both ping loops are waiting for the address
  until [[ -e $f.1.ready && -e $f.3.ready ]]; do
    (( ++n < 2000 )) || die "ping loops did not start"; sleep 0.005
  done
  if [[ ${2:-} != existing ]]; then
    om 1 run --network "$NET" --name "$name" --node "$LAB-h2" -- sleep infinity >/dev/null \
      || die "run $name"
  fi
  local t0; t0=$(now_ms)
  local ip; ip=$(task_ip 1 "$name")
  [[ $ip =~ ^10\.0\.15\. ]] || die "no overlay address for $name"
  echo "$ip" >"$f.1"; echo "$ip" >"$f.3"   # each blocks until its reader has it
  { wait "$p1" && wait "$p3"; } || die "$name never became reachable within 30 s"
  echo "$(( $(cat "$WORK/$name.h1") - t0 )) $(( $(cat "$WORK/$name.h3") - t0 ))"
}
echo
echo "overmesh run (returns when the task runs) → reachable from tasks on h1 and h3 (ms):"
# The floor: the same steps for a task that is already reachable (the srv task's `ps`).
read -r d1 d3 < <(reach_once srv existing)
echo "  measuring floor (ps + ping of the already reachable srv): h1 $d1, h3 $d3 ms"
T=()
for i in $(seq "$TRIES"); do
  read -r d1 d3 < <(reach_once "probe$i")
  all=$(( d1 > d3 ? d1 : d3 ))
  T+=("$all")
  printf '  try %-3s from h1 %5d   from h3 %5d   all %5d\n' "$i" "$d1" "$d3" "$all"
  om 1 rm -f "probe$i" >/dev/null || die "rm probe$i"
done
tm=$(printf '%s\n' "${T[@]}" | median)
tx=$(printf '%s\n' "${T[@]}" | sort -g | tail -1)
printf '  median %s ms, max %s ms (%s tries)\n' "$tm" "$tx" "$TRIES"

echo
printf 'summary: underlay %.2f Gbit/s, overlay %.2f Gbit/s, ratio %.3f (medians of %s); ' \
  "$mu" "$mo" "$mr" "$ROUNDS"
printf 'run→reachable from all hosts: median %s ms, max %s ms\n' "$tm" "$tx"
