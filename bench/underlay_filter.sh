#!/usr/bin/env bash
# underlay_filter.sh — what the members-only underlay filter (table inet overmesh_underlay,
# issue 12) costs overlay throughput: iperf3 between tasks on two hosts, with the filter
# (as every member runs) and without it, side by side.
#
# Usage (as root, on a Debian 12 machine with iperf3, nft and jq):
#   bench/underlay_filter.sh                 # reuse build/release or build/debug, else build release
#   OVERMESH_BUILD=build/debug bench/underlay_filter.sh
#   BENCH_LAB=ufil BENCH_SECONDS=5 BENCH_ROUNDS=3 BENCH_STREAMS=1 bench/underlay_filter.sh
#
# What it does, all inside one throw-away lab (network namespaces; underlay 198.18.0.0/24,
# overlay bench_net 10.0.16.0/24); the machine's own namespace and rule set are never
# touched:
#   1. `overmesh lab up --hosts 3`, `network create`, an iperf3 server task on h2 and a
#      client task on h1.
#   2. BENCH_ROUNDS rounds, each two runs of BENCH_SECONDS (TCP, BENCH_STREAMS streams,
#      receiver side), in alternating order (odd rounds filtered first):
#        filtered    as the cluster runs: every VXLAN datagram into h1 and h2 passes the
#                    input chain's member-set lookup;
#        unfiltered  the same after `nft delete table inet overmesh_underlay` inside h1's and
#                    h2's namespaces (the bench only, for the measurement). The tables are
#                    saved first (`nft list table`) and loaded back right after the run, so
#                    the lab's members stay filtered between runs.
#      Prints each run in Gbit/s, the filtered/unfiltered ratio, and the medians.
# Nothing is asserted: it exits non-zero only when the setup fails. The lab is removed on
# exit (also on failure or Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."

LAB="${BENCH_LAB:-ufil}"
SECS="${BENCH_SECONDS:-5}"
ROUNDS="${BENCH_ROUNDS:-3}"
STREAMS="${BENCH_STREAMS:-1}"
NET=bench_net
TABLE=(inet overmesh_underlay)

die() { echo "underlay_filter: setup failed: $*" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || die "run as root (the lab makes network namespaces)"
for t in iperf3 jq nft; do command -v "$t" >/dev/null || die "$t is not installed"; done

source bench/bench-helpers.sh  # find_binaries
find_binaries

WORK=$(mktemp -d /tmp/underlay_filter.XXXXXX)
cleanup() { "$OM" lab down --name "$LAB" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
"$OM" lab down --name "$LAB" >/dev/null 2>&1 || true   # a lab of this name left by a crash
"$OM" lab up --hosts 3 --name "$LAB" >/dev/null || die "lab up"
on() { local h=$1; shift; "$OM" lab exec --name "$LAB" "$h" -- "$@"; }   # run in host h
om() { local h=$1; shift; on "$h" "$OM" "$@"; }                          # CLI on host h

om 1 network create -d overlay --attachable --subnet 10.0.16.0/24 "$NET" >/dev/null \
  || die "network create"
om 1 run -d --network "$NET" --name srv --node "$LAB-h2" -- iperf3 -s >/dev/null || die "run srv"
om 1 run --network "$NET" --name cli --node "$LAB-h1" -- sleep infinity >/dev/null || die "run cli"
SRV_IP=$(om 1 ps --format json | jq -r '.[] | select(.name == "srv") | .attachments[0].address
  | split("/")[0]')
[[ $SRV_IP =~ ^10\.0\.16\. ]] || die "no overlay address for srv ($SRV_IP)"
for _ in $(seq 50); do
  om 1 exec cli -- ping -c1 -W1 -q "$SRV_IP" >/dev/null 2>&1 && break; sleep 0.2
done
om 1 exec cli -- ping -c1 -W1 -q "$SRV_IP" >/dev/null 2>&1 || die "overlay: cli cannot reach srv"
for h in 1 2; do
  for _ in $(seq 50); do on "$h" nft list table "${TABLE[@]}" >/dev/null 2>&1 && break; sleep 0.2; done
  on "$h" nft list table "${TABLE[@]}" >/dev/null 2>&1 || die "h$h has no underlay filter table"
done

# --- the two modes ---------------------------------------------------------------------------
unfilter() {  # saves and deletes h1's and h2's tables
  for h in 1 2; do
    on "$h" nft list table "${TABLE[@]}" >"$WORK/h$h.nft" || die "save h$h's table"
    on "$h" nft delete table "${TABLE[@]}" || die "delete h$h's table"
  done
}
refilter() {  # loads the saved tables back (the daemons' filters are as they were)
  for h in 1 2; do
    on "$h" nft -f "$WORK/h$h.nft" || die "restore h$h's table"
  done
}

gbit() { jq -r '.end.sum_received.bits_per_second / 1e9' 2>/dev/null; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan";
  else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2}'; }
measure() {
  local out
  for _ in $(seq 20); do
    out=$(om 1 exec cli -- iperf3 -c "$SRV_IP" -t "$SECS" -P "$STREAMS" -J 2>/dev/null) \
      && { gbit <<<"$out"; return; }
    sleep 0.2
  done
  return 1
}

echo
echo "Overlay TCP throughput h1 -> h2, $SECS s each, $STREAMS stream(s), receiver side (Gbit/s):"
printf '  %-6s %10s %11s %8s\n' round filtered unfiltered ratio
F=() U=() R=()
for r in $(seq "$ROUNDS"); do
  # Odd rounds measure filtered first, even rounds unfiltered first, so that a drift of the
  # machine's load over time does not favour one mode.
  if (( r % 2 == 1 )); then
    f=$(measure) || die "iperf3 (filtered) failed"
  fi
  unfilter
  u=$(measure) || { refilter; die "iperf3 (unfiltered) failed"; }
  refilter
  if (( r % 2 == 0 )); then
    f=$(measure) || die "iperf3 (filtered) failed"
  fi
  ratio=$(awk -v f="$f" -v u="$u" 'BEGIN {printf "%.3f", (u > 0 ? f / u : 0)}')
  F+=("$f") U+=("$u") R+=("$ratio")
  printf '  %-6s %10.2f %11.2f %8s\n' "$r" "$f" "$u" "$ratio"
done
mf=$(printf '%s\n' "${F[@]}" | median)
mu=$(printf '%s\n' "${U[@]}" | median)
mr=$(printf '%s\n' "${R[@]}" | median)
printf '  %-6s %10.2f %11.2f %8.3f\n' median "$mf" "$mu" "$mr"
drops=$(on 2 nft -j list counter "${TABLE[@]}" vxlan_dropped | jq '.nftables[1].counter.packets')
echo
printf 'summary: overlay with the underlay filter %.2f Gbit/s, without %.2f Gbit/s, ' "$mf" "$mu"
printf 'ratio %.3f (medians of %s rounds); h2 dropped %s VXLAN packets from non-members\n' \
  "$mr" "$ROUNDS" "$drops"
