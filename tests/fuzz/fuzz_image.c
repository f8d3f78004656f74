/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the decoder's image input path (image_load_gray): the
 * bytes a phone uploads, JPEG or PNG or anything else. Invariants: a success
 * is a bounded, non-empty gray image within the limits; a failure allocates
 * nothing the caller must free. Limits are small so a header claiming a huge
 * image must be refused, not allocated. */
#include <string.h>

#include "decode.h"
#include "fuzz.h"
#include "sb_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct image_limits lim = {
		.max_bytes = 1 << 20, .max_pixels = 4000000, .max_side = 512,
	};
	struct gray_image img;
	int rc;

	memset(&img, 0, sizeof(img));
	rc = image_load_gray(data, size, &lim, &img);
	if (rc) {
		FUZZ_ASSERT(rc == SB_EINVAL || rc == SB_EPROTO || rc == SB_ETOOBIG ||
			    rc == SB_ENOMEM);
		FUZZ_ASSERT(img.px == NULL);
		return 0;
	}
	FUZZ_ASSERT(img.px != NULL && img.width > 0 && img.height > 0);
	FUZZ_ASSERT(img.width <= lim.max_side && img.height <= lim.max_side);
	FUZZ_ASSERT(img.stride >= img.width);
	/* touch every pixel: ASan proves the buffer is as large as it claims */
	unsigned sum = 0;
	for (int y = 0; y < img.height; y++)
		for (int x = 0; x < img.width; x++)
			sum += img.px[(size_t)y * (size_t)img.stride + (size_t)x];
	(void)sum;
	gray_image_free(&img);
	return 0;
}
