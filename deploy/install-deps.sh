#!/bin/sh
# Installs the Debian 12 packages Newswire needs. Usage:
#   deploy/install-deps.sh          build and run dependencies
#   deploy/install-deps.sh --test   also what the test suite needs
# Runs apt-get only when something is missing. Needs root (uses sudo when
# available and not root).
set -eu

pkgs="build-essential cmake pkg-config libevent-dev libwebsockets-dev libmsgpack-dev
libhiredis-dev libjansson-dev libjwt-dev libssl-dev libsystemd-dev redis-server curl ca-certificates"
if [ "${1:-}" = "--test" ]; then
    pkgs="$pkgs libcmocka-dev python3 python3-pytest python3-websockets python3-msgpack
python3-jsonschema python3-redis python3-jwt python3-cryptography systemd clang
libclang-rt-14-dev valgrind openssl"
fi

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=sudo
    else
        echo "install-deps: missing packages:$missing; run as root to install them" >&2
        exit 1
    fi
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
