#!/usr/bin/env bash
# Installs Retarget into a temporary prefix, builds examples/custom_plugin out
# of tree against the installed SDK, and loads it with the installed command.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$1"; source="$2"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$source/examples/custom_plugin" -B "$tmp/plugin" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
      -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$tmp/plugin" -j2 >/dev/null
out=$("$tmp/prefix/bin/retarget" --data-dir :memory: --plugins "$tmp/plugin" plugins --format json)
passed=0; failed=0
check() { if eval "$2"; then passed=$((passed+1)); echo "ok   $1"; else failed=$((failed+1)); echo "FAIL $1"; fi; }
check "the out-of-tree filter is loaded" 'grep -q "\"name\": \"example_attribute_count\"" <<<"$out"'
check "no plugin is refused" 'grep -q "\"refused\": \[\]" <<<"$out"'
check "the installed default plugins load" 'grep -q "\"name\": \"received_campaign\"" <<<"$out"'
cat > "$tmp/c.yaml" <<'YAML'
version: 1
YAML
printf '%s\n' '{"time":"2026-01-01T00:00:00Z","user":"a","type":"attributes","attributes":{"country":"DE","plan":"x"}}' \
              '{"time":"2026-01-01T00:00:00Z","user":"b","type":"attributes","attributes":{"country":"FR"}}' > "$tmp/e.jsonl"
cat > "$tmp/r.yaml" <<'YAML'
version: 1
segments:
  - id: both
    match: {example_attribute_count: {names: [country, plan], min: 2}}
YAML
ids=$("$tmp/prefix/bin/retarget" --data-dir :memory: --plugins "$tmp/plugin" --catalog "$tmp/c.yaml" \
      --events "$tmp/e.jsonl" evaluate --rules "$tmp/r.yaml" --segment both --format ids 2>/dev/null)
check "the out-of-tree filter evaluates" '[[ "$ids" == "a" ]]'
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
