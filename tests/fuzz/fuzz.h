/* SPDX-License-Identifier: MIT */
/* Shared bits of the libFuzzer targets: the entry point prototypes (the build
 * has -Wmissing-prototypes) and FUZZ_ASSERT, which reports a broken invariant
 * and abort()s so libFuzzer records the input as a crash. */
#ifndef SB_FUZZ_H
#define SB_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

#endif
