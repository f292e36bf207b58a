#!/usr/bin/env bash
# Newswire against nchan on this machine, each load on one then the other
# (both servers up, the one not measured idle), with the same load generator
# (nwbench) and the same loads; (a), (b) and (c) three times each way, the
# medians count:
#   (a) 1 topic x 10,000 subscribers x 100 items, as fast as possible
#   (b) the same at 10 items/s (latency)
#   (c) 1,000 topics x 10,000 subscribers, 10,000 items as fast as possible
#   (d) 30,000 idle connections (memory per connection)
#   (e) ingest only: 20,000 items of 4 KB over 4 keep-alive connections
# plus 1,000 and 5,000 subscribers at 10 items/s for the latency plot.
# Prints one table (with the Newswire/nchan ratios) and writes
# docs/BENCHMARKS.md and docs/bench-latency.png.
#
#   tests/bench/compare.sh          or   cmake --build build --target bench
#
# Needs root the first time (apt-get: the build dependencies, nginx-light,
# libnginx-mod-nchan, gnuplot-nox). Builds Newswire (Release) in build-bench/.
# Takes 5-7 minutes (plus the build). Stops everything it started, whatever happens.
#
# Environment:
#   NEWSWIRED=PATH      measure this newswired binary instead of build-bench's
#   NW_BENCH_QUICK=1    small loads: checks the script, figures not comparable
#   NW_BENCH_KEEP=1     keep the work directory (server logs, nwbench output)
#   NW_BENCH_DOCS=0     print the table only, leave docs/ alone
#   NW_BENCH_WAIT_QUIET=S  wait up to S seconds (default 60) for the CPU to be
#                       idle (<= 10% busy) before starting
#   NW_BENCH_REPS=N     runs of (a), (b) and (c) on each system, alternating
#                       (default 3; the median of each figure counts)
#   NW_BENCH_TRIES=N    attempts at a run during which other processes took
#                       more than 15% of a CPU (default 2; the quietest counts)
#   NW_BENCH_NICE=N     nice level of the servers and the generator (default
#                       -10 when allowed; 0 leaves the priority alone)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
here="$top/tests/bench"
build="$top/build-bench"
quick=${NW_BENCH_QUICK:-0}
write_docs=${NW_BENCH_DOCS:-1}
started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
t_start=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

if [ "$quick" = 1 ]; then
    SUBS=2000 ITEMS=20 TOPICS=100 TOPIC_ITEMS=1000 IDLE=3000 INGEST=2000 LAT_SUBS="200 1000"
else
    SUBS=10000 ITEMS=100 TOPICS=1000 TOPIC_ITEMS=10000 IDLE=30000 INGEST=20000 LAT_SUBS="1000 5000"
fi
REPS=${NW_BENCH_REPS:-3}   # runs of (a), (b), (c) on each system, alternating
TRIES=${NW_BENCH_TRIES:-2} # attempts at a run disturbed by other processes
NOISE_MAX=0.15             # ... taking more than this share of one CPU
BODY=512       # publish body bytes for (a)-(c): a short news alert
INGEST_BODY=4096

say() { printf '%s\n' "compare: $*" >&2; }
die() { say "$*"; exit 1; }

# --- dependencies and build -------------------------------------------------

install_bench_deps() {
    local missing=""
    command -v nginx >/dev/null 2>&1 || missing="$missing nginx-light"
    [ -e /usr/lib/nginx/modules/ngx_nchan_module.so ] || missing="$missing libnginx-mod-nchan"
    command -v gnuplot >/dev/null 2>&1 || missing="$missing gnuplot-nox"
    command -v ss >/dev/null 2>&1 || missing="$missing iproute2"
    command -v pgrep >/dev/null 2>&1 || missing="$missing procps"
    [ -z "$missing" ] && return 0
    [ "$(id -u)" = 0 ] || die "missing packages:$missing (run as root to install them)"
    say "installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing >/dev/null
}

"$top/deploy/install-deps.sh"
install_bench_deps
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DNW_BUILD_TESTS=OFF >/dev/null
if [ -n "${NEWSWIRED:-}" ]; then
    cmake --build "$build" -j"$(nproc)" --target nwbench nwfloor >/dev/null
else
    cmake --build "$build" -j"$(nproc)" --target newswired nwbench nwfloor >/dev/null
    NEWSWIRED=$build/daemon/newswired
fi
nwbench="$build/tests/bench/nwbench"
nwfloor="$build/tests/bench/nwfloor"
[ -x "$NEWSWIRED" ] || die "no newswired at $NEWSWIRED"

# The servers, Redis and the generator (everything started from here on)
# run at a higher priority than the rest of the machine when we may: other
# work then disturbs the figures less. Both systems are treated alike.
nice_level=${NW_BENCH_NICE:--10}
if [ "$nice_level" != 0 ] && ! renice -n "$nice_level" -p $$ >/dev/null 2>&1; then
    nice_level=0
fi

# Both servers and the generator hold up to 20,000 files each.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 16000 ] ||
    die "open files limit $(ulimit -n): too low for 15,000 connections per process"

# Percentage of the CPU time used over one second, by anything: the servers
# and the generator share the cores with whatever else runs.
cpu_busy() {
    local u1 n1 s1 i1 w1 q1 sq1 st1 u2 n2 s2 i2 w2 q2 sq2 st2 busy total
    read -r _ u1 n1 s1 i1 w1 q1 sq1 st1 _ </proc/stat
    sleep 1
    read -r _ u2 n2 s2 i2 w2 q2 sq2 st2 _ </proc/stat
    busy=$(((u2 + n2 + s2 + q2 + sq2 + st2) - (u1 + n1 + s1 + q1 + sq1 + st1)))
    total=$((busy + i2 + w2 - i1 - w1))
    echo $((total > 0 ? 100 * busy / total : 0))
}
# Wait (up to NW_BENCH_WAIT_QUIET seconds) for the others to finish.
busy_before=$(cpu_busy)
quiet_deadline=$(($(date +%s) + ${NW_BENCH_WAIT_QUIET:-60}))
while [ "$busy_before" -gt 10 ] && [ "$(date +%s)" -lt "$quiet_deadline" ]; do
    say "the machine is busy (${busy_before}% CPU in use): waiting for it to calm down"
    sleep 4
    busy_before=$(cpu_busy)
done
[ "$busy_before" -le 10 ] ||
    say "warning: the machine is busy (${busy_before}% CPU in use before the run): figures will be skewed"

# --- what we start, and how it all stops --------------------------------------

work=$(mktemp -d /tmp/nwbench.XXXXXX)
pids=()        # redis-server and newswired processes, in start order
nginx_dirs=()  # nchan instances (nginx daemonizes: stopped through its pid file)
bench_pid=""   # the nwbench running
failures=0

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

stop_nginx() {
    local dir=$1 pid i
    [ -s "$dir/nginx.pid" ] || return 0
    pid=$(cat "$dir/nginx.pid")
    kill -QUIT "$pid" 2>/dev/null || return 0
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# Stops the processes of pids[] but redis-server, and forgets them.
stop_all_newswired() {
    local i keep=()
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        if [ "${pids[i]}" = "$redis_pid" ]; then keep+=("$redis_pid"); else stop_pid "${pids[i]}"; fi
    done
    pids=("${keep[@]}")
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local i
    set +e
    # nwbench's workers die with it (PR_SET_PDEATHSIG)
    [ -z "$bench_pid" ] || { kill -TERM "$bench_pid"; wait "$bench_pid"; } 2>/dev/null
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
    for i in "${nginx_dirs[@]}"; do stop_nginx "$i"; done
    if [ "${NW_BENCH_KEEP:-0}" = 1 ]; then say "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

used_ports=" "
# A port nobody listens on. Binding is not proof: with SO_REUSEPORT (which
# both servers use) a second listener silently shares the port.
free_port() {
    local p
    for _ in $(seq 500); do
        p=$((20000 + RANDOM % 12000))
        case "$used_ports" in *" $p "*) continue ;; esac
        if [ -z "$(ss -Htln "sport = :$p")" ]; then
            used_ports="$used_ports$p "
            echo "$p"
            return 0
        fi
    done
    die "no free port"
}

# Fails unless every listener on port belongs to one of the given pids.
check_owner() {
    local port=$1 p
    shift
    for p in $(ss -Htlnp "sport = :$port" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
        case " $* " in *" $p "*) ;; *) die "port $port is also served by pid $p: not ours" ;; esac
    done
}

# Starts a private redis-server in $work/NAME, as Newswire's durability
# contract has it (an append-only file, fsync every second); sets
# started_redis_port and started_redis_pid.
start_redis() {
    local name=$1
    started_redis_port=$(free_port)
    mkdir -p "$work/$name"
    redis-server --port "$started_redis_port" --bind 127.0.0.1 --dir "$work/$name" \
        --appendonly yes --appendfsync everysec --save "" --daemonize no \
        --logfile "$work/$name.log" &
    started_redis_pid=$!
    pids+=("$started_redis_pid")
    for _ in $(seq 50); do
        [ "$(redis-cli -p "$started_redis_port" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    die "redis-server did not start (see $work/$name.log)"
}

# Stops pid (one of pids[]) and forgets it.
forget_pid() {
    local p keep=()
    stop_pid "$1"
    for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    pids=("${keep[@]}")
}

start_redis redis
redis_port=$started_redis_port redis_pid=$started_redis_pid

# Starts newswired on 127.0.0.1:$1 (gateway) and :$2 (API); sets nw_pid.
# gateway_threads=2: one lws loop per core, both listening on the port with
# SO_REUSEPORT, which also lets several newswired share it.
start_newswired() {
    local ws=$1 api=$2 log=$3
    "$NEWSWIRED" --redis "redis://127.0.0.1:$redis_port" --listen "127.0.0.1:$ws" \
        --api-listen "127.0.0.1:$api" --log-level warn --set gateway_threads=2 \
        --set max_connections=0 --set max_connections_per_ip=0 \
        --set session_queue_bytes=4m >"$log" 2>&1 &
    nw_pid=$!
    pids+=("$nw_pid")
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$api/readyz" >/dev/null 2>&1 && return 0
        kill -0 "$nw_pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$log" >&2
    die "newswired did not become ready"
}

# Starts nchan (2 workers; in-memory storage, or in Redis at the URL $3) on
# 127.0.0.1:$1; sets nchan_pid.
start_nchan() {
    local port=$1 dir=$2 redis_url=${3:-}
    nginx_dirs+=("$dir")
    nchan_pid=$("$here/peers/nchan/start.sh" "$dir" "$port" 2 ${redis_url:+"$redis_url"})
    for _ in $(seq 50); do
        curl -s -o /dev/null "http://127.0.0.1:$port/nchan_status" && return 0
        sleep 0.1
    done
    die "nchan did not start (see $dir/error.log)"
}

# field LINE KEY: a value of a RESULT line.
field() {
    echo "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"
}

# run NAME nwbench-args...: runs nwbench, keeps its RESULT line in $work/NAME.
# A run during which other processes took more than NOISE_MAX of a CPU is
# run again (TRIES in all) and the quietest attempt is kept; memory figures
# always come from the first attempt, the one on a fresh server.
run() {
    local name=$1 try line best="" best_noise=9 noise rss="" pss=""
    shift
    for ((try = 1; try <= TRIES; try++)); do
        say "$name: nwbench $*"
        # in the background, so that a signal stops the script at once
        "$nwbench" --label "$name" "$@" >"$work/$name.out.$try" 2>&1 &
        bench_pid=$!
        wait "$bench_pid" || true
        bench_pid=""
        sed 's/^/    /' "$work/$name.out.$try" | grep -v '^    RESULT' >&2
        line=$(grep '^RESULT ' "$work/$name.out.$try" | tail -n 1 || true)
        [ -n "$line" ] || { say "$name: no result"; line="RESULT ok=0"; }
        if [ "$try" = 1 ]; then
            rss=$(field "$line" rss_kib_per_conn) pss=$(field "$line" pss_kib_per_conn)
        else
            line=$(echo "$line" | sed -e "s/ rss_kib_per_conn=[^ ]*/ rss_kib_per_conn=$rss/" \
                -e "s/ pss_kib_per_conn=[^ ]*/ pss_kib_per_conn=$pss/")
        fi
        noise=$(field "$line" other_cpu_share)
        noise=${noise:-0}
        if awk -v a="$noise" -v b="$best_noise" 'BEGIN { exit !(a < b) }'; then
            best=$line best_noise=$noise
        fi
        awk -v a="$noise" -v m="$NOISE_MAX" 'BEGIN { exit !(a > m) }' || break
        [ "$try" -lt "$TRIES" ] || break
        say "$name: other processes took $noise of a CPU meanwhile: once more"
        for _ in 1 2 3 4 5; do [ "$(cpu_busy)" -le 10 ] && break; done
    done
    case "$best" in *" ok=1"*) ;; *) failures=$((failures + 1)) ;; esac
    echo "$best" >"$work/$name"
    sleep 1 # let the server close the previous run's connections
}

# median_of NAME N: $work/NAME from the RESULT lines of NAME.1 .. NAME.N:
# the median of each figure; the worst of each check (lost, duplicated,
# misrouted, errors: the largest; ok: the smallest); memory per connection
# from the first run, the one on a fresh server.
median_of() {
    local name=$1 n=$2 i files=()
    for ((i = 1; i <= n; i++)); do files+=("$work/$name.$i"); done
    awk '
        function isnum(v) { return v ~ /^-?[0-9]+(\.[0-9]+)?$/ }
        FNR == 1 { f++ }
        {
            for (i = 2; i <= NF; i++) {
                p = index($i, "="); k = substr($i, 1, p - 1)
                if (f == 1) order[++nk] = k
                val[k, f] = substr($i, p + 1)
            }
        }
        END {
            line = "RESULT"
            for (j = 1; j <= nk; j++) {
                k = order[j]; v = val[k, 1]
                if (k ~ /^(rss_kib_per_conn|pss_kib_per_conn|server_cpu_us_per_conn)$/ || !isnum(v)) {
                } else if (k ~ /^(lost|dup|misrouted|foreign|unacked|disconnects|errors|pub_errors|failed)$/) {
                    for (x = 2; x <= f; x++) if (val[k, x] + 0 > v + 0) v = val[k, x]
                } else if (k == "ok") {
                    for (x = 2; x <= f; x++) if (val[k, x] + 0 < v + 0) v = val[k, x]
                } else {
                    for (x = 1; x <= f; x++) a[x] = val[k, x] + 0
                    for (x = 2; x <= f; x++)
                        for (y = x; y > 1 && a[y - 1] > a[y]; y--) { t = a[y]; a[y] = a[y - 1]; a[y - 1] = t }
                    v = f % 2 ? a[(f + 1) / 2] : (a[f / 2] + a[f / 2 + 1]) / 2
                }
                line = line " " k "=" v
            }
            print line
        }' "${files[@]}" >"$work/$name"
}

# get NAME KEY: a value of NAME's RESULT line (empty when absent).
get() {
    sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$work/$1" 2>/dev/null
}

# --- the loads -----------------------------------------------------------------

# Both servers run side by side, each idle while the other is measured, and
# the loads alternate between them: the machine's speed drifts over minutes
# (by up to half here), so a ratio is only fair between runs close in time.
# (a), (b) and (c) are run REPS times each way; their figures are medians.

say "newswired: $NEWSWIRED"
ws=$(free_port)
api=$(free_port)
start_newswired "$ws" "$api" "$work/newswired.log"
check_owner "$ws" "$nw_pid"
nw=(--target newswire --ws "127.0.0.1:$ws" --api "127.0.0.1:$api" --server-pid "$nw_pid"
    --aux-pid "$redis_pid")
port=$(free_port)
start_nchan "$port" "$work/nchan"
check_owner "$port" $(pgrep -P "$nchan_pid") "$nchan_pid"
nc=(--target nchan --ws "127.0.0.1:$port" --server-pid "$nchan_pid" --server-children)

# The floor (tests/bench/floor.c): about the least work a fan-out server
# can do (no storage, no validation; one frame per publish, written at
# once), speaking nchan's protocol. What it reaches is what this machine
# allows any server with the generator on the same cores.
port=$(free_port)
"$nwfloor" --listen "127.0.0.1:$port" --threads 2 >"$work/nwfloor.log" 2>&1 &
floor_pid=$!
pids+=("$floor_pid")
for _ in $(seq 50); do
    [ -n "$(ss -Htln "sport = :$port")" ] && break
    sleep 0.1
done
check_owner "$port" "$floor_pid"
fl=(--target nchan --ws "127.0.0.1:$port" --server-pid "$floor_pid")

# nchan storing its messages in Redis (nchan_use_redis), on a private Redis
# set up like Newswire's: the peer that, like Newswire, keeps what it is
# given in Redis. Measured in (a)-(c) as a reference; the targets are
# against nchan in memory.
start_redis nchan-redis
ncr_redis_pid=$started_redis_pid
port=$(free_port)
start_nchan "$port" "$work/nchan-redis" "redis://127.0.0.1:$started_redis_port"
check_owner "$port" $(pgrep -P "$nchan_pid") "$nchan_pid"
nr=(--target nchan --ws "127.0.0.1:$port" --server-pid "$nchan_pid" --server-children
    --aux-pid "$ncr_redis_pid")

# both NAME nwbench-args...: the load against Newswire (nw_NAME), then nchan
# (nc_NAME).
both() {
    local name=$1
    shift
    run "nw_$name" "${nw[@]}" "$@"
    run "nc_$name" "${nc[@]}" "$@"
}

# Memory per connection comes from the first run of (a), on fresh servers.
for ((r = 1; r <= REPS; r++)); do
    both "a.$r" -n "$SUBS" -t 1 -m "$ITEMS" -s "$BODY"
    run "fl_a.$r" "${fl[@]}" -n "$SUBS" -t 1 -m "$ITEMS" -s "$BODY"
    run "nr_a.$r" "${nr[@]}" -n "$SUBS" -t 1 -m "$ITEMS" -s "$BODY"
    both "b.$r" -n "$SUBS" -t 1 -m "$ITEMS" -r 10 -s "$BODY"
    run "fl_b.$r" "${fl[@]}" -n "$SUBS" -t 1 -m "$ITEMS" -r 10 -s "$BODY"
    run "nr_b.$r" "${nr[@]}" -n "$SUBS" -t 1 -m "$ITEMS" -r 10 -s "$BODY"
    both "c.$r" -n "$SUBS" -t "$TOPICS" -m "$TOPIC_ITEMS" -s "$BODY"
    run "fl_c.$r" "${fl[@]}" -n "$SUBS" -t "$TOPICS" -m "$TOPIC_ITEMS" -s "$BODY"
    run "nr_c.$r" "${nr[@]}" -n "$SUBS" -t "$TOPICS" -m "$TOPIC_ITEMS" -s "$BODY"
done
forget_pid "$floor_pid"
stop_nginx "$work/nchan-redis"
forget_pid "$ncr_redis_pid"
for t in a b c; do
    for sys in nw nc fl nr; do median_of "${sys}_$t" "$REPS"; done
done
for n in $LAT_SUBS; do
    both "l$n" -n "$n" -t 1 -m "$ITEMS" -r 10 -s "$BODY"
done
both e --mode ingest -m "$INGEST" -s "$INGEST_BODY" -p 4
stop_all_newswired
stop_nginx "$work/nchan"

# (d): 30,000 connections do not fit in one process (20,000 open files):
# two newswired share one gateway port through SO_REUSEPORT; the kernel
# spreads the connections over their four listening sockets. Fresh
# instances of both, one after the other.
ws=$(free_port)
api1=$(free_port)
api2=$(free_port)
start_newswired "$ws" "$api1" "$work/newswired-d1.log"
nw_d1=$nw_pid
start_newswired "$ws" "$api2" "$work/newswired-d2.log"
nw_d2=$nw_pid
check_owner "$ws" "$nw_d1" "$nw_d2"
run nw_d --target newswire --mode idle --ws "127.0.0.1:$ws" --api "127.0.0.1:$api1" \
    -n "$IDLE" -t 1 --settle-ms 2000 --server-pid "$nw_d1" --server-pid "$nw_d2"
stop_all_newswired
stop_pid "$redis_pid"
pids=()

# (d) for nchan: 2 workers of 19,900 connections.
port=$(free_port)
start_nchan "$port" "$work/nchan-d"
check_owner "$port" $(pgrep -P "$nchan_pid") "$nchan_pid"
run nc_d --target nchan --mode idle --ws "127.0.0.1:$port" -n "$IDLE" -t 1 --settle-ms 2000 \
    --server-pid "$nchan_pid" --server-children
stop_nginx "$work/nchan-d"

# --- the table -------------------------------------------------------------------

# num VALUE DECIMALS: a figure, or "-" when there is none.
num() {
    if [ -z "$1" ]; then echo "-"; else LC_ALL=C printf "%.${2}f" "$1"; fi
}
# ratio A B: A/B with 2 decimals, "-" when either is missing or B is 0.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-";
                                     else printf "%.2f", a / b }'
}
checks() {
    case "$(get "$1" mode)" in fanout) ;; *) echo "-"; return ;; esac
    echo "$(get "$1" lost)/$(get "$1" dup)/$(get "$1" misrouted)"
}

# row TEST SYSTEM NAME: one table row from a run's RESULT; the system is
# marked † when other processes took more than NOISE_MAX of a CPU.
row() {
    local test=$1 sys=$2 n=$3 rate lat50 lat99 rss conn
    if awk -v a="$(get "$n" other_cpu_share)" -v m="$NOISE_MAX" 'BEGIN { exit !(a + 0 > m) }'; then
        sys="$sys †"
    fi
    case "$(get "$n" mode)" in
    idle) rate="" ;;
    ingest) rate=$(get "$n" items_per_s) ;;
    *) rate=$(get "$n" deliveries_per_s) ;;
    esac
    rss="" conn=""
    case "$n" in *_a | *_d) rss=$(get "$n" rss_kib_per_conn) conn=$(get "$n" conn_per_s) ;; esac
    if [ "$(get "$n" mode)" = idle ]; then lat50="" lat99=""; else
        lat50=$(get "$n" p50_ms) lat99=$(get "$n" p99_ms); fi
    local cpu="" gen=""
    [ "$(get "$n" mode)" = idle ] || { cpu=$(get "$n" server_cpu_us_per_op); gen=$(get "$n" gen_cpu_us_per_op); }
    echo "| $test | $sys | $(num "$rate" 0) | $(num "$cpu" 2) | $(num "$gen" 2) | $(num "$lat50" 1) | $(num "$lat99" 1) | $(checks "$n") | $(num "$rss" 2) | $(num "$conn" 0) |"
}

# ratio_row NW NC [LABEL]: NW/NC for each figure (LABEL: Newswire/nchan).
ratio_row() {
    local a=$1 b=$2 label=${3:-Newswire/nchan} rate_key=deliveries_per_s
    [ "$(get "$a" mode)" = ingest ] && rate_key=items_per_s
    local r1 r2 r3 r4 r5 r6 r7
    if [ "$(get "$a" mode)" = idle ]; then r1="-" r2="-" r3="-" r4="-" r5="-"; else
        r1=$(ratio "$(get "$a" $rate_key)" "$(get "$b" $rate_key)")
        r2=$(ratio "$(get "$a" server_cpu_us_per_op)" "$(get "$b" server_cpu_us_per_op)")
        r3=$(ratio "$(get "$a" gen_cpu_us_per_op)" "$(get "$b" gen_cpu_us_per_op)")
        r4=$(ratio "$(get "$a" p50_ms)" "$(get "$b" p50_ms)")
        r5=$(ratio "$(get "$a" p99_ms)" "$(get "$b" p99_ms)")
    fi
    r6="-" r7="-"
    case "$a" in *_a | *_d)
        r6=$(ratio "$(get "$a" rss_kib_per_conn)" "$(get "$b" rss_kib_per_conn)")
        r7=$(ratio "$(get "$a" conn_per_s)" "$(get "$b" conn_per_s)") ;;
    esac
    echo "| | **$label** | **$r1** | **$r2** | **$r3** | **$r4** | **$r5** | | **$r6** | **$r7** |"
}

# k 30000 -> 30,000
k() { echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'; }
table="$work/table.md"
{
    echo "| test | system | deliveries/s | server CPU µs/delivery | generator CPU µs/delivery | p50 ms | p99 ms | lost/dup/misrouted | RSS KiB/conn | conn/s |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | :---: | ---: | ---: |"
    for t in a b c d e; do
        case $t in
        a) label="(a) 1 topic × $(k "$SUBS") subscribers × $ITEMS items, as fast as possible" ;;
        b) label="(b) 1 topic × $(k "$SUBS") subscribers × $ITEMS items at 10 items/s" ;;
        c) label="(c) $(k "$TOPICS") topics × $(k "$SUBS") subscribers × $(k "$TOPIC_ITEMS") items, as fast as possible" ;;
        d) label="(d) $(k "$IDLE") idle connections" ;;
        e) label="(e) ingest, no subscriber: $(k "$INGEST") items of 4 KB, 4 keep-alive connections (items/s, µs/item, publish round trip)" ;;
        esac
        row "$label" Newswire "nw_$t"
        row "" nchan "nc_$t"
        ratio_row "nw_$t" "nc_$t"
        case $t in a | b | c)
            row "" "floor (nwfloor)" "fl_$t"
            ratio_row "fl_$t" "nc_$t" "floor/nchan"
            row "" "nchan + Redis" "nr_$t"
            ratio_row "nw_$t" "nr_$t" "Newswire/(nchan + Redis)" ;;
        esac
    done
} >"$table"

busy_after=$(cpu_busy)
[ "$busy_after" -le 10 ] ||
    say "warning: the machine was busy after the run (${busy_after}% CPU): figures may be skewed"

redis_line="Redis CPU (Newswire's store, not in the server column), µs per delivery or item:"
for t in a b c e; do
    redis_line="$redis_line ($t) $(num "$(get "nw_$t" aux_cpu_us_per_op)" 2)"
done
redis_line="$redis_line; nchan + Redis's Redis:"
for t in a b c; do
    redis_line="$redis_line ($t) $(num "$(get "nr_$t" aux_cpu_us_per_op)" 2)"
done
# pct SHARE: a share of one CPU in percent (tick rounding can make it < 0).
pct() { awk -v a="$1" 'BEGIN { a *= 100; printf "%.0f", a < 0 ? 0 : a }'; }
noise_line="Other processes' CPU during each measured phase, % of one CPU (†: over $(awk -v m="$NOISE_MAX" 'BEGIN { print m * 100 }')%, figures skewed):"
for t in a b c e; do
    noise_line="$noise_line ($t) $(pct "$(get "nw_$t" other_cpu_share)")/$(pct "$(get "nc_$t" other_cpu_share)")"
done
noise_line="$noise_line (Newswire/nchan)"

echo
cat "$table"
echo
echo "$redis_line"
echo "$noise_line"
elapsed=$(($(date +%s) - t_start))
say "done in ${elapsed} s; $failures run(s) not clean (loss, duplicate, misroute or error)"

[ "$write_docs" = 1 ] || exit $((failures > 0))

# --- docs/bench-latency.png ---------------------------------------------------------

mkdir -p "$top/docs"
plot_data="$work/latency.dat"
{
    echo "# subscribers newswire_p50 newswire_p99 nchan_p50 nchan_p99 (ms)"
    for n in $LAT_SUBS "$SUBS"; do
        if [ "$n" = "$SUBS" ]; then a=nw_b b=nc_b; else a="nw_l$n" b="nc_l$n"; fi
        echo "$n $(get "$a" p50_ms) $(get "$a" p99_ms) $(get "$b" p50_ms) $(get "$b" p99_ms)"
    done
} >"$plot_data"
term="pngcairo size 900,540 font ',11'"
echo 'set terminal' | gnuplot 2>&1 | grep -q pngcairo || term="png size 900,540"
gnuplot <<GP
set terminal $term
set output "$top/docs/bench-latency.png"
set title "Delivery latency, one topic, 10 items/s (publish sent -> frame received)"
set xlabel "subscribers"
set ylabel "latency (ms)"
set key top left
set grid
set xtics ($(for n in $LAT_SUBS "$SUBS"; do printf '"%s" %s,' "$((n / 1000))k" "$n"; done | sed 's/,$//'))
set yrange [0:*]
plot "$plot_data" using 1:2 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "Newswire p50", \
     "" using 1:3 with linespoints lw 2 pt 5 lc rgb "#1f77b4" dt 2 title "Newswire p99", \
     "" using 1:4 with linespoints lw 2 pt 7 lc rgb "#d62728" title "nchan p50", \
     "" using 1:5 with linespoints lw 2 pt 5 lc rgb "#d62728" dt 2 title "nchan p99"
GP

# --- docs/BENCHMARKS.md ------------------------------------------------------------

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$NEWSWIRED" = "$build/daemon/newswired" ]; then
    newswire_v="newswired built from this tree at $commit"
    if [ -n "$(git -C "$top" status --porcelain -- daemon proto 2>/dev/null)" ]; then
        newswire_v="$newswire_v (with uncommitted changes in daemon/ or proto/)"
    fi
    newswire_v="$newswire_v, Release"
else
    newswire_v="\`$NEWSWIRED\` ($("$NEWSWIRED" --version 2>/dev/null | head -n 1)), given as NEWSWIRED; this tree is at $commit"
fi
nginx_v=$(nginx -v 2>&1 | sed 's/^nginx version: //')
nchan_v=$(dpkg-query -W -f '${Version}' libnginx-mod-nchan 2>/dev/null || echo unknown)
redis_v=$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')
cmd="tests/bench/compare.sh"
unclean=""
if [ "$failures" -gt 0 ]; then
    unclean="
**$failures run(s) were not clean** (a loss, duplicate, misrouted item or
error): see the lost/dup/misrouted column and the nwbench output."
fi
[ "$quick" = 1 ] && cmd="NW_BENCH_QUICK=1 $cmd"

cat >"$top/docs/BENCHMARKS.md" <<MD
# Benchmarks: Newswire and nchan

Written by \`tests/bench/compare.sh\` on $started_at (took ${elapsed} s). Run it
again to refresh this page; absolute figures drift from run to run and
machine to machine, the ratios much less.

\`\`\`sh
$cmd              # or: cmake --build build --target bench
\`\`\`

## Machine

- CPU: $cpu_model, $(nproc) cores; memory $mem
- Kernel: $(uname -srvm)
- CPU in use by other processes: ${busy_before}% just before the run,
  ${busy_after}% just after (load average before: $load_before). The
  servers and the generator share the cores with whatever else runs; they
  ran at nice level $nice_level.
- Newswire: $newswire_v.
  Redis $redis_v: a private instance, appendonly yes, appendfsync everysec.
- nchan: nginx $nginx_v with libnginx-mod-nchan $nchan_v, 2 workers,
  in-memory storage (\`tests/bench/peers/nchan/\`)
- floor: \`nwfloor\` (\`tests/bench/floor.c\`), 2 threads: about the least
  work a WebSocket fan-out server can do, measured with the nchan protocol
- nchan + Redis: the same nchan storing its messages in Redis
  (\`nchan_use_redis\`) on a private Redis set up like Newswire's, in
  (a)–(c): the peer that, like Newswire, keeps what it is given in Redis.
  The targets are against nchan in memory; this is a reference.

## Results

$(cat "$table")

$redis_line

$noise_line

Ratios are Newswire/nchan: above 1 is better for deliveries/s (items/s in
(e)) and conn/s, below 1 is better for CPU, latency and memory.
$unclean
The floor rows are what this machine allows: \`nwfloor\` stores nothing,
parses nothing but the request line and two headers, and writes each
publish as one prebuilt frame to each subscriber at once (one \`send()\`
each; no queue, no timer, no history). A server that does more can still
beat it where it batches (several frames per \`send()\`, as Newswire in
(a)), but not where every delivery is a \`send()\` of its own: in (b) and
(c) its figures bound what any server reaches here with the generator on
the same cores, and floor/nchan bounds the ratio. The nchan + Redis rows
are nchan keeping its messages in Redis, as Newswire does (its Redis CPU in
the Redis line above).

In (a) and (c) items are published as fast as the server answers, so their
latencies mostly measure the backlog: nchan answers a publish once it has
handed the message to its subscribers, which holds its publisher back,
while Newswire answers once Redis stored the item and fans out afterwards.
Publishing rates reached: (a) Newswire $(num "$(get nw_a items_per_s)" 0) items/s,
nchan $(num "$(get nc_a items_per_s)" 0) items/s; (c) Newswire $(num "$(get nw_c items_per_s)" 0) items/s, nchan
$(num "$(get nc_c items_per_s)" 0) items/s (with $((SUBS / TOPICS)) subscribers per topic, (c) delivers $((SUBS / TOPICS)) times
the publishing rate). (b) shows the latency of a steady flow.

![Delivery latency against subscribers](bench-latency.png)

## What is measured

Both servers run on the machine at once, on loopback, with the load
generator \`nwbench\` (\`tests/bench/\`, C, epoll, its own RFC 6455 client)
on the same two cores; each load runs on one, then on the other, while the
other is idle, so that the two runs of a pair are close in time (the
machine's speed drifts over minutes). (a), (b) and (c) run $REPS times each
way, alternating; the table holds the median of each figure over those runs
(the worst for the loss checks; memory per connection from the first run,
on fresh servers). (d) runs on fresh instances of each, one after the other.

- **deliveries/s**: items received by all subscribers, from the first
  publish sent to the last frame received. In (b) it is bounded by the
  publishing rate (10 items/s × subscribers).
- **latency**: per delivery, from the moment the publish request was written
  to the moment the frame was read, both on CLOCK_MONOTONIC; each item
  carries its send time and sequence number (Newswire: in the ninjs headline;
  nchan: in the body). In (e): the publish round trip.
- **lost/dup/misrouted**: from the sequence numbers: an acknowledged item a
  subscriber of its topic did not receive; an item received twice; an item
  received by a subscriber of another topic. All must be 0.
- **server CPU**: utime+stime of newswired (nginx master and workers for
  nchan) over the publishing phase, per delivery (per item in (e)). Redis
  (with its AOF rewrite child, when one runs) is reported apart. **generator CPU**: getrusage of nwbench's processes over
  the same phase.
- **RSS KiB/conn**: VmRSS of the server processes after the connections
  (plus 1–2 s) minus before, divided by the connections, on a freshly started
  server ((a): 10,000 subscribed connections; (d): idle ones). **conn/s**:
  connections opened and subscribed per second (Newswire: up to its
  \`subscribed\` message; nchan: up to the 101).
- Loads: ${BODY}-byte publish bodies in (a)–(c) (a valid ninjs item for
  Newswire, its headline carrying the marker; padding in a body), 4 KB in (e);
  4 keep-alive publishing connections, one request in flight on each.
- Newswire settings: \`--log-level warn --set gateway_threads=2 --set
  max_connections=0 --set max_connections_per_ip=0 --set
  session_queue_bytes=4m\`. For (d), 30,000 connections exceed one
  process's 20,000 open files, so two newswired share the gateway port
  (SO_REUSEPORT, on with gateway_threads > 1) and the generator binds its
  connections to 127.0.0.2–127.0.0.4 and runs two worker processes.
- nchan settings: \`tests/bench/peers/nchan/nginx.conf.in\` (2 workers of
  19,900 connections, \`reuseport\`, access log off).

Run one load by hand with \`build-bench/tests/bench/nwbench --help\`; see
\`tests/bench/README.md\`.
MD
# the profile is written by people, after perf: kept apart, copied in
if [ -f "$top/docs/bench-profile.md" ]; then
    printf '\n' >>"$top/docs/BENCHMARKS.md"
    cat "$top/docs/bench-profile.md" >>"$top/docs/BENCHMARKS.md"
fi
say "wrote docs/BENCHMARKS.md and docs/bench-latency.png"
exit $((failures > 0))
