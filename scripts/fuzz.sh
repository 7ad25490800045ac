#!/usr/bin/env bash
# Fuzzes every libFuzzer target (fuzz/) for SECONDS each (default 30), one
# after the other: builds them with the `fuzz` preset (clang, libFuzzer,
# AddressSanitizer + UndefinedBehaviorSanitizer, -Werror=thread-safety; -j2), runs
# each on a scratch copy of its seed corpus (fuzz/corpus/<target>/, never
# written) with its dictionary, prints executions per second, and fails when
# any target finds a crash, a leak, a sanitizer report or a hang (one input
# over 10 s). Findings are kept in build/fuzz/fuzzing/<target>/artifacts/.
#   scripts/fuzz.sh [SECONDS]
#   RETARGET_FUZZ_TARGETS="rules http" scripts/fuzz.sh 60   # only some targets
# Replay a finding:  build/fuzz/bin/fuzz_<target> <file>
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "usage: scripts/fuzz.sh [SECONDS]" >&2
  exit 2
fi
read -r -a targets <<<"${RETARGET_FUZZ_TARGETS:-event_parser rules catalog config http}"
declare -A max_len=([event_parser]=4096 [rules]=16384 [catalog]=8192 [config]=4096 [http]=4096)

bins=()
for t in "${targets[@]}"; do
  [[ -n ${max_len[$t]:-} ]] || { echo "fuzz: unknown target '$t'" >&2; exit 2; }
  bins+=("fuzz_$t")
done
scripts/setup.sh fuzz "${bins[@]}"

failed=0
printf '%-13s %8s %12s %9s %7s %9s\n' target seconds executions "execs/s" corpus findings
for t in "${targets[@]}"; do
  work=build/fuzz/fuzzing/$t
  rm -rf "$work/artifacts"
  mkdir -p "$work/corpus" "$work/artifacts"
  log=$work/log.txt
  status=0
  # The scratch corpus keeps growing across runs; the seeds are read each time.
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}" \
  UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
    "build/fuzz/bin/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len="${max_len[$t]}" -print_final_stats=1 -dict="fuzz/dict/$t.dict" \
      -artifact_prefix="$work/artifacts/" "$work/corpus" "fuzz/corpus/$t" >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  corpus=$(find "$work/corpus" -type f | wc -l)
  findings=$(find "$work/artifacts" -type f | wc -l)
  printf '%-13s %8s %12s %9s %7s %9s\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" "$corpus" "$findings"
  if ((status != 0 || findings > 0)); then
    failed=1
    echo "fuzz: $t found something (exit $status); log: $log" >&2
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written|deadly signal|timeout' "$log" | head -20 >&2 || true
  fi
done
exit "$failed"
