// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness: the control command lines (src/request.c,
 * xlb_request_parse: what `xlb service|backend|show|...` and the daemon
 * parse from argv), and the word-level parsers they use (health specs,
 * durations).  The input is split at newlines / NUL bytes into argv.
 * Properties: on -EINVAL the message is set and terminated; a duration
 * printed back (xlb_duration_str) parses to the same value.
 */
#include <errno.h>

#include "config.h"
#include "request.h"
#include "fuzz_common.h"

#define ERRLEN 256
#define MAX_ARGS 40

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 1], err[ERRLEN];
	struct xlb_request r;
	struct xlb_health_conf hc;
	__u64 ms;
	bool on;
	int argc, rc;
	char *buf;

	if (size < 1)
		return 0;
	buf = fz_words(data + 1, size - 1, argv, MAX_ARGS, &argc);
	memset(err, 0x55, sizeof(err));
	switch (data[0] % 3) {
	case 0:
		rc = xlb_request_parse(argc, argv, &r, err, sizeof(err));
		FZ_ASSERT(rc == 0 || rc == 1 || rc == -EINVAL, "rc %d", rc);
		/* 1 = help asked: the caller prints xlb_request_usage() */
		if (rc < 0)
			FZ_ASSERT(memchr(err, 0, sizeof(err)) && err[0],
				  "no message (rc %d)", rc);
		break;
	case 1:
		rc = xlb_health_spec_parse(argv, argc, &on, &hc, err,
					   sizeof(err));
		if (rc)
			FZ_ASSERT(memchr(err, 0, sizeof(err)) && err[0],
				  "no message (rc %d)", rc);
		break;
	default:
		rc = xlb_duration_parse(argv[0], 1000ull * 86400 * 365, &ms);
		if (!rc) {
			char b[64], *again = NULL;
			__u64 ms2 = 0;

			again = (char *)xlb_duration_str(ms, b, sizeof(b));
			FZ_ASSERT(!xlb_duration_parse(again, ~0ull, &ms2) &&
					  ms2 == ms,
				  "\"%s\" = %llu ms printed as \"%s\"", argv[0],
				  (unsigned long long)ms, again);
		}
		break;
	}
	free(buf);
	return 0;
}
