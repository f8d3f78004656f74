/* SPDX-License-Identifier: MIT */
/* The executable's half of the net under ZXing's assert()s (see assert_net.c
 * and docs/decoding.md): this program defines and exports glibc's
 * __assert_fail, so a failed assertion inside libZXing.so (loaded later with
 * the decoder module) reaches us instead of aborting the daemon. The decoder
 * installs a hook that throws a C++ exception when the failing thread is
 * inside a ZXing call; everywhere else the assertion aborts exactly as glibc's
 * would. No C++ here: the daemon itself does not need the C++ runtime. */
#ifndef SB_ASSERT_NET_H
#define SB_ASSERT_NET_H

/* Called with __assert_fail's arguments. Throws (never returns) when the
 * failure is one it owns; returns otherwise, and the assertion then aborts. */
typedef void (*assert_hook_fn)(const char *expr, const char *file, unsigned int line,
			       const char *func);

/* Installs hook (NULL removes it) for every thread. Called once by the module
 * loader before the first decode; a decoder linked statically into a program
 * (tests, tools) needs no call: its hook is found at link time. */
void assert_net_set_hook(assert_hook_fn hook);

#endif
