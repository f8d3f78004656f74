#!/usr/bin/env bash
# Installs the Debian packages a target needs, only those missing, so `make run`
# and `make test` work on a fresh Debian bookworm machine.
#   scripts/install-deps.sh build   - compiler and libraries
#   scripts/install-deps.sh test    - build + what the test suite drives
#   scripts/install-deps.sh cross   - build + the arm64 cross toolchain
set -euo pipefail
build_pkgs=(build-essential pkg-config cmake libwebsockets-dev libsqlite3-dev
            libjwt-dev libcjson-dev libqrencode-dev libssl-dev
            libzxing-dev libturbojpeg0-dev libspng-dev)
test_pkgs=(python3 python3-websockets python3-pytest sqlite3 clang valgrind zbar-tools
           barcode imagemagick)
cross_pkgs=(mmdebstrap gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user)

pkgs=("${build_pkgs[@]}")
case "${1:-build}" in
test) pkgs+=("${test_pkgs[@]}") ;;
cross) pkgs+=("${cross_pkgs[@]}") ;;
esac

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
