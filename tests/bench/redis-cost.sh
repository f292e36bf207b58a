#!/usr/bin/env bash
# What storing one item costs Redis, against what the store alone must cost:
# Redis CPU (utime+stime of redis-server, AOF on, appendfsync everysec) per
# call of
#   noop    an EVALSHA with publish.lua's arguments that returns at once
#           (the price of a script call carrying a 512-byte item)
#   xadd    a plain XADD of the item (no script)
#   writes  a script doing only publish.lua's writes for a new story: the
#           wire's XADD, the topic index's XADD, the item's HSET
#   publish proto/publish.lua itself (checks, version rules, the writes)
# each N times (default 40,000) from 4 redis-benchmark clients, every call a
# new story on its own topic. Prints one line per case.
#
#   tests/bench/redis-cost.sh [N]
#
# Needs redis-server, redis-cli and redis-benchmark (redis-tools). Starts its
# own redis-server on a free port in a temporary directory; stops it and
# removes the directory on exit. Not part of the test command.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-40000}
work=$(mktemp -d /tmp/nw-redis-cost.XXXXXX)
redis_pid=""

cleanup() {
    [ -z "$redis_pid" ] || { kill "$redis_pid" && wait "$redis_pid"; } 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port=""
for _ in $(seq 100); do
    p=$((20000 + RANDOM % 12000))
    if [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ]; then port=$p; break; fi
done
[ -n "$port" ] || { echo "redis-cost: no free port" >&2; exit 1; }
redis-server --port "$port" --bind 127.0.0.1 --dir "$work" --appendonly yes \
    --appendfsync everysec --save "" --daemonize no --logfile "$work/redis.log" &
redis_pid=$!
cli() { redis-cli -p "$port" "$@"; }
for _ in $(seq 50); do [ "$(cli ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
[ "$(cli ping 2>/dev/null)" = PONG ] || { echo "redis-cost: redis-server did not start" >&2; exit 1; }

cat >"$work/noop.lua" <<'LUA'
return {'ok', '0-1', 'new', ARGV[3]}
LUA
cat >"$work/writes.lua" <<'LUA'
local prefix, uri, version, item = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[8], '*', 'kind', 'new',
  'uri', uri, 'version', version, 'urgency', ARGV[5], 'topics', ARGV[7], 'ts', ARGV[10],
  'item', item)
redis.call('XADD', prefix .. 'topic:' .. ARGV[7], 'MAXLEN', '~', ARGV[9], '*',
  'id', id, 'uri', uri, 'version', version)
redis.call('HSET', prefix .. 'item:' .. uri, 'uri', uri, 'version', version, 'item', item,
  'id', id, 'kind', 'new', 'topics', ARGV[7], 'urgency', ARGV[5], 'pubstatus', ARGV[6],
  'ts', ARGV[10])
return {'ok', id, 'new', version}
LUA

# A 512-byte item, canonical JSON as newswired sends it.
pad=$(printf '%*s' 430 '' | tr ' ' x)
item="{\"headline\":\"$pad\",\"type\":\"text\",\"uri\":\"urn:x\",\"version\":\"1\"}"

cpu() { awk '{ print $14 + $15 }' "/proc/$redis_pid/stat"; }
ticks=$(getconf CLK_TCK)

# measure NAME redis-benchmark-command...: Redis CPU per call, and the
# command's own time from INFO commandstats.
measure() {
    local name=$1 c0 c1 stat
    shift
    cli flushall >/dev/null
    cli config resetstat >/dev/null
    c0=$(cpu)
    redis-benchmark -p "$port" -c 4 -n "$n" -r 100000000 "$@" >"$work/out" 2>&1 ||
        { cat "$work/out" >&2; exit 1; }
    [ "$(cli info commandstats | tr -d '\r' | sed -n 's/.*failed_calls=\([0-9]*\).*/\1/p' |
        sort -n | tail -n 1)" = 0 ] || { echo "redis-cost: $name: calls failed" >&2; exit 1; }
    c1=$(cpu)
    stat=$(cli info commandstats | tr -d '\r' |
        sed -n "s/^cmdstat_$(echo "$1" | tr 'A-Z' 'a-z'):.*usec_per_call=\([0-9.]*\).*/\1/p")
    awk -v name="$name" -v c="$((c1 - c0))" -v t="$ticks" -v n="$n" -v s="$stat" 'BEGIN {
        printf "%-8s Redis CPU %6.1f us per call (the command itself: %s us)\n",
               name, c * 1e6 / t / n, s }'
}

# publish.lua's arguments (see its header): KEYS[1] the wire, then ARGV.
args=("{nw}:wire" "{nw}:" "urn:x:__rand_int__" 1 "$item" 3 usable "t__rand_int__" 100000
    1000 1764000000000 0 "" 0 86400 0)
run_script() {
    local name=$1 file=$2 sha
    sha=$(cli script load "$(cat "$file")")
    measure "$name" EVALSHA "$sha" 1 "${args[@]}"
}

echo "redis-cost: Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), AOF everysec, $n calls from 4 clients, 512-byte items"
run_script noop "$work/noop.lua"
measure xadd XADD "{nw}:wire" MAXLEN '~' 100000 '*' item "$item"
run_script writes "$work/writes.lua"
run_script publish "$top/proto/publish.lua"
