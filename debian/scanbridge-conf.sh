#!/bin/sh
# Writes the packaged /etc/scanbridge/scanbridge.conf to stdout: the example
# generated from the option table (every option commented out at its
# documented default) with the appliance's choices set. Fails when one of the
# lines it sets is no longer in the example.
set -eu
example=$1
cat <<'HEAD'
# /etc/scanbridge/scanbridge.conf: scanbridged's configuration, as the
# scanbridge package installs it. The appliance's choices are set (uncommented)
# below; every other option is shown commented out at its default.
#   bind 0.0.0.0      listen on the LAN, so tls = auto serves HTTPS with the
#                     box's own CA (<data dir>/tls)
#   ports 80 and 443  http://<box>.local/ needs no port in the URL (the
#                     service has CAP_NET_BIND_SERVICE and nothing else)
#   durability full   an acknowledged scan survives a power cut
# The data dir is /var/lib/scanbridge: the service passes --data-dir
# (systemd StateDirectory=), so data_dir below is not used by the service.
# The Avahi announcement (/etc/avahi/services/scanbridge.service) names the
# ports too: change both. Apply changes: systemctl reload scanbridged
# (options marked "needs a restart": systemctl restart scanbridged).

HEAD
script=""
set_opt() {
	grep -q "^# $1 = " "$example" || { echo "scanbridge-conf.sh: no '# $1 =' in $example" >&2; exit 1; }
	script="${script}s|^# $1 = .*|$1 = $2|
"
}
set_opt bind 0.0.0.0
set_opt http_port 80
set_opt https_port 443
set_opt durability full
sed -e "$script" "$example"
