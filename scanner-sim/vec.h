/* SPDX-License-Identifier: MIT */
/* Growable arrays for scanbridge-sim: the one place that picks a new capacity
 * (doubling), checks the size arithmetic for overflow and reallocs, so the scan
 * records, the outboxes, the connection lists and the receive buffers all grow
 * the same way. The caller keeps its own pointer, count and capacity. */
#ifndef SIM_VEC_H
#define SIM_VEC_H
#include <stddef.h>

/* Makes room for need (> 0) elements of size bytes in items, an array of *cap
 * elements (NULL when *cap is 0). Returns items itself when *cap >= need, else
 * items reallocated to the first capacity that holds need in the doubling
 * series from *cap (from min_cap when *cap is 0), and sets *cap to it.
 * Returns NULL when out of memory or when the size would overflow size_t:
 * items and *cap are then untouched, and items is still the caller's to free. */
void *vec_reserve(void *items, size_t *cap, size_t need, size_t size, size_t min_cap);

#endif
