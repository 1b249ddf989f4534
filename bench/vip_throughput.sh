#!/usr/bin/env bash
# vip_throughput.sh — requests/s and latency through a service VIP ÷ straight to the
# backend, with wrk, also with 1,000 services in the client's load-balancer table.
#
# Usage (as root; wrk installed):
#   bench/vip_throughput.sh                          # builds the release preset's target
#   BENCH_SECONDS=10 BENCH_CONNECTIONS=32 BENCH_FILLER=1000 bench/vip_throughput.sh
#   OVERMESH_BUILD=build/debug bench/vip_throughput.sh
#
# Everything happens in network namespaces that bench/vip_throughput.cc creates and
# removes (also on failure or Ctrl-C); see that file for what is measured and how.
# Nothing is asserted: it exits non-zero only when the setup fails.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "vip_throughput: $*" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || die "run as root (the lab makes network namespaces)"
command -v wrk >/dev/null || die "wrk is not installed"

BUILD="${OVERMESH_BUILD:-build/release}"
if [[ ! -x $BUILD/bench/vip_throughput ]]; then
  preset="$(basename "$BUILD")"
  scripts/build.sh "$preset" vip_throughput >/dev/null || die "build failed"
fi
exec "$BUILD/bench/vip_throughput" --seconds "${BENCH_SECONDS:-5}" \
  --connections "${BENCH_CONNECTIONS:-16}" --filler "${BENCH_FILLER:-1000}"
