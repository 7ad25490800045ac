#!/usr/bin/env bash
# Sets up, builds and passes every test: the release build, the whole suite
# again built with AddressSanitizer + UndefinedBehaviorSanitizer, and the
# tests that run threads against each other (ingest while evaluating, restore
# jobs, the scheduler, the durable store, the surfaces) under ThreadSanitizer.
#   scripts/test.sh                                  # all three
#   RETARGET_TEST_PRESETS=release scripts/test.sh    # only some presets
# The asan-ubsan test preset sets intercept_tls_get_addr=0: GCC 12's
# LeakSanitizer guesses the size of a dynamic TLS block (a plugin's
# thread_local) from a "glibc 2.19 header" whenever the block's address is 16
# mod 4096, reads garbage and crashes its tracer at exit ("Tracer caught
# signal 11"), by chance of heap layout. The blocks are heap chunks reachable
# from the DTV, so leak checking loses nothing.
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
