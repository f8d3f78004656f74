/* SPDX-License-Identifier: MIT */
/* The C API over ZXing-C++ 1.4 (Debian's libzxing-dev has no C API): decode an
 * 8-bit gray buffer into validated scan codes with PROTOCOL.md format names,
 * and render text as a barcode bitmap. The only C++ in the daemon: every entry
 * point is extern "C" and catches every exception, so none crosses into C.
 *
 * Debian builds ZXing 1.4.0 with assertions on, and ReadBarcodes() with its
 * default tryDownscale aborts the process on many photo-sized frames (an assert
 * in Result::operator== while merging the results of the downscaled layers).
 * We never let ZXing downscale: tryDownscale(false) on every call, and the
 * image path (image.c) downscales with its own box filter instead. That is not
 * enough: the same assert also fires without downscaling on a few images of
 * our corpus (merging a multi-line 1D result with a single-line one, e.g. a
 * blurred Code 128). So failed assertions inside ZXing are caught: the
 * executable defines and exports glibc's __assert_fail (assert_net.c, plain
 * C), which interposes glibc's for libZXing.so, and calls
 * decode__assert_hook() here. While a thread is inside a ZXing call
 * (thread-local flag) the hook throws zxing_assert, which unwinds out of ZXing
 * (RAII, nothing leaks) to our boundary; the pass counts as "nothing found"
 * and the next one runs. Anywhere else the hook returns and the assertion
 * aborts with glibc's message, exactly as before. decode_zxing_asserts()
 * counts them. In the daemon this file is part of the dlopen()ed decoder
 * module (decode_module.h), whose loader installs the hook; programs that link
 * the decoder statically get it at link time.
 * The corpus test and the real-photo run (tests/decode/) decode every image
 * in one process to show that nothing aborts. */
#define ZX_USE_UTF8 1

#include <ZXing/BarcodeFormat.h>
#include <ZXing/BitMatrix.h>
#include <ZXing/CharacterSet.h>
#include <ZXing/DecodeHints.h>
#include <ZXing/ImageView.h>
#include <ZXing/MultiFormatWriter.h>
#include <ZXing/ReadBarcode.h>
#include <ZXing/Result.h>

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

extern "C" {
#include "decode.h"
#include "sb_err.h"
}

using ZXing::BarcodeFormat;
using ZXing::BarcodeFormats;

namespace {

/* A failed assert() inside ZXing, turned into an exception (see the top). */
struct zxing_assert {
	const char *expr;
};

thread_local bool t_in_zxing = false;
std::atomic<unsigned long> g_asserts{0};

/* Marks the current thread as inside ZXing for its lifetime. */
struct zxing_scope {
	zxing_scope() { t_in_zxing = true; }
	~zxing_scope() { t_in_zxing = false; }
	zxing_scope(const zxing_scope &) = delete;
	zxing_scope &operator=(const zxing_scope &) = delete;
};

} // namespace

/* Called by the executable's __assert_fail (assert_net.c) for every failed
 * assertion in the process. May throw: the C frame in between is built with
 * -fexceptions. */
extern "C" void decode__assert_hook(const char *expr, const char *file, unsigned int line,
				    const char *func)
{
	if (t_in_zxing) {
		g_asserts.fetch_add(1, std::memory_order_relaxed);
		throw zxing_assert{expr};
	}
}

namespace {

struct format_map {
	enum sb_format sb;
	BarcodeFormat zx;
};

/* PROTOCOL.md name <-> ZXing format. DataBar Expanded is reported as DATABAR;
 * MaxiCode and Micro QR have no protocol name and are never asked for. */
const format_map k_formats[] = {
	{SB_FMT_EAN_13, BarcodeFormat::EAN13},
	{SB_FMT_EAN_8, BarcodeFormat::EAN8},
	{SB_FMT_UPC_A, BarcodeFormat::UPCA},
	{SB_FMT_UPC_E, BarcodeFormat::UPCE},
	{SB_FMT_CODE_128, BarcodeFormat::Code128},
	{SB_FMT_CODE_39, BarcodeFormat::Code39},
	{SB_FMT_CODE_93, BarcodeFormat::Code93},
	{SB_FMT_ITF, BarcodeFormat::ITF},
	{SB_FMT_CODABAR, BarcodeFormat::Codabar},
	{SB_FMT_QR_CODE, BarcodeFormat::QRCode},
	{SB_FMT_DATA_MATRIX, BarcodeFormat::DataMatrix},
	{SB_FMT_PDF_417, BarcodeFormat::PDF417},
	{SB_FMT_AZTEC, BarcodeFormat::Aztec},
	{SB_FMT_DATABAR, BarcodeFormat::DataBar},
};

enum sb_format from_zxing(BarcodeFormat f)
{
	if (f == BarcodeFormat::DataBarExpanded)
		return SB_FMT_DATABAR;
	for (const auto &m : k_formats)
		if (m.zx == f)
			return m.sb;
	return SB_FMT_UNKNOWN;
}

BarcodeFormat to_zxing(enum sb_format f)
{
	for (const auto &m : k_formats)
		if (m.sb == f)
			return m.zx;
	return BarcodeFormat::None;
}

BarcodeFormats formats_from_mask(unsigned mask)
{
	BarcodeFormats fs;
	for (const auto &m : k_formats) {
		if (mask != 0 && !(mask & (1u << m.sb)))
			continue;
		fs |= m.zx;
		if (m.sb == SB_FMT_DATABAR)
			fs |= BarcodeFormat::DataBarExpanded;
	}
	return fs;
}

bool is_linear(BarcodeFormat f)
{
	return BarcodeFormats(BarcodeFormat::LinearCodes).testFlag(f);
}

/* Fewest scan lines an ITF read must be confirmed on. ITF has no check
 * character: a tilted ITF crossed diagonally yields partial reads ("987653"
 * out of "00987653") that ZXing's default of 2 lines lets through. In our
 * corpus those had 2-3 lines, true reads 30-140. */
constexpr int k_itf_min_lines = 5;

/* Is r a partial read of a better-supported linear result of the same format
 * (its text inside the other's)? */
bool is_partial(const ZXing::Result &r, const std::string &text, const ZXing::Results &rs)
{
	if (!is_linear(r.format()))
		return false;
	for (const auto &o : rs) {
		if (&o == &r || o.format() != r.format() || !o.isValid() || o.lineCount() <= r.lineCount())
			continue;
		const std::string ot = o.text();
		if (ot.size() > text.size() && ot.find(text) != std::string::npos)
			return true;
	}
	return false;
}

/* Appends the valid, not yet seen results of rs to out[*n..max). */
void collect(const ZXing::Results &rs, struct decode_result *out, int max, int *n)
{
	for (const auto &r : rs) {
		if (*n >= max)
			return;
		if (!r.isValid())
			continue;
		enum sb_format f = from_zxing(r.format());
		const std::string text = r.text();
		if (f == SB_FMT_UNKNOWN || text.size() > SB_CODE_MAX_BYTES ||
		    barcode_validate(f, text.data(), text.size()) != 0)
			continue; /* control characters, bad check digit, too long */
		if (f == SB_FMT_ITF && r.lineCount() < k_itf_min_lines)
			continue;
		if (is_partial(r, text, rs))
			continue;
		bool dup = false;
		for (int i = 0; i < *n && !dup; i++)
			dup = out[i].format == f && text == out[i].code;
		if (dup)
			continue;
		memcpy(out[*n].code, text.data(), text.size());
		out[*n].code[text.size()] = '\0';
		out[*n].format = f;
		(*n)++;
	}
}

/* One ZXing pass. A ZXing assertion (see the top) loses this pass's results
 * only; it is retried once for a single symbol, which takes another path
 * through the reader. */
ZXing::Results read_all(const uint8_t *px, int w, int h, int stride, const ZXing::DecodeHints &hints)
{
	ZXing::ImageView iv(px, w, h, ZXing::ImageFormat::Lum, stride, 1);
	try {
		zxing_scope in;
		return ZXing::ReadBarcodes(iv, hints);
	} catch (const zxing_assert &) {
	}
	try {
		zxing_scope in;
		ZXing::DecodeHints one = hints;
		one.setMaxNumberOfSymbols(1);
		return ZXing::ReadBarcodes(iv, one);
	} catch (const zxing_assert &) {
		return {};
	}
}

/* Linear contrast stretch of the 1st..99th percentile to 0..255, into dst
 * (dense, w*h). Returns false when the image already spans most of the range,
 * where a stretch would change nothing worth a second decode. */
bool contrast_stretch(const uint8_t *px, int w, int h, int stride, std::vector<uint8_t> &dst)
{
	size_t hist[256] = {0};
	for (int y = 0; y < h; y++) {
		const uint8_t *row = px + (size_t)y * stride;
		for (int x = 0; x < w; x++)
			hist[row[x]]++;
	}
	size_t total = (size_t)w * h, cut = total / 100, acc = 0;
	int lo = 0, hi = 255;
	for (acc = 0; lo < 255 && acc + hist[lo] <= cut; lo++)
		acc += hist[lo];
	for (acc = 0; hi > 0 && acc + hist[hi] <= cut; hi--)
		acc += hist[hi];
	if (hi - lo >= 160 || hi <= lo)
		return false;
	uint8_t lut[256];
	for (int v = 0; v < 256; v++) {
		int s = (v - lo) * 255 / (hi - lo);
		lut[v] = (uint8_t)std::min(255, std::max(0, s));
	}
	dst.resize(total);
	for (int y = 0; y < h; y++) {
		const uint8_t *row = px + (size_t)y * stride;
		uint8_t *o = dst.data() + (size_t)y * w;
		for (int x = 0; x < w; x++)
			o[x] = lut[row[x]];
	}
	return true;
}

void invert(const uint8_t *px, int w, int h, int stride, std::vector<uint8_t> &dst)
{
	dst.resize((size_t)w * h);
	for (int y = 0; y < h; y++) {
		const uint8_t *row = px + (size_t)y * stride;
		uint8_t *o = dst.data() + (size_t)y * w;
		for (int x = 0; x < w; x++)
			o[x] = (uint8_t)(255 - row[x]);
	}
}

int decode_gray_cpp(const uint8_t *px, int w, int h, int stride, unsigned mask,
		    struct decode_result *out, int max, int *n)
{
	ZXing::DecodeHints hints;
	hints.setFormats(formats_from_mask(mask))
		.setTryHarder(true)
		.setTryRotate(true)
		.setTryDownscale(false) /* see the top of this file: aborts on 1.4.0 */
		/* Ask for more than the caller wants: partial reads are filtered
		 * against the full read of the same symbol (collect). */
		.setMaxNumberOfSymbols((uint8_t)std::min(std::max(max, 16), 255));

	collect(read_all(px, w, h, stride, hints), out, max, n);
	if (*n > 0)
		return 0;

	/* The global-histogram binarizer: noisy frames, small 2D codes. */
	ZXing::DecodeHints global = hints;
	global.setBinarizer(ZXing::Binarizer::GlobalHistogram);
	collect(read_all(px, w, h, stride, global), out, max, n);
	if (*n > 0)
		return 0;

	/* Light-on-dark codes (1.4 has no tryInvert), then low-contrast frames. */
	std::vector<uint8_t> tmp;
	invert(px, w, h, stride, tmp);
	collect(read_all(tmp.data(), w, h, w, hints), out, max, n);
	if (*n > 0)
		return 0;
	if (contrast_stretch(px, w, h, stride, tmp))
		collect(read_all(tmp.data(), w, h, w, hints), out, max, n);
	return 0;
}

/* Renders matrix m (1 cell = 1 module, no quiet zone) with a quiet zone of qz
 * modules, into a canvas of at least want_w x want_h (0: natural size, 2 px per
 * module for 1D and 4 for 2D codes). A 1D code is one row of modules drawn as
 * bars; its natural height is a third of its width (>= 40 px). */
int render(const ZXing::BitMatrix &m, bool linear, int want_w, int want_h, struct gray_image *img)
{
	const int qz = linear ? 10 : 4;
	const int mw = m.width() + 2 * qz, mh = linear ? 1 : m.height() + 2 * qz;
	int s = linear ? 2 : 4;
	if (want_w > 0 || want_h > 0) {
		int sw = want_w > 0 ? want_w / mw : 1 << 20;
		int sh = linear || want_h <= 0 ? 1 << 20 : want_h / mh;
		s = std::max(1, std::min(sw, sh));
	}
	const int content_w = mw * s;
	const int bar_h = !linear ? 0 : want_h > 0 ? std::max(8, want_h - 2 * qz * s)
						 : std::max(40, content_w / 3);
	const int content_h = linear ? bar_h + 2 * qz * s : mh * s;
	const int W = std::max(want_w, content_w), H = std::max(want_h, content_h);
	if ((int64_t)W * H > (int64_t)64 * 1000 * 1000)
		return SB_EINVAL;
	uint8_t *px = (uint8_t *)malloc((size_t)W * H);
	if (!px)
		return SB_ENOMEM;
	memset(px, 255, (size_t)W * H);
	const int ox = (W - content_w) / 2 + qz * s, oy = (H - content_h) / 2 + qz * s;
	const int rows = linear ? bar_h : m.height() * s;
	for (int y = 0; y < rows; y++) {
		uint8_t *row = px + (size_t)(oy + y) * W;
		int my = linear ? 0 : y / s;
		for (int x = 0; x < m.width(); x++)
			if (m.get(x, my))
				memset(row + ox + x * s, 0, (size_t)s);
	}
	img->px = px;
	img->width = W;
	img->height = H;
	img->stride = W;
	return 0;
}

} // namespace

extern "C" int decode_gray(const uint8_t *px, int width, int height, int stride, unsigned formats_mask,
			   struct decode_result *out, int max, int *n)
{
	if (n)
		*n = 0;
	if (!px || !n || width <= 0 || height <= 0 || stride < width || max < 0 || (max > 0 && !out))
		return SB_EINVAL;
	if (max == 0)
		return 0;
	try {
		return decode_gray_cpp(px, width, height, stride, formats_mask, out, max, n);
	} catch (const std::bad_alloc &) {
		*n = 0;
		return SB_ENOMEM;
	} catch (...) {
		*n = 0;
		return SB_EINVAL;
	}
}

extern "C" int barcode_encode(const char *text, enum sb_format f, int width, int height,
			      struct gray_image *out)
{
	if (!out)
		return SB_EINVAL;
	out->px = NULL;
	out->width = out->height = out->stride = 0;
	BarcodeFormat zf = to_zxing(f);
	if (!text || !*text || zf == BarcodeFormat::None || zf == BarcodeFormat::DataBar ||
	    width < 0 || height < 0 || width > 8000 || height > 8000)
		return SB_EINVAL;
	try {
		zxing_scope in;
		ZXing::MultiFormatWriter writer(zf);
		writer.setMargin(0);
		/* Non-ASCII text: UTF-8 (with its ECI) where the symbology can say
		 * so; the 1.4 default, ISO-8859-1, throws on anything beyond it. */
		for (const char *p = text; *p; p++)
			if ((unsigned char)*p >= 0x80) {
				writer.setEncoding(ZXing::CharacterSet::UTF8);
				break;
			}
		ZXing::BitMatrix m = writer.encode(std::string(text), 0, 0);
		if (m.width() <= 0 || m.height() <= 0)
			return SB_EINVAL;
		bool linear = is_linear(zf);
		if (linear && m.height() != 1) {
			/* Some 1D writers may already give rows; keep the first. */
			ZXing::BitMatrix one(m.width(), 1);
			for (int x = 0; x < m.width(); x++)
				if (m.get(x, 0))
					one.set(x, 0);
			m = std::move(one);
		}
		return render(m, linear, width, height, out);
	} catch (const std::bad_alloc &) {
		return SB_ENOMEM;
	} catch (...) {
		return SB_EINVAL; /* "Checksum error", bad characters, too long, an assert */
	}
}

/* Is p inside the executable (not glibc, not a shared object)? */
static bool in_executable(void *p)
{
	Dl_info di;
	struct link_map *where = nullptr, *exe = nullptr;
	void *self = dlopen(nullptr, RTLD_LAZY);

	if (self) {
		if (dlinfo(self, RTLD_DI_LINKMAP, &exe) != 0)
			exe = nullptr;
		dlclose(self);
	}
	if (!dladdr1(p, &di, reinterpret_cast<void **>(&where), RTLD_DL_LINKMAP))
		return false;
	return exe && where == exe;
}

extern "C" int decode__assert_net_selftest(void)
{
	/* libZXing.so binds __assert_fail to the first definition in the global
	 * lookup scope, the one dlsym(RTLD_DEFAULT) finds from here: it must be
	 * the executable's (assert_net.c), not glibc's. */
	using assert_fail_fn = void (*)(const char *, const char *, unsigned int, const char *);
	void *sym = dlsym(RTLD_DEFAULT, "__assert_fail");
	if (!sym || !in_executable(sym))
		return SB_EINVAL;
	auto fail = reinterpret_cast<assert_fail_fn>(sym);
	/* ... and reach our hook, whose exception crosses its C frame */
	try {
		zxing_scope in;
		fail("selftest", __FILE__, __LINE__, __func__);
	} catch (const zxing_assert &) {
		g_asserts.fetch_sub(1, std::memory_order_relaxed);
		return t_in_zxing ? SB_EINVAL : 0;
	}
	return SB_EINVAL;
}

extern "C" unsigned long decode_zxing_asserts(void)
{
	return g_asserts.load(std::memory_order_relaxed);
}

extern "C" void gray_image_free(struct gray_image *img)
{
	if (!img)
		return;
	free(img->px);
	img->px = NULL;
	img->width = img->height = img->stride = 0;
}
