/* SPDX-License-Identifier: MIT */
/* Growable arrays for the daemon and scanbridge-sim (both link proto/): the
 * one place that picks a new capacity (doubling), checks the size arithmetic
 * for overflow and reallocs. The caller keeps its own pointer, count and
 * capacity. */
#ifndef SB_GROW_H
#define SB_GROW_H
#include <stddef.h>

/* Makes room for need (> 0) elements of size bytes in items, an array of *cap
 * elements (NULL when *cap is 0). Returns items itself when *cap >= need, else
 * items reallocated to the first capacity that holds need in the doubling
 * series from *cap (from min_cap when *cap is 0), and sets *cap to it.
 * Returns NULL when out of memory or when the size would overflow size_t:
 * items and *cap are then untouched, and items is still the caller's to free. */
void *grow_reserve(void *items, size_t *cap, size_t need, size_t size, size_t min_cap);

#endif
