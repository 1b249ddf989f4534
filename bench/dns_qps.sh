#!/usr/bin/env bash
# dns_qps.sh — queries/s of one sandbox's embedded resolver (127.0.0.11) for internal
# names, next to a reference resolver (dnsmasq answering the same names from a hosts file)
# measured the same way in the same run, with dnsperf (Debian's dnsperf, dnsmasq-base).
#
# Usage (as root):
#   bench/dns_qps.sh                       # reuse build/release or build/debug, else build release
#   OVERMESH_BUILD=build/release BENCH_SECONDS=10 BENCH_SERVICES=1000 bench/dns_qps.sh
#
# What it does: bench/dns_bench_server creates a namespace of its own (omdnsb<pid>, lo up),
# starts a DnsServer there with BENCH_SERVICES services (VIP, 3 replicas each) and attaches
# the namespace as a sandbox; dnsmasq runs in the same namespace on 127.0.0.53 with a hosts
# file of the same service names. dnsperf (inside the namespace, via nsenter) replays
# 10,000 queries in a loop for BENCH_SECONDS against each: ours alternate `sN` (the VIP)
# and `tasks.sN` (3 addresses); the reference asks `sN`. Prints both rates, the answers per
# CPU-second each server used (one event thread: the one-core figure), and the ratio.
# Nothing leaves the namespace; it is deleted on exit, also on failure or Ctrl-C. The
# figures are printed, never asserted: the machine is shared, so run it more than once.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS="${BENCH_SECONDS:-10}"
SERVICES="${BENCH_SERVICES:-1000}"
CLIENTS="${BENCH_CLIENTS:-4}"
NS="omdnsb$$"

die() { echo "dns_qps: setup failed: $*" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || die "run as root (the benchmark makes a network namespace)"
for t in dnsperf dnsmasq nsenter; do command -v "$t" >/dev/null || die "$t is not installed"; done

BUILD="${OVERMESH_BUILD:-}"
if [[ -z $BUILD ]]; then
  for b in build/release build/debug; do
    [[ -x $b/bench/dns_bench_server ]] && { BUILD=$b; break; }
  done
fi
if [[ -z $BUILD ]]; then
  scripts/build.sh release dns_bench_server >/dev/null || die "build failed"
  BUILD=build/release
fi
DRIVER="$PWD/$BUILD/bench/dns_bench_server"
[[ -x $DRIVER ]] && [[ $BUILD == *debug* ]] && echo "note: $BUILD is a debug build; use build/release for figures"

WORK=$(mktemp -d /tmp/omdnsb-XXXXXX)
chmod 755 "$WORK"  # dnsmasq drops to nobody and must still read the hosts file
DRIVER_PID=""
DNSMASQ_PID=""
cleanup() {
  [[ -n $DNSMASQ_PID ]] && kill "$DNSMASQ_PID" 2>/dev/null && wait "$DNSMASQ_PID" 2>/dev/null || true
  if [[ -n $DRIVER_PID ]]; then
    kill -TERM "$DRIVER_PID" 2>/dev/null || true
    wait "$DRIVER_PID" 2>/dev/null || true  # it deletes its namespace on the way out
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# The driver serves until it gets SIGTERM; it prints "ready" once the sandbox answers.
"$DRIVER" --netns "$NS" --services "$SERVICES" --queries "$WORK" \
  > "$WORK/driver.out" 2> "$WORK/driver.log" &
DRIVER_PID=$!
for _ in $(seq 200); do
  grep -qx ready "$WORK/driver.out" && break
  kill -0 "$DRIVER_PID" 2>/dev/null || die "driver: $(cat "$WORK/driver.log")"
  sleep 0.1
done
grep -qx ready "$WORK/driver.out" || die "driver did not start: $(cat "$WORK/driver.log")"

nsenter --net="/run/netns/$NS" dnsmasq --no-daemon --no-resolv --no-hosts --conf-file=/dev/null \
  --pid-file --listen-address=127.0.0.53 --bind-interfaces --port=53 \
  --addn-hosts="$WORK/hosts" --cache-size=10000 --log-facility=/dev/null 2> "$WORK/dnsmasq.log" &
DNSMASQ_PID=$!
sleep 1
kill -0 "$DNSMASQ_PID" 2>/dev/null || die "dnsmasq: $(cat "$WORK/dnsmasq.log")"

# CPU time (user + system, all threads) of process $1, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)

# dnsperf's "Queries per second:" line, its lost queries, and the answers per CPU-second
# the server spent: on a shared machine the wall-clock rate depends on what else runs,
# the rate per CPU-second much less.
measure() {  # SERVER FILE SERVER_PID
  local before after
  before=$(cpu_ticks "$3")
  nsenter --net="/run/netns/$NS" dnsperf -s "$1" -d "$2" -l "$SECS" -c "$CLIENTS" -T 1 -q 200 \
    > "$WORK/perf.out" 2>&1 || true
  after=$(cpu_ticks "$3")
  local qps lost completed
  qps=$(awk '/Queries per second:/ {print $4}' "$WORK/perf.out")
  lost=$(awk '/Queries lost:/ {print $3}' "$WORK/perf.out")
  completed=$(awk '/Queries completed:/ {print $3}' "$WORK/perf.out")
  [[ -n $qps ]] || { cat "$WORK/perf.out" >&2; die "dnsperf against $1 printed no rate"; }
  local per_cpu
  per_cpu=$(awk -v n="$completed" -v t="$((after - before))" -v hz="$TICKS" \
    'BEGIN { if (t > 0) printf "%.0f", n / (t / hz); else print "n/a" }')
  echo "$qps $lost $per_cpu"
}

read -r ours ours_lost ours_cpu < <(measure 127.0.0.11 "$WORK/ours.txt" "$DRIVER_PID")
read -r ref ref_lost ref_cpu < <(measure 127.0.0.53 "$WORK/reference.txt" "$DNSMASQ_PID")
ratio=$(awk -v a="$ours" -v b="$ref" 'BEGIN { printf "%.2f", a / b }')

echo "embedded DNS, $SERVICES services, ${SECS}s each, dnsperf -c $CLIENTS -q 200 (load: $(cut -d' ' -f1-3 /proc/loadavg)):"
printf '  overmesh 127.0.0.11 (sN / tasks.sN):  %10.0f queries/s  %10s per server CPU-second  (lost %s)\n' \
  "$ours" "$ours_cpu" "$ours_lost"
printf '  dnsmasq reference (hosts file sN):    %10.0f queries/s  %10s per server CPU-second  (lost %s)\n' \
  "$ref" "$ref_cpu" "$ref_lost"
echo "  ratio overmesh / dnsmasq: $ratio   (target: >= 100000 queries/s on one core)"
echo "  $(grep '^directory:' "$WORK/driver.out")"
