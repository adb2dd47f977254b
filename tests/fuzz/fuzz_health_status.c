// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness: the HTTP status-line parser of the health checker
 * (src/health.c, xlb_health_parse_status_line), which reads what a
 * backend (or anyone answering on its address) sends.  Property: a
 * decided status is what health.h documents, three digits >= 100 (RFC
 * 9110 would also refuse 600-999: harmless here, no such code is ever
 * expected).
 */
#include "health.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	int status = -1, rc;

	if (!buf)
		abort();
	memcpy(buf, data, size); /* exact length: no NUL after it */
	rc = xlb_health_parse_status_line(buf, size, &status);
	if (rc > 0)
		FZ_ASSERT(status >= 100 && status <= 999 && size >= 13,
			  "status %d from %zu bytes", status, size);
	free(buf);
	return 0;
}
