#!/usr/bin/env bash
# Builds a Debian bookworm sysroot holding the target's -dev packages for a
# cross build (no emulation needed: --variant=extract only unpacks).
#   scripts/make-sysroot.sh arm64 sysroot-arm64
set -euo pipefail
arch=${1:-arm64}
dir=${2:-sysroot-$arch}
pkgs=libc6-dev,libstdc++-12-dev,libwebsockets-dev,libsqlite3-dev,libjwt-dev,nettle-dev,libcjson-dev,libqrencode-dev,libzxing-dev,libjpeg62-turbo-dev,libturbojpeg0-dev,libspng-dev,libssl-dev,libuv1-dev,libev-dev,libglib2.0-dev,libcap-dev,zlib1g-dev,libevdev-dev,libxkbcommon-dev,libudev-dev,libgpiod-dev
mkdir -p "$dir"
mmdebstrap --arch="$arch" --variant=extract --include="$pkgs" bookworm "$dir"
# Absolute symlinks in the sysroot (e.g. libm.so -> /lib/...) must point inside it.
find "$dir" -xtype l -lname '/*' | while read -r l; do
	ln -sfn "$dir$(readlink "$l")" "$l"
done
echo "sysroot ready: $dir"
