/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Minimal table-driven test helpers.  Each case prints one line that
 * tests/run.sh counts: "PASS name", "FAIL name: why" or "SKIP name: why". */
#ifndef XTEST_H
#define XTEST_H
#include <stdarg.h>
#include <stdio.h>

static int xtest_failed, xtest_passed, xtest_skipped;

static inline void xtest_pass(const char *name)
{
	printf("PASS %s\n", name);
	xtest_passed++;
}

static inline __attribute__((format(printf, 2, 3))) void
xtest_fail(const char *name, const char *fmt, ...)
{
	va_list ap;
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	xtest_failed++;
}

static inline __attribute__((format(printf, 2, 3))) void
xtest_skip(const char *name, const char *fmt, ...)
{
	va_list ap;
	printf("SKIP %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	xtest_skipped++;
}

/* Print the summary and return the process exit code. */
static inline int xtest_done(void)
{
	printf("%d passed, %d failed, %d skipped\n", xtest_passed, xtest_failed,
	       xtest_skipped);
	fflush(stdout);
	return xtest_failed ? 1 : 0;
}
#endif
