#!/usr/bin/env bash
# Sets up the machine, builds, and runs every test: the release build first, then the
# whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
# Tests labelled kernel/cluster/e2e need root (they make their own network namespaces
# and remove them); as non-root they are skipped.
#
# Usage: scripts/test.sh [ctest args…]        e.g. scripts/test.sh -L unit
#   OVERMESH_TEST_PRESETS="release"  runs only the listed presets (CI splits them: the
#                                    release pass in a bare Debian root, asan outside it)
# Prints how long each stage took; exits non-zero if any build or test failed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/stage.sh

stage "setup (Debian packages)" scripts/setup.sh
status=0
for preset in ${OVERMESH_TEST_PRESETS:-release asan}; do
  stage "build ($preset)" scripts/build.sh "$preset"
  # One ctest per preset; -j2 matches the 2-core machines this runs on. Tests that make
  # labs are independent (each lab has its own name and namespaces).
  # A test that fails is run once more (--repeat until-pass:2): a lab test on a shared,
  # loaded machine can miss a bound once, and one such miss should not hide the rest of
  # a run. The first failure's output is still printed, and .ci/run lists every test that
  # needed the second try, so a flaky test stays visible until it is fixed.
  if ! stage "test ($preset)" ctest --test-dir "build/$preset" --output-on-failure -j2 \
      --repeat until-pass:2 "$@"; then
    status=1
  fi
done
stage_summary
exit "$status"
