/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The library's one way to describe an error for the command layer. */
#ifndef XLB_ERRMSG_H
#define XLB_ERRMSG_H

#include <stddef.h>

/* Format a message into err (errlen bytes, always terminated; err may be
 * NULL) and return rc, so that `return xlb_errmsg(err, len, -EINVAL,
 * "...")` reports and fails in one statement. */
int xlb_errmsg(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
