#!/usr/bin/env bash
# Start a private nchan instance on loopback for side-by-side benchmarks.
# Copied unchanged (but for these two lines) from the team's shared peer setup
# (shared/peers/nchan/), so that CI and tests/bench/compare.sh have it.
#   start.sh DIR PORT [WORKERS] [REDIS_URL]   -> prints the master PID
#   stop:  kill -QUIT "$(cat DIR/nginx.pid)"
# Needs: apt-get install -y nginx-light libnginx-mod-nchan
# Publish: curl -d 'msg' http://127.0.0.1:PORT/pub/CHANNEL
# Subscribe (WebSocket): ws://127.0.0.1:PORT/sub/CHANNEL
set -eu
dir=${1:?DIR} port=${2:?PORT} workers=${3:-2} redis=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir/tmp"
dir=$(cd "$dir" && pwd)
if [ -n "$redis" ]; then url="nchan_redis_url \"$redis\";"; use="nchan_use_redis on;"; else url=""; use=""; fi
sed -e "s#@PREFIX@#$dir#g" -e "s#@PORT@#$port#g" -e "s#@WORKERS@#$workers#g" \
    -e "s#@REDIS_URL@#$url#g" -e "s#@USE_REDIS@#$use#g" "$here/nginx.conf.in" > "$dir/nginx.conf"
nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
for _ in $(seq 50); do [ -s "$dir/nginx.pid" ] && break; sleep 0.1; done
cat "$dir/nginx.pid"
