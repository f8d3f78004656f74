#!/usr/bin/env bash
# Installs the Debian packages a target needs, only those missing, so `make run`
# and `make test` work on a fresh Debian bookworm machine.
#   scripts/install-deps.sh build   - compiler and libraries
#   scripts/install-deps.sh test    - build + what the test suite drives
#   scripts/install-deps.sh cross   - build + the arm64 cross toolchain
#   scripts/install-deps.sh image   - cross + Debian packaging, image building
#                                     and the qemu boot test (make deb, image-*)
set -euo pipefail
build_pkgs=(build-essential pkg-config cmake libwebsockets-dev libsqlite3-dev
            libjwt-dev nettle-dev libcjson-dev libqrencode-dev libssl-dev
            libzxing-dev libjpeg62-turbo-dev libturbojpeg0-dev libspng-dev
            libevdev-dev libxkbcommon-dev xkb-data libudev-dev libgpiod-dev
            libev-dev libwebsockets-evlib-ev)
test_pkgs=(python3 python3-websockets python3-pytest sqlite3 clang valgrind gdb zbar-tools
           barcode imagemagick libmagickcore-6.q16-6-extra chromium
           openssl libnss3-tools)
# (libmagickcore-*-extra: ImageMagick's SVG reader, for the generated decode
# corpus; --no-install-recommends below would leave it out.)
cross_pkgs=(mmdebstrap gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user)
# (qemu-user-static + binfmt-support: dpkg runs arm64 maintainer scripts in
# the Pi image's root file system; grub-*-bin: the x86 image's boot loader,
# made on this machine; ovmf/qemu-system-*: image-test.)
image_pkgs=(debhelper dpkg-dev fakeroot lintian genimage dosfstools mtools e2fsprogs
            xz-utils qemu-user-static binfmt-support arch-test grub-pc-bin grub-efi-amd64-bin
            qemu-system-x86 qemu-system-arm qemu-utils ovmf qemu-efi-aarch64
            openssh-client curl)

pkgs=("${build_pkgs[@]}")
case "${1:-build}" in
test)
	pkgs+=("${test_pkgs[@]}")
	# Node.js for the browser tests; a machine may already have it from
	# NodeSource (whose nodejs bundles npm), so only Debian's when none is there.
	command -v node >/dev/null || pkgs+=(nodejs)
	command -v npm >/dev/null || pkgs+=(npm)
	;;
cross) pkgs+=("${cross_pkgs[@]}") ;;
image) pkgs+=("${cross_pkgs[@]}" "${image_pkgs[@]}") ;;
esac

# playwright-core (npm registry, exact version from the lock file) drives the
# Debian chromium; it never downloads a browser.
install_npm() {
	[ "${1:-build}" = test ] || return 0
	local dir
	dir="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e"
	# The stamp is the lock file that node_modules was installed from.
	if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.sb-installed-lock" 2>/dev/null; then
		(cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error &&
			cp package-lock.json node_modules/.sb-installed-lock)
	fi
}

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	install_npm "${1:-build}"
	exit 0
fi

echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_npm "${1:-build}"
