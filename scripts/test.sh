#!/usr/bin/env bash
# Sets up, builds and passes every test, printing each stage's time:
#   release     the release build and the whole suite
#   bench       bench/run.sh S --check: every peer's member set equals ours (release build)
#   asan-ubsan  the whole suite again, AddressSanitizer + UndefinedBehaviorSanitizer
#   tsan        the tests that run threads against each other (ingest while
#               evaluating, restore jobs, the scheduler, the durable store, the
#               exports, the storage core, evaluation deadlines and
#               cancellation, nested segments on every worker, the plugin
#               host's swap race) under ThreadSanitizer
#   fuzz        the clang build (libFuzzer, -Werror=thread-safety) and each
#               fuzz target for 30 s (scripts/fuzz.sh)
#   scripts/test.sh                                  # every stage
#   RETARGET_TEST_PRESETS="release tsan" scripts/test.sh    # only some stages
# The asan-ubsan test preset sets intercept_tls_get_addr=0: GCC 12's
# LeakSanitizer guesses the size of a dynamic TLS block (a plugin's
# thread_local) from a "glibc 2.19 header" whenever the block's address is 16
# mod 4096, reads garbage and crashes its tracer at exit ("Tracer caught
# signal 11"), by chance of heap layout. The blocks are heap chunks reachable
# from the DTV, so leak checking loses nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
stages="${RETARGET_TEST_PRESETS:-release bench asan-ubsan tsan fuzz}"

start=$(date +%s)
report=()
# Runs one named step, timing it; the first failure stops the run.
timed() {
  local name=$1
  shift
  local t0 t1
  t0=$(date +%s)
  echo "== $name" >&2
  "$@"
  t1=$(date +%s)
  printf -- '== %s: %ds\n' "$name" $((t1 - t0)) >&2
  report+=("$(printf '%6ds  %s' $((t1 - t0)) "$name")")
}
summary() {
  local status=$?
  echo "=== stages (total $(($(date +%s) - start))s)" >&2
  for line in "${report[@]}"; do echo "$line" >&2; done
  ((status == 0)) || echo "=== FAILED (exit $status)" >&2
}
trap summary EXIT

for stage in $stages; do
  case "$stage" in
    release | asan-ubsan)
      timed "$stage: build" scripts/setup.sh "$stage"
      timed "$stage: test" ctest --preset "$stage" -j2
      ;;
    tsan)
      timed "tsan: build" scripts/setup.sh tsan integration_tests retarget
      timed "tsan: test" ctest --preset tsan -j2 -R '^(Concurrency|Lifecycle|Scheduler|Durable|Exports|Storage|EvaluationDeadline|NestedSegments|PluginHost)\.'
      ;;
    bench) timed "bench: S --check" bench/run.sh S --check ;;
    fuzz) timed "fuzz: build and 30 s per target" scripts/fuzz.sh 30 ;;
    *) echo "scripts/test.sh: unknown stage '$stage'" >&2; exit 2 ;;
  esac
done
