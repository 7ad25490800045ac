#!/usr/bin/env bash
# Sets up, builds and passes every test: the release build, then the whole
# suite again built with AddressSanitizer + UndefinedBehaviorSanitizer.
#   scripts/test.sh            # both
#   RETARGET_TEST_PRESETS=release scripts/test.sh   # only some presets
set -euo pipefail
cd "$(dirname "$0")/.."
presets="${RETARGET_TEST_PRESETS:-release asan-ubsan}"
for preset in $presets; do
  echo "== $preset: build" >&2
  scripts/setup.sh "$preset"
  echo "== $preset: test" >&2
  ctest --preset "$preset" -j2
done
