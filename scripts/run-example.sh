#!/usr/bin/env bash
# The main job on the embedded default: set up, build, then ingest the example
# data, evaluate every example segment and print the results.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release
retarget=build/release/bin/retarget
echo "== plugins"
"$retarget" plugins
echo "== evaluate rules/examples.yaml over examples/data (now = 2026-06-15T12:00:00Z, data dir :memory:)"
"$retarget" --data-dir :memory: --now 2026-06-15T12:00:00Z \
  --catalog examples/data/catalog.yaml --events examples/data/events.jsonl \
  evaluate --rules rules/examples.yaml --format json
echo "== why is u42 in win_back?"
"$retarget" --data-dir :memory: --now 2026-06-15T12:00:00Z \
  --catalog examples/data/catalog.yaml --events examples/data/events.jsonl \
  explain --rules rules/examples.yaml --segment win_back --user u42
