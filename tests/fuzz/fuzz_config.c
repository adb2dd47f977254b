// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness: the configuration file parser (src/config.c,
 * xlb_config_parse) and its writer.  Properties: an error comes with a
 * "NAME:LINE: ..." message; a configuration that parses is written
 * (xlb config save) into text that parses again and is written the same
 * (the round trip `xlb save` relies on).
 */
#include <errno.h>

#include "config.h"
#include "fuzz_common.h"

#define ERRLEN 256

static char *write_conf(const struct xlb_config *c, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		abort();
	FZ_ASSERT(xlb_config_write(c, f) == 0, "xlb_config_write failed");
	fclose(f);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xlb_config c, c2;
	char err[ERRLEN], err2[ERRLEN];
	char *text = fz_str(data, size), *w1, *w2;
	size_t l1, l2;
	int rc;

	memset(err, 0x55, sizeof(err));
	rc = xlb_config_parse("f.conf", text, &c, err, sizeof(err));
	free(text);
	if (rc) {
		FZ_ASSERT(memchr(err, 0, sizeof(err)), "error not terminated");
		FZ_ASSERT(!strncmp(err, "f.conf:", 7), "message \"%s\"", err);
		return 0;
	}
	w1 = write_conf(&c, &l1);
	rc = xlb_config_parse("saved.conf", w1, &c2, err2, sizeof(err2));
	FZ_ASSERT(rc == 0, "saved configuration does not parse: %s\n%s", err2,
		  w1);
	w2 = write_conf(&c2, &l2);
	FZ_ASSERT(l1 == l2 && !memcmp(w1, w2, l1),
		  "save -> parse -> save differs:\n%s\n---\n%s", w1, w2);
	free(w1);
	free(w2);
	xlb_config_free(&c);
	xlb_config_free(&c2);
	return 0;
}
