#!/usr/bin/env bash
# The filter of docs/plugins.md ("A filter in four parts") compiles against the
# SDK as shipped: the page cannot drift from the ABI.
#   plugin_doc_example_test.sh SOURCE_DIR CXX
set -euo pipefail
src="$1"
cxx="${2:-c++}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# The first ```cpp block after the heading "A filter in four parts".
awk '/^## A filter in four parts/ {section = 1} section && /^```cpp$/ {inside = 1; next}
     /^```$/ && inside {exit} inside {print}' "$src/docs/plugins.md" >"$tmp/example.cpp"
[[ -s "$tmp/example.cpp" ]] || { echo "docs/plugins.md has no cpp example" >&2; exit 1; }
"$cxx" -std=c++20 -fsyntax-only -Wall -Werror -I "$src/plugins/sdk/include" "$tmp/example.cpp"
echo "docs/plugins.md example compiles"
