#!/usr/bin/env bash
# Sets up, builds and passes every test: the release build, the whole suite
# again built with AddressSanitizer + UndefinedBehaviorSanitizer, and the
# tests that run threads against each other (ingest while evaluating, restore
# jobs, the scheduler, the durable store, the surfaces) under ThreadSanitizer.
#   scripts/test.sh                                  # all three
#   RETARGET_TEST_PRESETS=release scripts/test.sh    # only some presets
set -euo pipefail
cd "$(dirname "$0")/.."
presets="${RETARGET_TEST_PRESETS:-release asan-ubsan tsan}"
for preset in $presets; do
  echo "== $preset: build" >&2
  if [[ $preset == tsan ]]; then
    scripts/setup.sh tsan integration_tests retarget
    echo "== tsan: test" >&2
    ctest --preset tsan -j2 -R '^(Concurrency|Lifecycle|Scheduler|Durable|Exports|Storage)\.'
    continue
  fi
  scripts/setup.sh "$preset"
  echo "== $preset: test" >&2
  ctest --preset "$preset" -j2
done
