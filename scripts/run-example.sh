#!/usr/bin/env bash
# The main job on the embedded default: set up, build, then load the example
# catalog, events and segments into a fresh durable data directory (the
# embedded store) and print the members of every example segment,
# one explanation, and who pins which campaign.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release
data=build/example-data
rm -rf "$data"
retarget=(build/release/bin/retarget --data-dir "$data" --now 2026-06-15T12:00:00Z)
echo "== plugins (the full list with parameters: ${retarget[0]} plugins)"
"${retarget[@]}" plugins --format json > "$data.plugins.json"
grep -c '"interaction_dependent"' "$data.plugins.json" | sed 's/$/ filters loaded/'
echo "== load the example into $data"
"${retarget[@]}" catalog apply examples/data/catalog.yaml
# The example events hold two deliberately bad lines: they are listed, the
# rest is kept, and the command exits 3 (done, some lines rejected).
"${retarget[@]}" ingest examples/data/events.jsonl || [[ $? == 3 ]]
"${retarget[@]}" rules apply rules/examples.yaml
echo "== evaluate every example segment"
"${retarget[@]}" evaluate --format json
echo "== why is u42 in win_back?"
"${retarget[@]}" explain --segment win_back --user u42
echo "== who pins which campaign"
"${retarget[@]}" deps
