#!/usr/bin/env bash
# Installs Retarget into a temporary root (DESTDIR; the build's prefix is /usr),
# then, against what was installed:
#   - builds examples/custom_plugin out of tree with find_package and with
#     pkg-config (retarget-sdk) and loads it with the installed command;
#   - builds examples/embedding with find_package (retarget::shared) and with
#     pkg-config (retarget) and runs it on libretarget.so.0;
#   - checks that libretarget.so exports the public API and nothing else.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$1"; source="$2"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
root="$tmp/root"
DESTDIR="$root" cmake --install "$build" >/dev/null
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$build/CMakeCache.txt")
usr="$root$prefix"
plugins="$usr/lib/retarget/plugins"
export PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_LIBDIR="$usr/$libdir/pkgconfig"
passed=0; failed=0
check() { if eval "$2"; then passed=$((passed+1)); echo "ok   $1"; else failed=$((failed+1)); echo "FAIL $1"; fi; }

# The out-of-tree plugin, with CMake.
cmake -S "$source/examples/custom_plugin" -B "$tmp/plugin" -DCMAKE_PREFIX_PATH="$usr" \
      -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$tmp/plugin" -j2 >/dev/null
out=$("$usr/bin/retarget" --data-dir :memory: --plugins "$tmp/plugin" plugins --format json)
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
ids=$("$usr/bin/retarget" --data-dir :memory: --plugins "$tmp/plugin" --catalog "$tmp/c.yaml" \
      --events "$tmp/e.jsonl" evaluate --rules "$tmp/r.yaml" --segment both --format ids 2>/dev/null)
check "the out-of-tree filter evaluates" '[[ "$ids" == "a" ]]'

# The same plugin with pkg-config only (what a Makefile would do).
mkdir -p "$tmp/plugin-pc"
g++ -std=c++20 -O2 -fPIC -shared -fvisibility=hidden -Wl,--no-undefined $(pkg-config --cflags retarget-sdk) \
    "$source/examples/custom_plugin/attribute_count.cpp" -o "$tmp/plugin-pc/libexample_attribute_count.so"
out=$("$usr/bin/retarget" --data-dir :memory: --plugins "$tmp/plugin-pc" plugins --format json)
check "a plugin built with pkg-config (retarget-sdk) loads" 'grep -q "\"name\": \"example_attribute_count\"" <<<"$out"'
check "pkg-config names the plugin directory" '[[ "$(pkg-config --variable=plugindir retarget-sdk)" == "$plugins" ]]'

# An embedder's program on the shared library, with CMake and with pkg-config
# (not in a sanitizer build: an uninstrumented program cannot load an
# instrumented library).
if [[ -n "${RETARGET_SANITIZED:-}" ]]; then
  echo "skipped: the embedding checks (a ${RETARGET_SANITIZED} build)"
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 ]]
  exit
fi
cmake -S "$source/examples/embedding" -B "$tmp/embed" -DCMAKE_PREFIX_PATH="$usr" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$tmp/embed" -j2 >/dev/null
out=$("$tmp/embed/segment_count" "$plugins")
check "find_package(retarget) + retarget::shared: the embedding example runs" 'grep -q "^members: a$" <<<"$out"'
check "it runs on libretarget.so.0" 'ldd "$tmp/embed/segment_count" | grep -q "libretarget.so.0 => $usr/$libdir/libretarget.so.0"'
g++ -std=c++20 -O2 "$source/examples/embedding/main.cpp" $(pkg-config --cflags --libs retarget) -o "$tmp/segment_count_pc"
out=$(LD_LIBRARY_PATH="$usr/$libdir" "$tmp/segment_count_pc" "$plugins")
check "pkg-config (retarget): the embedding example runs" 'grep -q "^members: a$" <<<"$out"'

# libretarget.so: a SONAME of the major version, the public API and nothing else.
lib="$usr/$libdir/libretarget.so"
check "SONAME libretarget.so.<major>" 'readelf -d "$lib" | grep -q "SONAME.*\[libretarget\.so\.[0-9]*\]"'
symbols=$(nm -DC --defined-only "$lib" | sed 's/^[0-9a-f]* [A-Za-z] //')
check "the public API is exported" 'grep -q "^retarget::Engine::Open(" <<<"$symbols" && grep -q "^retarget::Status::Failed(" <<<"$symbols" && grep -q "^retarget::version()" <<<"$symbols"'
internal=$(grep -E "retarget::(storage|store|eval|index)::|retarget::(DependencyGraph|Catalog|RuleSet|IndexBuilder|Evaluator|PluginHost|Registry)|retarget::Engine::Impl::|^(yaml|YAML|tbb|roaring|simdjson|nlohmann|rocksdb|ZSTD)" <<<"$symbols" | grep -v "Engine::Engine(std::unique_ptr<retarget::Engine::Impl" || true)
check "no internal or third-party symbol is exported" '[[ -z "$internal" ]] || { echo "$internal" | head -5; false; }'
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
