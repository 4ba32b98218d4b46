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

# ---------------------------------------------------------------------------
# SANITIZER BUILD (to come): a second build with ASan+UBSan running the same
# tests, e.g.
#   cmake -S . -B build-asan -G Ninja -DDLHOST_SANITIZE=address,undefined
#   cmake --build build-asan
#   ctest --test-dir build-asan --output-on-failure -j2 "$@"
# and a ThreadSanitizer one (-DDLHOST_SANITIZE=thread) into build-tsan.
# ---------------------------------------------------------------------------
