#!/usr/bin/env bash
# The peer comparison, end to end (docs/PERFORMANCE.md, bench/peers/README.md):
#
#   bench/run.sh M          # M (1M users / 10M events) against DuckDB and ClickHouse
#                           # (chdb), each straightforward and tuned, plus S against
#                           # json-rules-engine, plus the lifecycle figures at 10M records
#   bench/run.sh L          # the same with L (10M users / 100M events)
#   bench/run.sh S          # S only, every peer, lifecycle at 1M records
#   bench/run.sh S --check  # the fast check for CI (also RETARGET_BENCH_CHECK=1): S data,
#                           # every peer, one timed run per segment, no lifecycle bench
#
# Builds the release preset (scripts/setup.sh) with the benchmark programs and the
# filter plugins, installs the peers from the npm registry (bench/peers, `npm ci`),
# generates the data sets once (kept under build/bench-data; regenerate by deleting
# them), runs the engine's benchmark and the peers, and checks that every member set
# is equal. Figures land in build/bench-out/<size>/ (ours.json, <peer>.json,
# comparison.json) and on standard output. Every comparison runs even when an
# earlier one failed; the exit status is 1 when any member set differs.
#
# Environment:
#   RETARGET_BENCH_BIN    a directory of prebuilt binaries (retarget_bench_gen,
#                         retarget_suite_bench, retarget_lifecycle_bench; the plugins
#                         are found relative to them): skips the build step
#   RETARGET_BENCH_DATA / RETARGET_BENCH_OUT   move the data and the results
#   RETARGET_BENCH_REPS   timed runs per segment (default 7; 1 in check mode)
#   RETARGET_BENCH_CHECK  1 = check mode (as --check)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
usage() { echo "usage: bench/run.sh S|M|L [--check]" >&2; exit 2; }
size="M"
check="${RETARGET_BENCH_CHECK:-0}"
sized=0
for arg in "$@"; do
  case "$arg" in
    S | M | L) size="$arg"; sized=1 ;;
    --check) check=1 ;;
    *) usage ;;
  esac
done
[[ "$check" == 0 || "$check" == 1 ]] || { echo "bench/run.sh: RETARGET_BENCH_CHECK must be 0 or 1" >&2; exit 2; }
if [[ "$check" == 1 ]]; then
  [[ "$sized" == 0 || "$size" == S ]] || { echo "bench/run.sh: the check mode runs S only" >&2; exit 2; }
  size=S
fi
data_root="${RETARGET_BENCH_DATA:-$root/build/bench-data}"
out_root="${RETARGET_BENCH_OUT:-$root/build/bench-out}"
if [[ "$check" == 1 ]]; then reps="${RETARGET_BENCH_REPS:-1}"; else reps="${RETARGET_BENCH_REPS:-7}"; fi
sql_peers=(duckdb duckdb_tuned clickhouse clickhouse_tuned)

start=$(date +%s)
stage_name=""
stage_start=$start
stages=()
# Ends the current stage (printing its time) and starts the next one.
step() {
  local now
  now=$(date +%s)
  if [[ -n "$stage_name" ]]; then
    printf -- '--- %s: %ds\n' "$stage_name" $((now - stage_start))
    stages+=("$(printf '%6ds  %s' $((now - stage_start)) "$stage_name")")
  fi
  stage_name="$*"
  stage_start=$now
  [[ -n "$stage_name" ]] && printf '\n=== %s (at %ds)\n' "$stage_name" $((now - start))
  return 0
}

# The engine's benchmark programs load the filter plugins from beside their
# binary (<bin>/../lib/retarget/plugins), as `retarget` does.
engine() {  # program args...: one of the engine's benchmark programs
  local prog="$bin/$1"
  shift
  "$prog" "$@"
}

if [[ -n "${RETARGET_BENCH_BIN:-}" ]]; then
  bin="$(cd "$RETARGET_BENCH_BIN" && pwd)"
  step "prebuilt binaries: $bin (no build)"
  for b in retarget_bench_gen retarget_suite_bench retarget_lifecycle_bench; do
    [[ -x "$bin/$b" ]] || { echo "bench/run.sh: $bin/$b is missing" >&2; exit 1; }
  done
  [[ -d "$bin/../lib/retarget/plugins" ]] ||
    { echo "bench/run.sh: no plugins beside the prebuilt binaries ($bin/../lib/retarget/plugins)" >&2; exit 1; }
else
  bin="$root/build/release/bin"
  step "build (release: benchmark programs and filter plugins)"
  scripts/setup.sh release retarget retarget_bench_gen retarget_suite_bench retarget_lifecycle_bench \
    retarget_campaign_filters retarget_canvas_filters retarget_tag_filters retarget_profile_filters \
    retarget_attribute_filters >/dev/null
fi
command -v node >/dev/null || { echo "bench/run.sh: Node.js 20 is needed for the peers" >&2; exit 1; }

step "peers (npm ci in bench/peers)"
if [[ ! -d bench/peers/node_modules || bench/peers/package-lock.json -nt bench/peers/node_modules ]]; then
  (cd bench/peers && npm ci --no-audit --no-fund --loglevel=error)
  touch bench/peers/node_modules
fi

generate() {  # size
  local dir="$data_root/$1"
  if [[ -f "$dir/manifest.json" ]]; then
    echo "data set $1: $dir (kept from an earlier run)"
  else
    "$bin/retarget_bench_gen" --size "$1" --out "$dir"
  fi
}

failed=()
compare() {  # size peers...
  local s="$1"
  shift
  local dir="$data_root/$s" out="$out_root/$s"
  rm -rf "$out"
  mkdir -p "$out"
  step "$s: the engine (durable ingest, open, suite, footprint, freshness)"
  # Readers under writers: a restore of a 10M-record source (1M at S), sweeps
  # and a steady ingest beside the suite (not in check mode).
  load=()
  if [[ "$check" == 0 ]]; then
    if [[ "$s" == S ]]; then load=(--load-records 1000000 --load-seconds 10); else load=(--load-records 10000000 --load-seconds 15); fi
  fi
  engine retarget_suite_bench --data "$dir" --suite bench/suite.yaml --out "$out" --reps "$reps" \
    --store "$out/store" "${load[@]}"
  rm -rf "$out/store"
  for peer in "$@"; do
    step "$s: $peer"
    extra=()
    [[ "$peer" == jre ]] || extra=(--reps "$reps")
    if ! node bench/peers/"${peer}_peer.mjs" --data "$dir" --suite bench/suite.yaml --out "$out" "${extra[@]}"; then
      failed+=("$s: $peer failed")
    fi
  done
  step "$s: comparison (member sets must be equal)"
  if ! node bench/peers/compare.mjs --out "$out"; then
    failed+=("$s: member sets differ or results are missing ($out/comparison.json)")
  fi
}

step "data"
generate S
[[ "$size" == S ]] || generate "$size"

if [[ "$size" == S ]]; then
  compare S "${sql_peers[@]}" jre
  records=1000000
else
  compare S jre
  compare "$size" "${sql_peers[@]}"
  records=10000000
fi

if [[ "$check" == 0 ]]; then
  step "lifecycle: expire and restore a source with $records records, pins at 100k sources / 1M edges"
  engine retarget_lifecycle_bench --records "$records" --dir "$out_root/lifecycle-store"
  rm -rf "$out_root/lifecycle-store"
fi

step ""
printf '\n=== stages (total %ds)\n' $(($(date +%s) - start))
printf '%s\n' "${stages[@]}"
if ((${#failed[@]})); then
  printf '\nFAILED:\n' >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "done: every member set equal"
