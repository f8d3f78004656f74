#!/usr/bin/env bash
# Builds scanbridge's Debian packages (debian/) for one architecture in a copy
# of the tree, so dpkg-buildpackage's outputs (build-deb/, debian/tmp, the
# .debs it writes next to the source) never land in the checkout.
#   image/build-deb.sh amd64|arm64 [OUTDIR]      (default build-image/deb/ARCH)
# arm64 is a cross build against sysroot-arm64 (scripts/make-sysroot.sh).
# The copy is kept and rebuilt without a clean (-nc): after a code change
# only what changed is compiled again. Runs lintian on the result.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
arch=${1:?usage: build-deb.sh amd64|arm64 [OUTDIR]}
out=${2:-$top/build-image/deb/$arch}
build_arch=$(dpkg --print-architecture)
version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
src=$out/scanbridge-$version
mkdir -p "$src"

# The tree as git sees it (tracked and new files, not ignored ones), with
# local edits; files deleted since are deleted in the copy too.
(cd "$top" && git ls-files -co --exclude-standard -z) |
	(cd "$top" && tar --null -T - -cf -) | tar -xf - -C "$src"
(cd "$top" && git ls-files -co --exclude-standard) | sort > "$out/.files"
(cd "$src" && find . -type f ! -path './build-deb/*' ! -path './debian/*/*' \
	! -path './debian/.debhelper/*' ! -name '*.substvars' ! -name 'debhelper-build-stamp' \
	! -name 'files' ! -name '*.debhelper' ! -name '*.log' | sed 's|^\./||' | sort) |
	comm -13 "$out/.files" - | (cd "$src" && xargs -r rm -f)

profiles=()
[ -f "$src/firmware/CMakeLists.txt" ] || profiles+=(nohid)
args=(-b -us -uc -nc)
if [ "$arch" != "$build_arch" ]; then
	sysroot=${SB_SYSROOT:-$top/sysroot-$arch}
	[ -d "$sysroot/usr/include" ] || "$top/scripts/make-sysroot.sh" "$arch" "$sysroot"
	export SB_SYSROOT=$sysroot
	profiles+=(cross nocheck)
	export DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}"
	args+=(-a"$arch" -d)
fi
[ ${#profiles[@]} -eq 0 ] || args+=(-P"$(IFS=,; echo "${profiles[*]}")")
export DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}"

rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
# dh skips the steps its stamps say are done: forget them, keep build-deb/
# (CMake then compiles only what changed).
rm -rf "$src"/debian/debhelper-build-stamp "$src"/debian/*.debhelper.log "$src"/debian/.debhelper
echo "== dpkg-buildpackage ${args[*]} (in $src)"
(cd "$src" && dpkg-buildpackage "${args[@]}")
changes=$(ls "$out"/scanbridge_"${version}"_"$arch".changes)
echo "== lintian"
lintian --display-info --pedantic --tag-display-limit 0 "$changes" | tee "$out/lintian.txt" || true
ls -l "$out"/*.deb
