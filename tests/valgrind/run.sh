#!/bin/sh
# Runs newswired under valgrind (memcheck) through a publish/subscribe
# cycle: builds the normal daemon (no sanitizers) in build-valgrind/,
# starts a private redis-server on a free port and newswired under
# valgrind, waits for /readyz (valgrind makes startup slow), runs
# tests/valgrind/cycle.py (two WebSocket subscribers, JSON and msgpack, 20
# publishes with an update, a kill and an embargo, a resume, recent items),
# then sends SIGTERM. Fails unless the daemon exits 0 and valgrind reports
# no error: invalid accesses, uninitialised values, and definite or
# indirect leaks ("still reachable" blocks are not errors). Stops what it
# started.
#
# tests/valgrind/lws.supp holds the suppressions for third-party frames, if
# any (never for Newswire's own code). Environment: NW_VALGRIND_BUILD, the
# build directory (default build-valgrind).
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

build=${NW_VALGRIND_BUILD:-build-valgrind}
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON
py=/usr/bin/python3 # Debian's python3-websockets and python3-msgpack

echo "=== build $build (for valgrind)"
cmake -S . -B "$build" -DNW_BUILD_TESTS=OFF -DNW_SANITIZE=OFF -DNW_WERROR="$werror" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target newswired

work=$(mktemp -d "${TMPDIR:-/tmp}/nw-valgrind.XXXXXX")
redis_pid=""
nw_pid=""
cleanup() {
    for pid in $nw_pid $redis_pid; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to $2 seconds for process $1 to exit; its status is then in
# $exit_status (empty when it is still running).
wait_exit() {
    exit_status=""
    i=0
    while kill -0 "$1" 2>/dev/null && [ "$i" -lt "$(($2 * 10))" ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if ! kill -0 "$1" 2>/dev/null; then
        exit_status=0
        wait "$1" || exit_status=$?
    fi
}

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
    --dir "$work" --logfile "$work/redis.log" &
redis_pid=$!
i=0
until [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ]; do
    i=$((i + 1))
    [ "$i" -lt 100 ] || { echo "valgrind: redis-server did not answer" >&2; exit 1; }
    sleep 0.1
done

gw_port=$(free_port)
api_port=$(free_port)
set -- --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --track-fds=no \
    --num-callers=40 --log-file="$work/valgrind.log"
[ -s tests/valgrind/lws.supp ] && set -- "$@" --suppressions="$top/tests/valgrind/lws.supp"
echo "=== newswired under valgrind (gateway :$gw_port, api :$api_port, redis :$redis_port)"
valgrind "$@" "$build/daemon/newswired" --redis "redis://127.0.0.1:$redis_port/0" \
    --listen "127.0.0.1:$gw_port" --api-listen "127.0.0.1:$api_port" --log-level info \
    >"$work/newswired.log" 2>&1 &
nw_pid=$!

status=0
"$py" tests/valgrind/cycle.py "$gw_port" "$api_port" || status=1

kill -TERM "$nw_pid" 2>/dev/null || true
wait_exit "$nw_pid" 60
if [ -z "$exit_status" ]; then
    echo "valgrind: newswired did not exit within 60 s of SIGTERM" >&2
    status=1
else
    nw_pid=""
    summary=$(grep 'ERROR SUMMARY' "$work/valgrind.log" | tail -n 1)
    echo "valgrind: newswired exited with $exit_status; ${summary#==*== }"
    grep -E 'definitely lost:|indirectly lost:|still reachable:' "$work/valgrind.log" |
        sed 's/^==[0-9]*== */valgrind:   /' || true
    case "$summary" in
    *"ERROR SUMMARY: 0 errors"*) [ "$exit_status" -eq 0 ] || status=1 ;;
    *) status=1 ;;
    esac
fi

if [ "$status" -ne 0 ]; then
    echo "--- newswired log (last 60 lines)"
    tail -n 60 "$work/newswired.log"
    echo "--- valgrind log"
    cat "$work/valgrind.log"
    echo "=== valgrind FAILED" >&2
    exit 1
fi
echo "=== valgrind passed"
