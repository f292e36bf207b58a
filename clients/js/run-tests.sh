#!/bin/sh
# Tests of the JavaScript client (newswire.js), the <newswire-alerts> widget
# and the demo page: Node's test runner against a real newswired and
# redis-server (started by the tests on free ports), and Debian's Chromium
# driven by playwright-core (no browser is downloaded).
#
# Installs what it needs: node, npm and chromium from Debian's packages when
# missing (as root, or with sudo), then the npm devDependencies (npm ci).
# Builds nothing: newswired must exist.
#
# Environment: NEWSWIRED (default <repo>/build/daemon/newswired),
# REDIS_SERVER (default redis-server).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

NEWSWIRED=${NEWSWIRED:-$top/build/daemon/newswired}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
export NEWSWIRED REDIS_SERVER

missing=""
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
if [ -n "$missing" ]; then
    echo "=== installing:$missing"
    if [ "$(id -u)" -eq 0 ]; then
        sudo=""
    elif command -v sudo >/dev/null 2>&1; then
        sudo="sudo"
    else
        echo "run-tests.sh: need root or sudo to install$missing" >&2
        exit 1
    fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
    # shellcheck disable=SC2086 # one word per package
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
fi

if [ ! -x "$NEWSWIRED" ]; then
    echo "run-tests.sh: $NEWSWIRED is missing: build the daemon first (cmake -S . -B build && cmake --build build)" >&2
    exit 1
fi
command -v "$REDIS_SERVER" >/dev/null 2>&1 || {
    echo "run-tests.sh: $REDIS_SERVER not found (apt-get install redis-server)" >&2
    exit 1
}

cd "$here"
# Exactly the versions of package-lock.json; playwright-core never downloads
# a browser by itself, the tests use /usr/bin/chromium.
npm ci --no-audit --no-fund
npm test
