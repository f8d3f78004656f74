/* SPDX-License-Identifier: MIT */
/* A tiny unit-test harness: CHECK records failures without stopping, TEST_MAIN
 * runs the listed tests and prints the plain "N passed, N failed" summary. */
#ifndef SB_CHECK_H
#define SB_CHECK_H
#include <stdio.h>
#include <string.h>

static int check_failures_;

#define CHECK(cond) do { if (!(cond)) { check_failures_++; \
	fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_EQ_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) { check_failures_++; fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
	__FILE__, __LINE__, #a, a_, #b, b_); } } while (0)
#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b); \
	if (!a_ || !b_ || strcmp(a_, b_)) { check_failures_++; fprintf(stderr, \
	"%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } } while (0)

struct check_case { const char *name; void (*fn)(void); };

static inline int check_run(const struct check_case *cases, int n)
{
	int passed = 0, failed = 0;
	for (int i = 0; i < n; i++) {
		int before = check_failures_;
		cases[i].fn();
		if (check_failures_ == before) { passed++; printf("ok   %s\n", cases[i].name); }
		else { failed++; printf("FAIL %s\n", cases[i].name); }
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

#define TEST(fn) { #fn, fn }
#define TEST_MAIN(...) int main(void) { static const struct check_case c_[] = { __VA_ARGS__ }; \
	return check_run(c_, (int)(sizeof c_ / sizeof c_[0])); }
#endif
