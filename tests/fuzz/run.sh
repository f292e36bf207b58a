#!/bin/sh
# Fuzzes Newswire's parsers: builds the libFuzzer targets of tests/fuzz
# (clang, AddressSanitizer + UndefinedBehaviorSanitizer, in build-fuzz/),
# then runs each target for NW_FUZZ_SECONDS on a copy of its seed corpus
# (tests/fuzz/corpus/<target>/, never grown in place) plus its regressions,
# with its dictionary. Exits 1 if any target finds a crash, a broken
# invariant, a leak, a timeout or an out-of-memory, after printing the
# reproducer (kept in build-fuzz/artifacts/<target>/) and how to replay it.
#
# Environment: NW_FUZZ_SECONDS (default 30) per target; NW_FUZZ_TARGETS, a
# space-separated subset of the targets.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

secs=${NW_FUZZ_SECONDS:-30}
targets=${NW_FUZZ_TARGETS:-"fuzz_article_json fuzz_article_msgpack fuzz_op fuzz_topic fuzz_config fuzz_http_parse fuzz_json"}
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON

echo "=== build build-fuzz (clang, libFuzzer, ASan+UBSan)"
CC=clang cmake -S . -B build-fuzz -DNW_FUZZ=ON -DNW_BUILD_TESTS=OFF -DNW_WERROR="$werror" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz

work=$(mktemp -d "${TMPDIR:-/tmp}/nw-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

failed=""
for t in $targets; do
    bin="build-fuzz/tests/fuzz/$t"
    art="$top/build-fuzz/artifacts/$t"
    log="$art/fuzz.log"
    [ -x "$bin" ] || { echo "fuzz: no target $t" >&2; exit 1; }
    mkdir -p "$work/$t" "$art"
    rm -f "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-* "$art"/slow-unit-*
    cp tests/fuzz/corpus/"$t"/* "$work/$t/"
    # the first directory receives new inputs; the regressions are only read
    set -- "$work/$t"
    [ -d "tests/fuzz/regressions/$t" ] && set -- "$@" "tests/fuzz/regressions/$t"
    [ -f "tests/fuzz/dict/$t.dict" ] && set -- -dict="tests/fuzz/dict/$t.dict" "$@"

    echo "=== fuzz $t (${secs}s)"
    rc=0
    UBSAN_OPTIONS=print_stacktrace=1 "$bin" -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$art/" -print_final_stats=1 "$@" >"$log" 2>&1 ||
        rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        echo "fuzz: $t: ok, ${execs:-?} runs in ${secs}s, corpus $(ls "$work/$t" | wc -l) inputs"
        continue
    fi
    failed="$failed $t"
    echo "fuzz: $t FAILED (exit $rc) after ${execs:-?} runs; last lines of $log:"
    grep -v '^#[0-9]' "$log" | tail -n 40
    for a in "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-* "$art"/slow-unit-*; do
        [ -f "$a" ] || continue
        echo "fuzz: reproducer: $a"
        echo "fuzz:   replay:   $bin $a"
    done
done

if [ -n "$failed" ]; then
    echo "=== fuzzing FAILED:$failed" >&2
    exit 1
fi
echo "=== fuzzing passed ($targets)"
