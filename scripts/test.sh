#!/usr/bin/env bash
# Set up, build and run every test, in stages, printing each stage's wall
# time and a summary at the end:
#   setup        packages, then the Release build in ./build (what users get)
#   test         ctest on ./build: unit, ABI, kit and integration tests (the
#                Python ones start nginx / the fault server / proxies / redis
#                themselves on loopback)
#   address      build-address: ASan+UBSan build, the same ctest suites
#   thread       build-thread: TSan build, the same ctest suites
#   clang        build-clang: the whole tree with clang-14 (its own warnings,
#                later -Wthread-safety and clang-tidy), and the libFuzzer
#                targets of tests/fuzz, each run for DLHOST_FUZZ_SECONDS
#
#   bash scripts/test.sh [extra ctest args, e.g. -R integration.legacy]
# DLHOST_SANITIZERS=0 skips address and thread, DLHOST_CLANG=0 skips clang,
# DLHOST_FUZZ_SECONDS=N (default 30) sets how long each fuzzer runs.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${BUILD_DIR:-build}"
export BUILD_DIR
FUZZ_SECONDS="${DLHOST_FUZZ_SECONDS:-30}"
JOBS=2  # the machines this runs on have two cores

TIMES=()
# stage NAME COMMAND...: runs it, prints and records its wall time. A failing
# stage stops the script (set -e) after saying how long it ran.
stage() {
  local name=$1 start=$SECONDS rc=0
  shift
  echo "test.sh: == $name"
  "$@" || rc=$?
  local took=$((SECONDS - start))
  TIMES+=("$(printf '%-10s %4d s%s' "$name" "$took" "$([[ $rc -eq 0 ]] || echo "  FAILED ($rc)")")")
  echo "test.sh: == $name: $took s$([[ $rc -eq 0 ]] || echo ", FAILED ($rc)")"
  return "$rc"
}

summary() {
  echo "test.sh: wall time per stage (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
  for t in "${TIMES[@]}"; do echo "test.sh:   $t"; done
  echo "test.sh:   total      $SECONDS s"
}
trap summary EXIT

# configure_and_build DIR CMAKE-ARGS...: (re)configures DIR and builds it.
configure_and_build() {
  local dir=$1
  shift
  if [[ -f "$dir/CMakeCache.txt" ]]; then
    cmake -S . -B "$dir" "$@"
  else
    cmake -S . -B "$dir" -G Ninja "$@"
  fi
  cmake --build "$dir" -j "$JOBS"
}

run_ctest() {
  local dir=$1
  shift
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp \
    ctest --test-dir "$dir" --output-on-failure -j "$JOBS" "$@"
}

stage setup bash scripts/setup.sh
stage test run_ctest "$BUILD_DIR" "$@"

# Sanitizer builds, the same ctest suites: everything under ASan+UBSan; under
# TSan, what runs threads (the plugins' event loops and workers, the host's
# renew/signal/status threads) — the unit, ABI and integration tests.
if [[ "${DLHOST_SANITIZERS:-1}" != 0 ]]; then
  for san in address,undefined thread; do
    dir="$BUILD_DIR-${san%%,*}"
    build_and_test() {
      configure_and_build "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDLHOST_SANITIZE="$san" \
        -DDLHOST_BUILD_BENCH=OFF
      run_ctest "$dir" "$@"
    }
    stage "${san%%,*}" build_and_test "$@"
  done
fi

# The clang build: the whole tree (tests included, so clang's warnings cover
# them too) with ASan+UBSan and libFuzzer's coverage instrumentation; its
# ctest runs only the fuzzers (label fuzz): the other suites ran above.
if [[ "${DLHOST_CLANG:-1}" != 0 ]]; then
  clang_stage() {
    configure_and_build "$BUILD_DIR-clang" \
      -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDLHOST_SANITIZE=address,undefined \
      -DDLHOST_FUZZ=ON -DDLHOST_FUZZ_SECONDS="$FUZZ_SECONDS" -DDLHOST_BUILD_BENCH=OFF
    run_ctest "$BUILD_DIR-clang" -L fuzz
  }
  stage clang clang_stage
fi
