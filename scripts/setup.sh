#!/usr/bin/env bash
# Installs what Retarget needs from Debian's packages (only what is missing),
# then configures and builds one CMake preset (default: release).
#   scripts/setup.sh [release|debug|asan-ubsan|tsan|fuzz] [TARGET...]
# (fuzz: the clang build of the libFuzzer targets, see scripts/fuzz.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
shift || true
targets=("$@")

packages=(
  cmake make g++ pkg-config tzdata curl
  libboost-dev libyaml-cpp-dev libtbb-dev libgtest-dev libroaring-dev libsimdjson-dev
  nlohmann-json3-dev libcli11-dev libhowardhinnant-date-dev libssl-dev libcpp-httplib-dev librocksdb-dev libzstd-dev libre2-dev
  libbenchmark-dev help2man libopenmpi-dev openmpi-bin
  python3 python3-jsonschema python3-yaml
)
# The fuzz preset builds with clang and links Debian's libFuzzer runtime.
if [[ $preset == fuzz ]]; then
  packages+=(clang libclang-rt-14-dev)
fi
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y "${missing[@]}"
fi

cmake --preset "$preset" >/dev/null
if ((${#targets[@]})); then
  cmake --build --preset "$preset" -j2 --target "${targets[@]}"
else
  cmake --build --preset "$preset" -j2
fi
