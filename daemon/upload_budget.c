/* SPDX-License-Identifier: MIT */
/* The process-wide image byte budget; see upload_budget.h. */
#include <stdatomic.h>

#include "upload_budget.h"

static size_t B_cap;
static atomic_size_t B_used;

void upload_budget_init(size_t cap)
{
	B_cap = cap;
	atomic_store(&B_used, 0);
}

bool upload_budget_take(size_t n)
{
	size_t used = atomic_load(&B_used);

	do {
		if (n > B_cap || used > B_cap - n)
			return false;
	} while (!atomic_compare_exchange_weak(&B_used, &used, used + n));
	return true;
}

void upload_budget_give(size_t n)
{
	atomic_fetch_sub(&B_used, n);
}

size_t upload_budget_used(void)
{
	return atomic_load(&B_used);
}
