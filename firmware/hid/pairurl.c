/* SPDX-License-Identifier: MIT */
/* Pairing URL recognition (see pairurl.h). Strict on purpose: a product code
 * that merely contains "/p#" must stay a product code. */
#include "pairurl.h"

#include <stdbool.h>
#include <string.h>

#include "sb_err.h"

#define CODE_MIN 16

static bool code_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

static bool host_char(char c)
{
	return code_char(c) || c == '.' || c == ':' || c == '[' || c == ']';
}

static bool path_char(char c)
{
	return code_char(c) || c == '.' || c == '/' || c == '~';
}

int hid_pair_url_parse(const char *s, size_t len, char *code, size_t cap)
{
	size_t i, host, hash;

	if (len > 7 && !memcmp(s, "http://", 7))
		i = 7;
	else if (len > 8 && !memcmp(s, "https://", 8))
		i = 8;
	else
		return SB_EINVAL;
	host = i;
	while (i < len && host_char(s[i]))
		i++;
	if (i == host || i >= len || s[i] != '/')
		return SB_EINVAL;
	while (i < len && path_char(s[i]))
		i++;
	hash = i;
	/* the path must end in "/p" right before the '#' */
	if (hash >= len || s[hash] != '#' || hash < host + 3 || s[hash - 1] != 'p' ||
	    s[hash - 2] != '/')
		return SB_EINVAL;
	for (i = hash + 1; i < len; i++)
		if (!code_char(s[i]))
			return SB_EINVAL;
	if (len - hash - 1 < CODE_MIN || len - hash - 1 >= HID_PAIR_CODE_MAX ||
	    len - hash - 1 >= cap)
		return SB_EINVAL;
	memcpy(code, s + hash + 1, len - hash - 1);
	code[len - hash - 1] = '\0';
	return 0;
}
