#!/usr/bin/env bash
# Installs the Debian packages a target needs, only those missing, so `make run`
# and `make test` work on a fresh Debian bookworm machine.
#   scripts/install-deps.sh build   - compiler and libraries
#   scripts/install-deps.sh test    - build + what the test suite drives
set -euo pipefail
build_pkgs=(build-essential pkg-config cmake libwebsockets-dev libsqlite3-dev
            libjwt-dev libcjson-dev libqrencode-dev libssl-dev)
test_pkgs=(python3 python3-websockets python3-pytest sqlite3 clang valgrind)

pkgs=("${build_pkgs[@]}")
[ "${1:-build}" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
