#!/usr/bin/env bash
# The packages on a clean Debian 12 root (on demand; not in every CI run, which
# builds the packages and checks their contents: the `packages` test).
#
#   scripts/package-test.sh [ROOT_DIR]     # as root; needs the Debian mirror
#
# Builds the release preset, makes the .deb packages with cpack, creates a
# minimal Debian 12 (bookworm) root with debootstrap, installs both packages
# there with apt (so that Depends: is resolved by apt, not assumed), then in
# the root: the command's version and plugins, the example job (catalog,
# events, rules, evaluate) on a data directory, the service's user, unit and
# data directory, the out-of-tree plugin built against retarget-dev with
# find_package and with pkg-config, and the embedding example. ROOT_DIR
# (default: a temporary directory) is removed at the end unless KEEP_ROOT=1.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
[[ $(id -u) == 0 ]] || { echo "package-test: run as root (debootstrap and chroot)" >&2; exit 2; }
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
root="${1:-$(mktemp -d /tmp/retarget-root.XXXXXX)}"
cleanup() {
  # Nothing started in the root outlives it.
  for p in /proc/[0-9]*; do
    if [[ "$(readlink "$p/root" 2>/dev/null)" == "$root" ]]; then kill -9 "${p#/proc/}" 2>/dev/null || true; fi
  done
  umount "$root/proc" 2>/dev/null || true
  [[ "${KEEP_ROOT:-0}" == 1 ]] || rm -rf "$root"
}
trap cleanup EXIT
if ! command -v debootstrap >/dev/null; then
  apt-get update
  apt-get install -y debootstrap
fi
scripts/setup.sh release
out=$(mktemp -d)
(cd build/release && cpack -G DEB -B "$out" >/dev/null)
echo "== debootstrap bookworm into $root"
debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
mount -t proc proc "$root/proc"
cp "$out"/retarget_*.deb "$out"/retarget-dev_*.deb "$root/tmp/"
cp -r examples "$root/tmp/examples"
cp -r rules "$root/tmp/rules"
echo "== apt-get install ./retarget_*.deb ./retarget-dev_*.deb"
chroot "$root" /bin/sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq /tmp/retarget_*.deb /tmp/retarget-dev_*.deb >/dev/null'
in_root() { chroot "$root" /bin/bash -ec "$1"; }
passed=0; failed=0
check() { if in_root "$2"; then passed=$((passed+1)); echo "ok   $1"; else failed=$((failed+1)); echo "FAIL $1"; fi; }
check "retarget --version" 'retarget --version | grep -q "^retarget [0-9]"'
check "the installed plugins load" 'retarget --data-dir :memory: plugins --format json | grep -q "\"name\": \"received_campaign\""'
check "the example job" 'cd /tmp && r="retarget --data-dir /tmp/job --now 2026-06-15T12:00:00Z" &&
  $r catalog apply examples/data/catalog.yaml >/dev/null && { $r ingest examples/data/events.jsonl >/dev/null || [[ $? == 3 ]]; } &&
  $r rules apply rules/examples.yaml >/dev/null && $r evaluate --segment win_back --format ids | grep -q .'
check "the service user and its data directory" 'getent passwd retarget >/dev/null && [[ $(stat -c %U /var/lib/retarget) == retarget ]]'
check "the unit is installed" '[[ -f /usr/lib/systemd/system/retarget.service || -f /lib/systemd/system/retarget.service ]]'
check "the service runs as its user and answers" 'cd /tmp; setpriv --reuid=retarget --regid=retarget --clear-groups \
  retarget_service --config /etc/retarget/retarget.yaml --data-dir /var/lib/retarget --port 0 >/tmp/svc.log 2>&1 & pid=$!;
  for i in $(seq 300); do grep -q listening /tmp/svc.log && break; kill -0 $pid 2>/dev/null || break; sleep 0.2; done;
  kill $pid 2>/dev/null; wait $pid || true;
  grep -qi "listening" /tmp/svc.log || { echo "the service said (in ${i} x 0.2 s):"; cat /tmp/svc.log; false; }'
check "the out-of-tree plugin with find_package" 'cmake -S /tmp/examples/custom_plugin -B /tmp/plugin -DCMAKE_BUILD_TYPE=Release >/dev/null &&
  cmake --build /tmp/plugin >/dev/null && retarget --data-dir :memory: --plugins /tmp/plugin plugins --format json | grep -q example_attribute_count'
check "the out-of-tree plugin with pkg-config" 'mkdir -p /tmp/plugin-pc && g++ -std=c++20 -O2 -fPIC -shared -fvisibility=hidden \
  $(pkg-config --cflags retarget-sdk) /tmp/examples/custom_plugin/attribute_count.cpp -o /tmp/plugin-pc/libexample_attribute_count.so &&
  retarget --data-dir :memory: --plugins /tmp/plugin-pc plugins --format json | grep -q example_attribute_count'
check "the embedding example with find_package" 'cmake -S /tmp/examples/embedding -B /tmp/embed -DCMAKE_BUILD_TYPE=Release >/dev/null &&
  cmake --build /tmp/embed >/dev/null && /tmp/embed/segment_count | grep -q "^members: a$"'
check "the embedding example with pkg-config" 'g++ -std=c++20 /tmp/examples/embedding/main.cpp $(pkg-config --cflags --libs retarget) -o /tmp/sc &&
  /tmp/sc | grep -q "^members: a$"'
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
