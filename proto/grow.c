/* SPDX-License-Identifier: MIT */
/* Growable arrays for the daemon and the simulator (see grow.h). */
#include "grow.h"

#include <stdint.h>
#include <stdlib.h>

void *grow_reserve(void *items, size_t *cap, size_t need, size_t size, size_t min_cap)
{
	size_t n = *cap ? *cap : (min_cap ? min_cap : 1);
	void *p;

	if (*cap >= need)
		return items;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return NULL;
		n *= 2;
	}
	if (size && n > SIZE_MAX / size)
		return NULL;
	p = realloc(items, n * size);
	if (p)
		*cap = n;
	return p;
}
