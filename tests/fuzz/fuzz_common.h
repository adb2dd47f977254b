/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared bits of the libFuzzer harnesses (tests/fuzz/fuzz_*.c), built with
 * clang -fsanitize=fuzzer,address,undefined (make fuzz-build).  A harness
 * crashes (abort) only on a sanitizer report or on a broken property that
 * the parser's header documents.
 */
#ifndef XLB_FUZZ_COMMON_H
#define XLB_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A NUL-terminated copy of the input (parsers take C strings). */
static inline char *fz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = 0;
	return s;
}

/* Split the input at NUL or newline bytes into at most max words (argv
 * style, the words point into the returned buffer). */
static inline char *fz_words(const uint8_t *data, size_t size, char **argv,
			     int max, int *argc)
{
	char *s = fz_str(data, size), *p = s;

	*argc = 0;
	while (*argc < max) {
		argv[(*argc)++] = p;
		while (p < s + size && *p && *p != '\n')
			p++;
		if (p >= s + size)
			break;
		*p++ = 0;
	}
	argv[*argc] = NULL;
	return s;
}

#define FZ_ASSERT(cond, ...)                                                \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "property failed: %s: ", #cond);    \
			fprintf(stderr, __VA_ARGS__);                       \
			fputc('\n', stderr);                                \
			abort();                                            \
		}                                                           \
	} while (0)

#endif
