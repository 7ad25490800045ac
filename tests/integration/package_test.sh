#!/usr/bin/env bash
# Makes the .deb packages with cpack from a built tree and checks them: names
# and versions, Depends: (from dpkg-shlibdeps for the runtime package), the
# conffile and the maintainer scripts, the files each package holds, and that
# what the packages hold works when unpacked (the command finds its plugins;
# the embedding example builds against the dev package with pkg-config).
# Installing them with apt into a clean Debian 12 root is scripts/package-test.sh.
# Usage: package_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$1"; source="$2"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$build" && cpack -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log"; exit 1; }
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
runtime="$tmp/out/retarget_${version}_amd64.deb"
dev="$tmp/out/retarget-dev_${version}_amd64.deb"
passed=0; failed=0
check() { if eval "$2"; then passed=$((passed+1)); echo "ok   $1"; else failed=$((failed+1)); echo "FAIL $1"; fi; }
check "two packages: retarget and retarget-dev $version" '[[ -f "$runtime" && -f "$dev" ]]'
field() { dpkg-deb -f "$1" "$2"; }
depends=$(field "$runtime" Depends)
for lib in libyaml-cpp0.7 libtbb12 libroaring0 libsimdjson14 librocksdb7.8 libzstd1 libssl3 libstdc++6 passwd; do
  check "retarget Depends: $lib" 'grep -q "\b$lib\b" <<<"$depends"'
done
check "retarget-dev Depends: retarget (= $version) and the -dev packages" \
  'field "$dev" Depends | grep -q "retarget (= $version)" && field "$dev" Depends | grep -q "libyaml-cpp-dev"'
mkdir -p "$tmp/control"
dpkg-deb -e "$runtime" "$tmp/control"
check "/etc/retarget/retarget.yaml is a conffile" 'grep -qx "/etc/retarget/retarget.yaml" "$tmp/control/conffiles"'
check "postinst makes the system user and the data directory" \
  'grep -q "useradd --system" "$tmp/control/postinst" && grep -q "/var/lib/retarget" "$tmp/control/postinst"'
check "the maintainer scripts are valid sh" 'for f in postinst prerm postrm; do sh -n "$tmp/control/$f" || exit 1; done'
files=$(dpkg-deb -c "$runtime" | awk '{print $6}')
for f in ./usr/bin/retarget ./usr/bin/retarget_service ./etc/retarget/retarget.yaml \
         ./usr/lib/systemd/system/retarget.service ./usr/lib/retarget/plugins/libretarget_campaign_filters.so \
         ./usr/lib/x86_64-linux-gnu/libretarget.so.0 ./usr/share/man/man1/retarget.1 \
         ./usr/share/bash-completion/completions/retarget ./usr/share/doc/retarget/LICENSE; do
  check "retarget holds $f" 'grep -qx "$f" <<<"$files"'
done
check "retarget holds no header" '! grep -q "^./usr/include" <<<"$files"'
devfiles=$(dpkg-deb -c "$dev" | awk '{print $6}')
for f in ./usr/include/retarget/engine.hpp ./usr/include/retarget/sdk/plugin.hpp ./usr/lib/x86_64-linux-gnu/libretarget.so \
         ./usr/lib/x86_64-linux-gnu/libretarget_core.a ./usr/lib/x86_64-linux-gnu/pkgconfig/retarget.pc \
         ./usr/lib/x86_64-linux-gnu/pkgconfig/retarget-sdk.pc ./usr/lib/x86_64-linux-gnu/cmake/retarget/retargetConfig.cmake; do
  check "retarget-dev holds $f" 'grep -qx "$f" <<<"$devfiles"'
done
unit=$(dpkg-deb --fsys-tarfile "$runtime" | tar -xO ./usr/lib/systemd/system/retarget.service)
check "the unit runs the service as its own user on /var/lib/retarget" \
  'grep -qx "User=retarget" <<<"$unit" && grep -q "^ExecStart=/usr/bin/retarget_service .*--data-dir /var/lib/retarget" <<<"$unit"'

# Unpacked (no maintainer scripts): what they hold works.
root="$tmp/root"
dpkg-deb -x "$runtime" "$root"
dpkg-deb -x "$dev" "$root"
check "the packaged command says its version" '[[ "$("$root/usr/bin/retarget" --version)" == "retarget $version" ]]'
out=$("$root/usr/bin/retarget" --data-dir :memory: plugins --format json)
check "the packaged command loads the packaged plugins" 'grep -q "\"name\": \"received_campaign\"" <<<"$out" && grep -q "\"refused\": \[\]" <<<"$out"'
export PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_LIBDIR="$root/usr/lib/x86_64-linux-gnu/pkgconfig"
g++ -std=c++20 -O2 "$source/examples/embedding/main.cpp" $(pkg-config --cflags --libs retarget) -o "$tmp/segment_count"
out=$(LD_LIBRARY_PATH="$root/usr/lib/x86_64-linux-gnu" "$tmp/segment_count" "$root/usr/lib/retarget/plugins")
check "the embedding example builds against retarget-dev (pkg-config) and runs" 'grep -q "^members: a$" <<<"$out"'
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
