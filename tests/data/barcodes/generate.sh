#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Generates the decode corpus into OUTDIR (the build tree; nothing here is
# checked in but the seeds/): every code of gen_corpus's fixed list rendered
# by our encoder (ZXing's writers via barcode_encode) and, where it has the
# format, by an independent one (GNU barcode -> SVG -> ImageMagick), then each
# base image through a fixed set of distortions. Deterministic: fixed texts,
# fixed seeds, no dates in the files.
#
#   generate.sh OUTDIR GEN_CORPUS_BINARY
#
# Writes OUTDIR/manifest.tsv: file, expected code, format, class (tab-separated)
# and OUTDIR/classes.tsv: class, minimum decode rate the test asserts (0 =
# reported only), description. Exits 77 (CTest: skipped) when GNU barcode or
# ImageMagick is missing (scripts/install-deps.sh test installs both).
set -euo pipefail
out=${1:?usage: generate.sh OUTDIR GEN_CORPUS}
gen=${2:?usage: generate.sh OUTDIR GEN_CORPUS}
here=$(cd "$(dirname "$0")" && pwd)

for tool in barcode convert identify; do
	if ! command -v "$tool" >/dev/null || { [ "$tool" = convert ] && [ ! -x /usr/bin/convert ]; }; then
		echo "generate.sh: '$tool' missing (apt-get install barcode imagemagick); skipping" >&2
		exit 77
	fi
done

rm -rf "$out"
mkdir -p "$out/base" "$out/parts"
export MAGICK_THREAD_LIMIT=1 # jobs run in parallel instead; output is the same

# Bases, ours: PGM at 2 px/module (1D) or 4 px/module (2D), scaled by 2.
"$gen" render "$out/base" >"$out/base/ours.tsv"
: >"$out/base/bases.tsv"
while IFS=$'\t' read -r file text fmt; do
	name=${file%.pgm}
	convert "$out/base/$file" -sample 200% "$out/base/$name.png"
	rm "$out/base/$file"
	printf '%s\t%s\t%s\n' "$name" "$text" "$fmt" >>"$out/base/bases.tsv"
done <"$out/base/ours.tsv"

# Bases, GNU barcode: SVG rendered at 300 dpi (a 1 pt module is 4.2 px). -c:
# no check character of its own (ours is already in the text), except for
# Code 93 whose two check characters are part of the symbology; the outline
# ImageMagick draws around the SVG page is shaved off.
i=0
"$gen" list | while IFS=$'\t' read -r fmt text enc; do
	i=$((i + 1))
	[ "$enc" = "-" ] && continue
	name=$(printf 'gnu-%s-%02d' "$(echo "$fmt" | tr 'A-Z_' 'a-z-')" "$i")
	nocheck=-c
	[ "$enc" = 93 ] && nocheck=
	barcode $nocheck -n -b "$text" -e "$enc" -S -o "$out/base/$name.svg"
	convert -density 300 "$out/base/$name.svg" -shave 3x3 -colorspace Gray \
		-bordercolor white -border 20 "$out/base/$name.png"
	rm "$out/base/$name.svg"
	printf '%s\t%s\t%s\n' "$name" "$text" "$fmt" >>"$out/base/bases.tsv"
done

# One base -> every distortion. Arguments: index name text format.
distort() {
	local idx=$1 name=$2 text=$3 fmt=$4 out=$OUT b w h sign
	b="$out/base/$name.png"
	read -r w h < <(identify -format '%w %h\n' "$b")
	sign=$(( idx % 2 ? 1 : -1 ))
	local -a m=()
	emit() { m+=("$1"$'\t'"$text"$'\t'"$fmt"$'\t'"$2"); }
	mkdir -p "$out"/{clean,rotate10,rotate90,blur,perspective,noise,lowcontrast,jpeg30,photo12mp}
	convert "$b" -bordercolor white -border 30 "$out/clean/$name.png"
	emit "clean/$name.png" clean
	convert "$b" -bordercolor white -border 30 -background white -rotate $((sign * 10)) \
		"$out/rotate10/$name.png"
	# PDF417 rows are 3 modules tall: at 10 degrees no scan line stays in
	# one row, and ZXing 1.4 does not read it. Its own class, reported.
	if [ "$fmt" = PDF_417 ]; then
		emit "rotate10/$name.png" rotate10-pdf417
	else
		emit "rotate10/$name.png" rotate10
	fi
	convert "$b" -bordercolor white -border 30 -rotate $((sign * 90)) "$out/rotate90/$name.png"
	emit "rotate90/$name.png" rotate90
	convert "$b" -bordercolor white -border 30 -blur 0x1.2 "$out/blur/$name.png"
	emit "blur/$name.png" blur
	# Keystone: the right edge 12% shorter, as if held at an angle.
	convert "$b" -bordercolor white -border 30 -virtual-pixel white -background white \
		-distort Perspective "0,0 0,0  $((w + 60)),0 $((w + 60)),$(((h + 60) * 6 / 100))  $((w + 60)),$((h + 60)) $((w + 60)),$(((h + 60) * 94 / 100))  0,$((h + 60)) 0,$((h + 60))" \
		"$out/perspective/$name.png"
	emit "perspective/$name.png" perspective
	convert "$b" -bordercolor white -border 30 -seed "$idx" -attenuate 0.6 +noise Gaussian \
		"$out/noise/$name.png"
	emit "noise/$name.png" noise
	convert "$b" -bordercolor white -border 30 +level 35%,70% "$out/lowcontrast/$name.png"
	emit "lowcontrast/$name.png" lowcontrast
	convert "$b" -bordercolor white -border 30 -quality 30 "$out/jpeg30/$name.jpg"
	emit "jpeg30/$name.jpg" jpeg30
	# A 12 MP photo (4000x3000 JPEG): the code at 2x on a shaded background,
	# off-centre, slightly soft. Every other base, to keep the run short.
	if [ $((idx % 2)) -eq 0 ]; then
		convert -size 4000x3000 gradient:'gray(95)-gray(215)' \
			\( "$b" -filter point -resize 200% -blur 0x1.5 \) \
			-geometry +$((700 + idx * 37 % 1500))+$((500 + idx * 53 % 900)) \
			-composite -quality 85 "$out/photo12mp/$name.jpg"
		emit "photo12mp/$name.jpg" photo12mp
	fi
	printf '%s\n' "${m[@]}" >"$out/parts/$(printf '%04d' "$idx")"
}
export -f distort
export OUT=$out

nl -ba -w1 -s$'\t' "$out/base/bases.tsv" |
	tr '\t' '\n' | xargs -d '\n' -n 4 -P "$(nproc)" bash -c 'distort "$@"' _

cat "$out"/parts/* >"$out/manifest.tsv"
rm -rf "$out/parts"

# Seeds checked in beside this script (small real-world-ish samples).
if [ -f "$here/seeds/manifest.tsv" ]; then
	mkdir -p "$out/seeds"
	cp "$here"/seeds/*.png "$here"/seeds/*.jpg "$out/seeds/" 2>/dev/null || true
	sed 's|^|seeds/|' "$here/seeds/manifest.tsv" >>"$out/manifest.tsv"
fi

cat >"$out/classes.tsv" <<'EOF'
clean	95	as rendered, 30 px white border
rotate10	95	rotated +10 or -10 degrees (all formats but PDF417)
rotate10-pdf417	0	PDF417 rotated 10 degrees: ZXing 1.4 does not read it
rotate90	95	rotated 90 degrees
blur	95	Gaussian blur, sigma 1.2 px
noise	95	Gaussian noise
lowcontrast	95	levels squeezed into 35%..70% gray
jpeg30	95	JPEG quality 30
perspective	0	keystone, right edge 12% shorter
photo12mp	0	4000x3000 JPEG with the code small, off-centre, soft
seed	0	checked-in seeds
EOF
echo "generate.sh: $(wc -l <"$out/manifest.tsv") images in $out"
