#!/usr/bin/env bash
# Sets up the machine, builds, and runs every test: the release build first, then the
# whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
# Tests labelled kernel/cluster/e2e need root (they make their own network namespaces
# and remove them); as non-root they are skipped.
# Usage: scripts/test.sh [ctest args…]   e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
status=0
for preset in release asan; do
  echo "== build ($preset)"
  scripts/build.sh "$preset"
  echo "== test ($preset)"
  if ! ctest --test-dir "build/$preset" --output-on-failure -j2 "$@"; then
    status=1
  fi
done
exit "$status"
