#!/usr/bin/env bash
# Set up (packages, build into ./build), then run every test with ctest:
# unit tests, the ABI tests and the integration tests (Python, which start
# nginx / the fault server / proxies / redis themselves on loopback).
#   bash scripts/test.sh [extra ctest args, e.g. -R integration.legacy]
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${BUILD_DIR:-build}"
export BUILD_DIR
bash scripts/setup.sh
cmake --build "$BUILD_DIR"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 "$@"

# Sanitizer builds, the same ctest suites: everything under ASan+UBSan; under
# TSan, what runs threads (the plugins' event loops and workers, the host's
# renew/signal threads) — the unit, ABI and integration tests. Set
# DLHOST_SANITIZERS=0 to skip them locally.
if [[ "${DLHOST_SANITIZERS:-1}" != 0 ]]; then
  for san in address,undefined thread; do
    dir="$BUILD_DIR-${san%%,*}"
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DDLHOST_SANITIZE="$san" -DDLHOST_BUILD_BENCH=OFF
    cmake --build "$dir"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
      ctest --test-dir "$dir" --output-on-failure -j2 "$@"
  done
fi
