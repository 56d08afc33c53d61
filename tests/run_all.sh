#!/usr/bin/env bash
# Sets up, builds and runs every test, twice: a plain build with warnings as errors, then an
# AddressSanitizer + UndefinedBehaviorSanitizer build; then a third stage builds the libFuzzer
# targets with clang and runs each for a bounded time (ctest -L fuzz); then, as root, the Debian
# package test (tests/package/test_package.sh) packages the plain build. This is what CI runs
# (.ci/run); it must stay under 30 minutes on a 2-core machine, so each stage prints its start time.
#   bash tests/run_all.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=${JOBS:-2}

bash packaging/build-deps.sh --test

# conf.d/lb.toml listens on 44444, inside Linux's ephemeral port range (32768-60999): one of the
# suite's many outgoing connections can take it as its source port and make a profile test's bind
# fail. Reserve it, as the README tells users to (root only; it only adds to the list).
reserved=/proc/sys/net/ipv4/ip_local_reserved_ports
if [[ $(id -u) -eq 0 && -w $reserved ]] && ! grep -qw 44444 "$reserved"; then
  current=$(cat "$reserved")
  echo "${current:+$current,}44444" > "$reserved" && echo "=== reserved port 44444 (net.ipv4.ip_local_reserved_ports)"
fi

status=0
stage() { echo "=== $(date -u +%T) $*"; }
run_suite() {
  local dir=$1 parallel=$2; shift 2
  stage "configure and build $dir ($*)"
  cmake -S . -B "$dir" -DPROXYD_WERROR=ON -DPROXYD_BUILD_TESTS=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  stage "ctest $dir"
  # halt_on_error makes a sanitizer finding fail the test that triggered it.
  ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$dir" -j"$parallel" --output-on-failure --timeout 600 || status=1
}

# The plain build is configured for /usr so that the package test can package it (the binary has
# its plugin folder compiled in) instead of compiling everything a fourth time. testssl.sh takes a
# minute and checks what OpenSSL negotiates, which the sanitizers do not change: it runs once, in
# the sanitizer build, where its odd handshakes also meet ASan.
#
# Both suites run two tests at a time: the integration tests mostly wait on sockets and timers,
# so two at once halve the time (the sanitizer suite's 8.5 minutes, the plain suite's 5), and the
# tests that share the profiles' fixed ports hold a ctest RESOURCE_LOCK. (The plain suite ran
# alone until CI outgrew its 30 minutes; the sanitizer suite, slower and so more sensitive to
# contention, had run two at a time for many stops without a timing failure.)
#
# The plain build keeps line tables only (-g1: a crash's backtrace still names file and line),
# which compiles it a quarter faster than full debug information.
release_flags="-O2 -g1 -DNDEBUG"
run_suite build 2 -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$release_flags" \
  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=$release_flags" -DCMAKE_INSTALL_PREFIX=/usr -DPROXYD_TESTSSL=OFF
run_suite build-asan 2 -DCMAKE_BUILD_TYPE=Debug -DPROXYD_SANITIZE=ON

# The fuzz build compiles only what the fuzz targets need (the core, llhttp, the three plugins).
stage "configure and build build-fuzz (clang, libFuzzer)"
# 20 s per target keeps the whole run under CI's 30 minutes now that the suites have grown
# (tests/fuzz/README.md tells how to run them longer by hand).
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROXYD_WERROR=ON \
  -DPROXYD_FUZZ=ON -DPROXYD_FUZZ_SECONDS=20 -DPROXYD_BUILD_TESTS=ON >/dev/null
cmake --build build-fuzz -j"$jobs" --target proxyd_fuzz_targets
stage "ctest -L fuzz build-fuzz"
ctest --test-dir build-fuzz -L fuzz --output-on-failure || status=1

# The Debian package, from the plain build (Release-like: RelWithDebInfo, prefix /usr), installed
# with dpkg, served, purged.
if [[ $(id -u) -eq 0 ]]; then
  stage "package test (from build)"
  bash tests/package/test_package.sh --build-dir build || status=1
else
  echo "=== package test skipped: it installs a .deb with dpkg and needs root (uid is $(id -u))"
fi
stage "done, status $status"
exit $status
