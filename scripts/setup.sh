#!/usr/bin/env bash
# Install what is missing on Debian 12 (as root), then configure and build
# into ./build (or $BUILD_DIR) in Release, as users build it.
#   bash scripts/setup.sh            # packages + build
#   bash scripts/setup.sh --no-build # packages only
# apt is skipped entirely when every package is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${BUILD_DIR:-build}"
DO_BUILD=1
[[ "${1:-}" == "--no-build" ]] && DO_BUILD=0

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libcurl4-openssl-dev libssl-dev libhiredis-dev nlohmann-json3-dev libboost-dev
  libcli11-dev libspdlog-dev libgtest-dev
  libcpp-httplib-dev  # the HTTP layer of the status server (host/src/http)
  libidn2-dev  # internationalized host names in manifests, converted as curl does
  clang-14 libclang-rt-14-dev  # the clang build and its libFuzzer targets (tests/fuzz)
  nginx-light tinyproxy microsocks redis-server aria2 curl python3
  abigail-tools clang-format openssl ca-certificates binutils
  chromium  # headless, for the status page test (tests/integration/test_status.py)
)
# clients/node's tests (node --test): Debian's nodejs unless a node is on
# PATH already (Node 20 is what the client is written for; 18 runs its tests).
command -v node >/dev/null || PACKAGES+=(nodejs)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing packages: ${missing[*]}" >&2
    echo "setup: run as root (Debian 12) to install them" >&2
    exit 2
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep the packaged services (nginx on :80, redis on :6379, tinyproxy on
  # :8888) from being started by the install: the tests start their own
  # servers on free loopback ports and never use the system ones. Only a
  # policy-rc.d we create ourselves is removed again.
  made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  cleanup() { if [[ $made_policy -eq 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi; }
  trap cleanup EXIT
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
  cleanup
  trap - EXIT
else
  echo "setup: all packages present"
fi

if [[ $DO_BUILD -eq 1 ]]; then
  if [[ -f "$BUILD_DIR/CMakeCache.txt" ]]; then
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release
  else
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
  fi
  cmake --build "$BUILD_DIR" -j "$(nproc)"
  echo "setup: built $BUILD_DIR/bin/dlhost"
fi
