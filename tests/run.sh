#!/bin/sh
# The whole Newswire test suite, from a clean clone on Debian 12:
# installs what it needs (apt-get, npm), builds, builds the Debian package,
# runs the cmocka unit tests, the integration tests (pytest; they start
# their own redis-server on a private port and real newswired processes) and
# the JavaScript client/widget tests (Node, headless Chromium), then the unit
# and integration tests again with an AddressSanitizer +
# UndefinedBehaviorSanitizer build. Stops what it started.
#
# Without NW_TEST_FAST=1 it then fuzzes every parser (libFuzzer, ~30 s
# each) and runs a publish/subscribe cycle under valgrind.
#
# Environment: NW_TEST_FAST=1 skips the sanitizer, fuzzing and valgrind
# passes; PYTEST_ARGS are passed to pytest (e.g. "-k wildcard -x").
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

deploy/install-deps.sh --test

werror=OFF
[ "${CI:-}" = "true" ] && werror=ON
jobs=$(nproc)

run_suite() {
    dir=$1
    shift
    echo "=== build $dir ($*)"
    cmake -S . -B "$dir" -DNW_WERROR="$werror" "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
    if [ "$dir" = build ]; then
        echo "=== Debian package ($dir)"
        (cd "$dir" && cpack -G DEB >/dev/null)
    fi
    echo "=== unit tests ($dir)"
    ctest --test-dir "$dir" --output-on-failure
    echo "=== integration tests ($dir)"
    # Debian's pytest and websockets live under /usr/bin/python3.
    NEWSWIRED="$top/$dir/daemon/newswired" \
        /usr/bin/python3 -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-} tests/integration
}

run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo

# JavaScript client, <newswire-alerts> widget and demo page (clients/js):
# Node's test runner and Debian's Chromium against the normal build.
echo "=== JavaScript client and widget tests (clients/js)"
NEWSWIRED="$top/build/daemon/newswired" sh "$top/clients/js/run-tests.sh"

if [ "${NW_TEST_FAST:-0}" != 1 ]; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DNW_SANITIZE=ON
    # Fuzz every parser for NW_FUZZ_SECONDS (default 30) each (a clang build
    # in build-fuzz/), then run the daemon under valgrind through a
    # publish/subscribe/shutdown cycle.
    echo "=== fuzzing (tests/fuzz)"
    tests/fuzz/run.sh
    echo "=== valgrind (tests/valgrind)"
    tests/valgrind/run.sh
fi
echo "=== all tests passed"
