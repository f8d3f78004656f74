#!/bin/sh
# SPDX-License-Identifier: MIT
# Regenerates the recorded key-event streams of this directory with
# scanbridge-hid-gen (firmware/tools/hid-gen.c), which asks libxkbcommon
# (Debian's xkb-data) which keys a gun set to each layout presses. The files
# are checked in so the replay test does not depend on the generator; rerun
# this after changing it: ./generate.sh build/bin/scanbridge-hid-gen
# Format: 24-byte records, the 64-bit struct input_event, little-endian
# (firmware/hid/reader.h). Expected texts: tests/firmware/test_hid_replay.c.
set -e
GEN=${1:?usage: generate.sh path/to/scanbridge-hid-gen}
cd "$(dirname "$0")"
# A US gun: shifted symbols, Caps Lock on for one code (letters come unshifted).
"$GEN" -l us -o us.ev 't:ABC-abc-0123456789' 't:Hello, World! #$%&*()_+' \
	c 't:CAPS Lock 42' c 't:z/y=Q?[]{}'
# A German gun: Y and Z swap, AltGr for @ and €, umlauts, a Tab-ended code.
"$GEN" -l de -o de.ev 't:Zebra-Yak 0123 zZyY' 't:a@b€c{[]}\~|' 't:Größe-ÄÖÜß' 'T:tab-ended'
# A French gun: AZERTY, digits on Shift, accented letters on their own keys.
"$GEN" -l fr -o fr.ev 't:AZERTY qwerty 0123456789' 't:éèàçù' 't:a@b#c{}'
# A fast gun: 0.1 ms between events.
"$GEN" -l us -k 100 -o fast.ev 't:4006381333931' 't:036000291452' 't:CODE128-FAST-GUN' \
	't:96385074' 't:15400141288763' 't:https://example.com/item?id=42&x=y'
# Interrupted scans: a partial code then a 500 ms pause; a partial code then
# SYN_DROPPED (the kernel's buffer overflowed).
"$GEN" -l us -o interrupted.ev 'p:400638' 'g:500' 't:4006381333931' 'p:123' d 't:96385074'
# A pairing QR scanned by the gun, then a product.
"$GEN" -l us -o pairing.ev 't:https://scanbridge-ab12.local/p#Xy-_09AbCdEfGhIjKlMnOpQr' \
	't:4006381333931'
# Alt+keypad mode, and a gun configured with a prefix and a suffix.
"$GEN" -l us -o altnum.ev 'a:ABC-123/xyz'
"$GEN" -l us -o affixes.ev 't:<<4006381333931>>' 't:<<036000291452>>'
