#!/usr/bin/env bash
# Install, upgrade, remove and purge of the scanbridge packages in a chroot of
# the appliance's cached base root filesystem (no systemd runs there, so the
# maintainer scripts' own parts are what is tested; make image-test covers
# the service). Needs root and make deb + a base (make image-x86).
#   tests/image/deb-lifecycle.sh [amd64]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
arch=${1:-amd64}
base=$(ls -t "$top"/build-image/cache/base-"$arch"-*.tar | head -1)
debs=$top/build-image/deb/$arch
root=$top/build-image/lifecycle-$arch
rm -rf "$root"
mkdir -p "$root"
tar -C "$root" --numeric-owner -xpf "$base"
mkdir -p "$root/tmp/v1" "$root/tmp/v2"
for d in "$debs"/scanbridge*_"$arch".deb; do
	case $d in *dbgsym*) continue ;; esac
	cp "$d" "$root/tmp/v1/"
	# the same package as a later version, for the upgrade
	x=$(mktemp -d)
	dpkg-deb -R "$d" "$x"
	sed -i 's/^Version: .*/&+lifecycle1/' "$x/DEBIAN/control"
	dpkg-deb -b "$x" "$root/tmp/v2/" >/dev/null
	rm -rf "$x"
done
inroot() { chroot "$root" sh -c "$*"; }
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; exit 1; }

inroot 'dpkg -i /tmp/v1/*.deb' >/dev/null
inroot 'getent passwd scanbridge' >/dev/null || fail "install: no system user"
[ "$(inroot 'stat -c %U:%a /var/lib/scanbridge')" = scanbridge:700 ] || fail "install: data dir"
inroot 'test -L /etc/systemd/system/multi-user.target.wants/scanbridged.service' || fail "install: unit not enabled"
ok "install: user scanbridge, /var/lib/scanbridge 0700, scanbridged.service enabled"
inroot 'scanbridged -c /etc/scanbridge/scanbridge.conf -t' | grep -q ok || fail "install: conffile does not parse"
ok "install: /etc/scanbridge/scanbridge.conf parses (scanbridged -t)"

# the daemon's state, and an admin's edit of the conffile
inroot 'head -c 32 /dev/urandom > /var/lib/scanbridge/secret; echo db > /var/lib/scanbridge/scanbridge.db'
inroot 'sed -i "s/^# session_ttl = .*/session_ttl = 900/" /etc/scanbridge/scanbridge.conf'
sum=$(inroot 'sha256sum /var/lib/scanbridge/secret')
inroot 'DEBIAN_FRONTEND=noninteractive dpkg --force-confold -i /tmp/v2/*.deb' >/dev/null
[ "$(inroot 'sha256sum /var/lib/scanbridge/secret')" = "$sum" ] || fail "upgrade: secret changed"
inroot 'grep -q "^session_ttl = 900" /etc/scanbridge/scanbridge.conf' || fail "upgrade: conffile edit lost"
ok "upgrade: data dir and the edited conffile kept"

inroot 'dpkg -r scanbridge-hid scanbridge-sim scanbridge' >/dev/null 2>&1 || inroot 'dpkg -r scanbridge-sim scanbridge' >/dev/null
inroot 'test -f /var/lib/scanbridge/secret' || fail "remove: data dir deleted"
inroot 'test -f /etc/scanbridge/scanbridge.conf' || fail "remove: conffile deleted"
inroot 'test ! -e /usr/bin/scanbridged' || fail "remove: binary left"
ok "remove: binaries gone, data dir and configuration kept"

inroot 'dpkg -P scanbridge-hid scanbridge-sim scanbridge' >/dev/null 2>&1 || inroot 'dpkg -P scanbridge-sim scanbridge' >/dev/null
inroot 'test ! -e /var/lib/scanbridge' || fail "purge: data dir left"
inroot 'test ! -e /etc/scanbridge/scanbridge.conf' || fail "purge: conffile left"
inroot 'test ! -e /etc/avahi/services/scanbridge.service' || fail "purge: avahi service left"
ok "purge: /var/lib/scanbridge, /etc/scanbridge and the Avahi service gone (system user kept)"
rm -rf "$root"
