/* SPDX-License-Identifier: MIT */
/* Project-wide error codes: every fallible function returns 0 or one of these
 * (negative) values, so callers can map failures to wire errors uniformly:
 * wire_err.h holds that mapping. */
#ifndef SB_ERR_H
#define SB_ERR_H

enum sb_err {
	SB_OK = 0,
	SB_ENOMEM = -1,      /* allocation failed */
	SB_EINVAL = -2,      /* bad argument / bad field */
	SB_ENOTFOUND = -3,   /* no such row / object */
	SB_EEXIST = -4,      /* already exists */
	SB_EIO = -5,         /* storage or OS I/O error */
	SB_EFULL = -6,       /* disk full */
	SB_ESCHEMA = -7,     /* database schema newer than this binary */
	SB_EAUTH = -8,       /* token missing, malformed, bad signature or alg */
	SB_EEXPIRED = -9,    /* token or object past its expiry */
	SB_ELIMIT = -10,     /* a configured limit was reached */
	SB_ECHECKDIGIT = -11,/* barcode check digit wrong */
	SB_EPROTO = -12,     /* protocol violation: not JSON, not an object, unknown type */
	SB_ETOOBIG = -13,    /* input larger than allowed */
	SB_ECONFIG = -14,    /* configuration error */
	SB_EFORBIDDEN = -15, /* valid token, wrong session or role */
	SB_EGONE = -16,      /* the session was deleted */
	SB_EKICKED = -17,    /* the scanner was removed from its session */
	/* The most negative code: tables indexed by -err (wire_err.c) are
	 * sized by it, so a new code moves it along. */
	SB_ERR_LAST = SB_EKICKED,
};

/* Human-readable text for an sb_err value; never NULL. */
const char *sb_strerror(int err);

#endif
