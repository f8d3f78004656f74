/* SPDX-License-Identifier: MIT */
/* glibc's assert() failure entry, __assert_fail, defined in the executable so
 * that it interposes glibc's for every shared object, including libZXing.so
 * when the decoder module brings it in with dlopen (symbols of the executable
 * come first in the global lookup scope; the build exports this one with
 * --export-dynamic-symbol, see daemon/CMakeLists.txt). It hands the failure to
 * the hook the decoder installed, which throws a C++ exception when the thread
 * is inside a ZXing call: that exception unwinds through this frame, so this
 * file is compiled with -fexceptions (unwind tables on every arch, including
 * ARM EHABI). Without a hook, or when the hook returns, it prints glibc's
 * message and aborts, as before. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "assert_net.h"

/* The decoder's hook when it is linked statically into the program (tests,
 * decode tools): resolved at link time, NULL in the daemon, which gets the
 * module's hook from the loader instead. Hidden, so it never becomes a
 * dynamic symbol of the executable. */
extern void decode__assert_hook(const char *expr, const char *file, unsigned int line,
				const char *func) __attribute__((weak, visibility("hidden")));

static _Atomic(assert_hook_fn) hook;

void assert_net_set_hook(assert_hook_fn fn)
{
	atomic_store_explicit(&hook, fn, memory_order_release);
}

/* <assert.h> declares it only without NDEBUG; ours must not be __THROW: the
 * hook's exception passes through. */
void __assert_fail(const char *expr, const char *file, unsigned int line, const char *func)
	__attribute__((__noreturn__));

void __assert_fail(const char *expr, const char *file, unsigned int line, const char *func)
{
	assert_hook_fn fn = atomic_load_explicit(&hook, memory_order_acquire);

	if (!fn)
		fn = decode__assert_hook;
	if (fn)
		fn(expr, file, line, func);
	/* glibc's own wording: "prog: file:line: func: Assertion `expr' failed." */
	fprintf(stderr, "%s%s%s:%u: %s%sAssertion `%s' failed.\n", program_invocation_short_name,
		program_invocation_short_name[0] ? ": " : "", file, line, func ? func : "",
		func ? ": " : "", expr);
	fflush(stderr);
	abort();
}
