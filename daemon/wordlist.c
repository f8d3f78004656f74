/* SPDX-License-Identifier: MIT */
/* Walking a configuration word list; see wordlist.h. */
#include <string.h>

#include "wordlist.h"

#define SEPARATORS " ,\t"

const char *wordlist_next(const char **p, size_t *n)
{
	const char *word;

	if (!*p)
		return NULL;
	word = *p + strspn(*p, SEPARATORS);
	if (!*word)
		return NULL;
	*n = strcspn(word, SEPARATORS);
	*p = word + *n;
	return word;
}
