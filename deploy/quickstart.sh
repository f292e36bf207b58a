#!/bin/sh
# Newswire quick start: installs the Debian packages, builds, starts a
# private redis-server (unix socket, data in ./run/redis) and newswired,
# prints the URLs, and stops both on Ctrl-C.
#
# Environment: NW_LISTEN (default 127.0.0.1:8080), NW_API_LISTEN
# (default 127.0.0.1:8081), NW_BUILD_DIR (default ./build).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
listen=${NW_LISTEN:-127.0.0.1:8080}
api=${NW_API_LISTEN:-127.0.0.1:8081}
build=${NW_BUILD_DIR:-build}
run="$top/run"

deploy/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNW_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)"

mkdir -p "$run/redis"
redis_pid=""
daemon_pid=""
cleanup() {
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
    exit 0
}
trap cleanup INT TERM

# A private Redis: no TCP port, a unix socket, append-only file every second.
redis-server --port 0 --unixsocket "$run/redis.sock" --unixsocketperm 700 \
    --dir "$run/redis" --appendonly yes --appendfsync everysec --save "" \
    --daemonize no --logfile "$run/redis.log" &
redis_pid=$!
for _ in $(seq 50); do [ -S "$run/redis.sock" ] && break; sleep 0.1; done

"$build/daemon/newswired" --redis "unix:$run/redis.sock" --listen "$listen" \
    --api-listen "$api" --set static_dir="$top/clients/js" \
    --set api_cors_origins="http://$listen" &
daemon_pid=$!
for _ in $(seq 50); do curl -fs "http://$api/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

cat <<MSG

Newswire is running (Ctrl-C stops it and its Redis).
  Demo (widget)    : http://$listen/
  WebSocket stream : ws://$listen/v1/stream?topics=monde/%23
  Publish (API)    : curl -X POST 'http://$api/v1/articles?topics=monde/afrique' \\
                       -H 'Content-Type: application/json' --data @tests/integration/data/article_v1.json
  Health           : http://$api/healthz   http://$api/readyz
  Metrics          : http://$api/metrics
  Redis            : redis-cli -s $run/redis.sock

MSG
wait "$daemon_pid" || true
daemon_pid=""
cleanup
