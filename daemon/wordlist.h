/* SPDX-License-Identifier: MIT */
/* The lists of the configuration (allowed_origins, allowed_hosts,
 * trusted_proxies): words separated by spaces, tabs or commas. */
#ifndef SB_WORDLIST_H
#define SB_WORDLIST_H
#include <stddef.h>

/* The next word of the list at *p: returns its start and sets *n to its
 * length, moving *p past it; NULL at the end of the list (or for p NULL). */
const char *wordlist_next(const char **p, size_t *n);

#endif
