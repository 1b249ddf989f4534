#!/usr/bin/env bash
# Runs the request decoders' libFuzzer target (tests/fuzz/request_decoders_fuzz.cc) for
# SECONDS (default 60) with ASan and UBSan, in its own clang build directory (build/fuzz).
# New inputs the fuzzer finds go to build/fuzz/corpus/TARGET; a crash leaves crash-* files in
# build/fuzz. The normal GCC build runs the same target as a unit test instead
# (fuzz_request_decoders, seed corpus + 20000 random mutations, no coverage feedback).
# TARGET picks the target: request_decoders (default) or dns_message (the embedded
# resolver's wire codec, tests/fuzz/dns_message_fuzz.cc) or compose_loader (the compose
# file loader, tests/fuzz/compose_loader_fuzz.cc) or security (join tokens, certificates and
# CSRs through the security library, tests/fuzz/security_fuzz.cc).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
target="${2:-request_decoders}"
case "$target" in
  request_decoders|dns_message|compose_loader|security) ;;
  *) echo "fuzz.sh: unknown target '$target' (request_decoders, dns_message, compose_loader or security)" >&2; exit 2 ;;
esac

# clang 16 and its runtime (libFuzzer) come from Debian (Debian 12's default clang 14
# cannot build std::expected). Only this script needs them, so it
# installs them itself rather than making every user of scripts/setup.sh download clang.
scripts/setup.sh > /dev/null
missing=()
for p in clang-16 libclang-rt-16-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-16 \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOVERMESH_BUILD_BENCH=OFF > /dev/null
cmake --build build/fuzz --target "fuzz_$target" -- -j"$(nproc)"
mkdir -p "build/fuzz/corpus/$target"
cd build/fuzz
exec "tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 \
  "corpus/$target" "../../tests/fuzz/corpus/$target"
