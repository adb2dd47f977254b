// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness: the command-line parsers of src/addr.c (xlb_addr_parse,
 * xlb_vip_parse, xlb_backends_parse, xlb_port_range_parse, xlb_u64_parse).
 * Byte 0 picks the parser, a few bytes set its parameters, the rest is the
 * text.  Besides the sanitizers it checks what addr.h promises: the error
 * message is set and NUL-terminated on failure; values are in range on
 * success; a parsed address / endpoint printed back parses to the same.
 */
#include <errno.h>
#include <inttypes.h>

#include "addr.h"
#include "fuzz_common.h"

#define ERRLEN 96 /* small: messages longer than this must be cut */

static void check_err(int rc, const char *err)
{
	if (!rc)
		return;
	FZ_ASSERT(memchr(err, 0, ERRLEN) != NULL, "error not terminated");
	FZ_ASSERT(err[0] != 0, "error %d without a message", rc);
}

static void fuzz_addr(const char *s)
{
	char err[ERRLEN], buf[XLB_ENDPOINT_STRLEN], err2[ERRLEN];
	struct xlb_addr a, b;
	__u8 fam = 0, fam2 = 0;
	int rc;

	memset(err, 0x55, sizeof(err));
	rc = xlb_addr_parse(s, &a, &fam, err, sizeof(err));
	check_err(rc, err);
	if (rc)
		return;
	FZ_ASSERT(fam == XLB_FAMILY_V4 || fam == XLB_FAMILY_V6, "family %u", fam);
	xlb_addr_str(&a, fam, buf, sizeof(buf));
	rc = xlb_addr_parse(buf, &b, &fam2, err2, sizeof(err2));
	FZ_ASSERT(!rc && fam2 == fam && !memcmp(&a, &b, sizeof(a)),
		  "\"%s\" printed as \"%s\" does not parse back", s, buf);
}

static void fuzz_vip(const char *s)
{
	char err[ERRLEN], buf[XLB_ENDPOINT_STRLEN + 8], err2[ERRLEN];
	struct xlb_endpoint ep, ep2;
	__u8 proto = 0, proto2 = 0;
	int rc;

	memset(err, 0x55, sizeof(err));
	rc = xlb_vip_parse(s, &ep, &proto, err, sizeof(err));
	check_err(rc, err);
	if (rc)
		return;
	FZ_ASSERT(ep.port >= 1, "port 0 accepted in \"%s\"", s);
	FZ_ASSERT(proto == 6 || proto == 17, "proto %u", proto);
	FZ_ASSERT(ep.family == XLB_FAMILY_V4 || ep.family == XLB_FAMILY_V6,
		  "family %u", ep.family);
	xlb_endpoint_str(&ep.addr, ep.family, ep.port, buf, XLB_ENDPOINT_STRLEN);
	strcat(buf, proto == 17 ? "/udp" : "/tcp");
	rc = xlb_vip_parse(buf, &ep2, &proto2, err2, sizeof(err2));
	FZ_ASSERT(!rc && proto2 == proto && ep2.port == ep.port &&
			  ep2.family == ep.family &&
			  !memcmp(&ep.addr, &ep2.addr, sizeof(ep.addr)),
		  "\"%s\" printed as \"%s\" does not parse back", s, buf);
}

static void fuzz_backends(const char *s, __u16 default_port, size_t max)
{
	struct xlb_backend_arg out[16];
	char err[ERRLEN];
	size_t n = 99;
	int rc;

	memset(err, 0x55, sizeof(err));
	rc = xlb_backends_parse(s, default_port, out, max, &n, err, sizeof(err));
	check_err(rc, err);
	if (rc) {
		FZ_ASSERT(n == 0, "*n %zu on error", n);
		FZ_ASSERT(rc == -EINVAL || rc == -E2BIG || rc == -ENOMEM,
			  "rc %d", rc);
		return;
	}
	FZ_ASSERT(n >= 1 && n <= max, "n %zu max %zu", n, max);
	for (size_t i = 0; i < n; i++) {
		FZ_ASSERT(out[i].ep.port >= 1, "item %zu port 0", i);
		FZ_ASSERT(out[i].ep.family == out[0].ep.family,
			  "mixed families in \"%s\"", s);
		for (size_t j = 0; j < i; j++)
			FZ_ASSERT(out[j].ep.port != out[i].ep.port ||
					  memcmp(&out[j].ep.addr, &out[i].ep.addr,
						 sizeof(out[i].ep.addr)),
				  "duplicate accepted in \"%s\"", s);
	}
}

static void fuzz_port_range(const char *s)
{
	char err[ERRLEN];
	__u16 lo = 0, hi = 0;
	int rc;

	memset(err, 0x55, sizeof(err));
	rc = xlb_port_range_parse(s, &lo, &hi, err, sizeof(err));
	check_err(rc, err);
	if (!rc)
		FZ_ASSERT(lo >= 1 && lo <= hi, "range %u-%u from \"%s\"", lo, hi, s);
}

static void fuzz_u64(const char *s, __u64 min, __u64 max)
{
	__u64 v = 0x1234;
	int rc = xlb_u64_parse(s, min, max, &v);
	char buf[32];
	const char *d = s;

	FZ_ASSERT(rc == 0 || rc == -EINVAL || rc == -ERANGE, "rc %d", rc);
	if (rc) {
		FZ_ASSERT(v == 0x1234, "*out set on error");
		return;
	}
	FZ_ASSERT(v >= min && v <= max, "%" PRIu64 " outside %" PRIu64 "-%" PRIu64,
		  (uint64_t)v, (uint64_t)min, (uint64_t)max);
	/* digits only; leading zeros are decimal */
	while (*d == '0' && d[1])
		d++;
	snprintf(buf, sizeof(buf), "%" PRIu64, (uint64_t)v);
	FZ_ASSERT(!strcmp(buf, d), "\"%s\" read as %s", s, buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	__u64 a = 0, b = 0;
	char *s;

	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		s = fz_str(data + 1, size - 1);
		fuzz_addr(s);
		break;
	case 1:
		s = fz_str(data + 1, size - 1);
		fuzz_vip(s);
		break;
	case 2:
		if (size < 4)
			return 0;
		s = fz_str(data + 4, size - 4);
		fuzz_backends(s, (__u16)(data[1] << 8 | data[2]),
			      1 + data[3] % 16);
		break;
	case 3:
		s = fz_str(data + 1, size - 1);
		fuzz_port_range(s);
		break;
	default:
		if (size < 17)
			return 0;
		memcpy(&a, data + 1, 8);
		memcpy(&b, data + 9, 8);
		s = fz_str(data + 17, size - 17);
		fuzz_u64(s, a < b ? a : b, a < b ? b : a);
		break;
	}
	free(s);
	return 0;
}
