#!/usr/bin/env bash
# The peer comparison, end to end (docs/PERFORMANCE.md):
#
#   bench/run.sh M        # M (1M users / 10M events) against DuckDB, plus S against
#                         # json-rules-engine, plus the lifecycle figures at 10M records
#   bench/run.sh L        # the same with L (10M users / 100M events)
#   bench/run.sh S        # S only (DuckDB and json-rules-engine), lifecycle at 1M records
#
# Builds the release preset (scripts/setup.sh), installs the peers from the npm
# registry (bench/peers, `npm ci`), generates the data sets once (kept under
# build/bench-data; regenerate by deleting them), runs the engine's benchmark
# and the peers, and checks that every member set is equal (exit 1 when not).
# Figures land in build/bench-out/<size>/ (ours.json, duckdb.json, jre.json,
# comparison.json) and on standard output.
#
# Environment: RETARGET_BENCH_DATA / RETARGET_BENCH_OUT move the data and the
# results; RETARGET_BENCH_REPS (default 7) sets the timed runs per segment.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
size="${1:-M}"
case "$size" in S | M | L) ;; *) echo "usage: bench/run.sh S|M|L" >&2; exit 2 ;; esac
data_root="${RETARGET_BENCH_DATA:-$root/build/bench-data}"
out_root="${RETARGET_BENCH_OUT:-$root/build/bench-out}"
reps="${RETARGET_BENCH_REPS:-7}"
bin="$root/build/release/bin"
start=$(date +%s)

step() { printf '\n=== %s (%ds)\n' "$*" $(($(date +%s) - start)); }

step "build (release)"
scripts/setup.sh release retarget retarget_bench_gen retarget_suite_bench retarget_lifecycle_bench >/dev/null
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

compare() {  # size peers...
  local s="$1"
  shift
  local dir="$data_root/$s" out="$out_root/$s"
  rm -rf "$out"
  mkdir -p "$out"
  step "$s: the engine (durable ingest, open, suite, footprint, freshness)"
  "$bin/retarget_suite_bench" --data "$dir" --suite bench/suite.yaml --out "$out" --reps "$reps" \
    --store "$out/store"
  rm -rf "$out/store"
  for peer in "$@"; do
    step "$s: $peer"
    extra=()
    [[ "$peer" == duckdb ]] && extra=(--reps "$reps")
    node bench/peers/"${peer}_peer.mjs" --data "$dir" --suite bench/suite.yaml --out "$out" "${extra[@]}"
  done
  step "$s: comparison (member sets must be equal)"
  node bench/peers/compare.mjs --out "$out"
}

step "data"
generate S
[[ "$size" == S ]] || generate "$size"

if [[ "$size" == S ]]; then
  compare S duckdb jre
  records=1000000
else
  compare S jre
  compare "$size" duckdb
  records=10000000
fi

step "lifecycle: expire and restore a source with $records records, pins at 100k sources / 1M edges"
"$bin/retarget_lifecycle_bench" --records "$records" --dir "$out_root/lifecycle-store"
rm -rf "$out_root/lifecycle-store"

step "done"
