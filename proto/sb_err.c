/* SPDX-License-Identifier: MIT */
/* Text for the project-wide error codes. */
#include "sb_err.h"

const char *sb_strerror(int err)
{
	switch (err) {
	case SB_OK: return "success";
	case SB_ENOMEM: return "out of memory";
	case SB_EINVAL: return "invalid argument";
	case SB_ENOTFOUND: return "not found";
	case SB_EEXIST: return "already exists";
	case SB_EIO: return "I/O error";
	case SB_EFULL: return "storage full";
	case SB_ESCHEMA: return "database schema is newer than this program";
	case SB_EAUTH: return "unauthorized";
	case SB_EEXPIRED: return "expired";
	case SB_ELIMIT: return "limit reached";
	case SB_ECHECKDIGIT: return "invalid check digit";
	case SB_EPROTO: return "protocol violation";
	case SB_ETOOBIG: return "too large";
	case SB_ECONFIG: return "configuration error";
	case SB_EFORBIDDEN: return "forbidden";
	case SB_EGONE: return "session ended";
	case SB_EKICKED: return "scanner removed from the session";
	}
	return "unknown error";
}
