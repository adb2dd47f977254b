// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of src/addr.c (address, VIP, backend list, number and port
 * range parsing; formatting) and src/json.c (JSON writer).  Table-driven:
 * one PASS/FAIL line per named case.  Error messages are compared exactly:
 * they are the user interface.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "json.h"
#include "xtest.h"

#define ERR_BYTES 256

/* ---- VIPs ---- */

struct vip_case {
	const char *name;
	const char *spec;
	const char *want;  /* endpoint as xlb_endpoint_str, NULL: must fail */
	__u8 want_proto;
	const char *want_err; /* exact message when it must fail */
};

#define VIP_OK(n, s, w, p) { .name = n, .spec = s, .want = w, .want_proto = p }
#define VIP_BAD(n, s, e) { .name = n, .spec = s, .want_err = e }

static const struct vip_case vip_cases[] = {
	VIP_OK("vip_v4_default_tcp", "198.51.100.10:8000", "198.51.100.10:8000",
	  IPPROTO_TCP),
	VIP_OK("vip_v4_tcp", "198.51.100.10:8000/tcp", "198.51.100.10:8000",
	  IPPROTO_TCP),
	VIP_OK("vip_v4_udp", "198.51.100.10:53/udp", "198.51.100.10:53",
	  IPPROTO_UDP),
	VIP_OK("vip_proto_upper_case", "198.51.100.10:53/UDP", "198.51.100.10:53",
	  IPPROTO_UDP),
	VIP_OK("vip_v6_tcp", "[2001:db8::10]:80/tcp", "[2001:db8::10]:80",
	  IPPROTO_TCP),
	VIP_OK("vip_v6_canonical", "[2001:0db8:0:0::0010]:80", "[2001:db8::10]:80",
	  IPPROTO_TCP),
	VIP_OK("vip_port_max", "203.0.113.1:65535", "203.0.113.1:65535",
	  IPPROTO_TCP),
	VIP_OK("vip_port_leading_zero", "203.0.113.1:08000", "203.0.113.1:8000",
	  IPPROTO_TCP),
	VIP_BAD("vip_no_port", "198.51.100.10",
	  "VIP \"198.51.100.10\" needs a port, e.g. 198.51.100.10:8000"),
	VIP_BAD("vip_no_port_proto", "198.51.100.10/udp",
	  "VIP \"198.51.100.10/udp\" needs a port, e.g. 198.51.100.10:8000"),
	VIP_BAD("vip_v6_no_port", "[2001:db8::10]",
	  "VIP \"[2001:db8::10]\" needs a port, e.g. [2001:db8::10]:8000"),
	VIP_BAD("vip_bare_v6", "2001:db8::10",
	  "VIP \"2001:db8::10\": an IPv6 address goes in brackets, the port after them: [ADDR]:PORT, e.g. [2001:db8::10]:8000"),
	/* the brackets go around the address only, not the port */
	VIP_BAD("vip_bare_v6_with_port", "2001:db8::10:80/tcp",
	  "VIP \"2001:db8::10:80/tcp\": an IPv6 address goes in brackets, the port after them: write [2001:db8::10]:80"),
	VIP_BAD("vip_bare_v6_with_port_443", "2001:db8:198::10:443",
	  "VIP \"2001:db8:198::10:443\": an IPv6 address goes in brackets, the port after them: write [2001:db8:198::10]:443"),
	VIP_BAD("vip_port_zero", "198.51.100.10:0",
	  "port 0 out of range 1-65535 in \"198.51.100.10:0\""),
	VIP_BAD("vip_port_too_big", "198.51.100.10:65536/tcp",
	  "port 65536 out of range 1-65535 in \"198.51.100.10:65536/tcp\""),
	VIP_BAD("vip_port_trailing_junk", "198.51.100.10:80x",
	  "port \"80x\" is not a number in \"198.51.100.10:80x\""),
	VIP_BAD("vip_port_sign", "198.51.100.10:+80",
	  "port \"+80\" is not a number in \"198.51.100.10:+80\""),
	VIP_BAD("vip_port_trailing_space", "198.51.100.10:80 ",
	  "port \"80 \" is not a number in \"198.51.100.10:80 \""),
	VIP_BAD("vip_port_empty", "198.51.100.10:",
	  "VIP \"198.51.100.10:\": missing port after \":\""),
	VIP_BAD("vip_bad_addr", "198.51.100.300:80",
	  "VIP \"198.51.100.300:80\": \"198.51.100.300\" is not an IPv4 or IPv6 address"),
	VIP_BAD("vip_hostname", "example.com:80",
	  "VIP \"example.com:80\": \"example.com\" is not an IPv4 or IPv6 address"),
	VIP_BAD("vip_missing_addr", ":80", "VIP \":80\": missing address"),
	VIP_BAD("vip_proto_unknown", "198.51.100.10:80/sctp",
	  "VIP \"198.51.100.10:80/sctp\": unknown protocol \"sctp\", use tcp or udp"),
	VIP_BAD("vip_proto_trailing_junk", "198.51.100.10:80/tcp/x",
	  "VIP \"198.51.100.10:80/tcp/x\": unknown protocol \"tcp/x\", use tcp or udp"),
	VIP_BAD("vip_proto_empty", "198.51.100.10:80/",
	  "VIP \"198.51.100.10:80/\": missing protocol after \"/\", use tcp or udp"),
	VIP_BAD("vip_empty", "",
	  "VIP is empty, e.g. 198.51.100.10:8000/tcp"),
	VIP_BAD("vip_missing_bracket", "[2001:db8::10:80",
	  "VIP \"[2001:db8::10:80\": missing \"]\" after the IPv6 address"),
	VIP_BAD("vip_junk_after_bracket", "[2001:db8::10]x80",
	  "VIP \"[2001:db8::10]x80\": unexpected \"x80\" after \"]\", expected :PORT"),
	VIP_BAD("vip_v4_in_brackets", "[198.51.100.10]:80",
	  "VIP \"[198.51.100.10]:80\": brackets are for IPv6 addresses only, write 198.51.100.10"),
	VIP_BAD("vip_v4_mapped", "[::ffff:198.51.100.10]:80",
	  "VIP \"[::ffff:198.51.100.10]:80\": \"::ffff:198.51.100.10\" is an IPv4-mapped IPv6 address, write it as 198.51.100.10"),
	VIP_BAD("vip_too_long",
	  "198.51.100.10:8000/tcpxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	  "VIP \"198.51.100.10:8000/tcpxxxxxxxxxxxxxxxxxx...\": too long"),
};

static void test_vips(void)
{
	char err[ERR_BYTES], text[XLB_ENDPOINT_STRLEN];
	size_t i;

	for (i = 0; i < sizeof(vip_cases) / sizeof(vip_cases[0]); i++) {
		const struct vip_case *c = &vip_cases[i];
		struct xlb_endpoint ep;
		__u8 proto = 0;
		int ret;

		memset(&ep, 0xff, sizeof(ep));
		strcpy(err, "(untouched)");
		ret = xlb_vip_parse(c->spec, &ep, &proto, err, sizeof(err));
		if (c->want) {
			xlb_endpoint_str(&ep.addr, ep.family, ep.port, text,
					 sizeof(text));
			if (ret)
				xtest_fail(c->name, "\"%s\": %d (%s)", c->spec,
					   ret, err);
			else if (strcmp(text, c->want) || proto != c->want_proto)
				xtest_fail(c->name, "\"%s\": got %s/%u, want %s/%u",
					   c->spec, text, proto, c->want,
					   c->want_proto);
			else if (ep.family == XLB_FAMILY_V4 &&
				 (ep.addr.ip6[1] || ep.addr.ip6[2] ||
				  ep.addr.ip6[3]))
				xtest_fail(c->name, "bytes 4-15 not zero");
			else
				xtest_pass(c->name);
		} else if (ret != -EINVAL) {
			xtest_fail(c->name, "\"%s\": returned %d, want -EINVAL",
				   c->spec, ret);
		} else if (strcmp(err, c->want_err)) {
			xtest_fail(c->name, "message\n  got:  %s\n  want: %s", err,
				   c->want_err);
		} else {
			xtest_pass(c->name);
		}
	}
}

/* ---- backend lists ---- */

struct backends_case {
	const char *name;
	const char *spec;
	__u16 default_port;
	size_t max;
	const char *want; /* "ENDPOINT@WEIGHT,...", NULL: must fail */
	int want_ret;
	const char *want_err;
};

#define BE_MAX 8

#define BE_OK(n, s, port, m, w)                                      \
	{ .name = n, .spec = s, .default_port = port, .max = m, .want = w }
#define BE_BAD(n, s, port, m, ret, e)                                   \
	{ .name = n, .spec = s, .default_port = port, .max = m,           \
	  .want_ret = ret, .want_err = e }

static const struct backends_case backends_cases[] = {
	BE_OK("be_one_default_port", "198.51.100.11", 8000, BE_MAX,
	  "198.51.100.11:8000@1"),
	BE_OK("be_ports_and_weights",
	  "198.51.100.11:8001@5,198.51.100.12@0,198.51.100.13:9000", 8000,
	  BE_MAX,
	  "198.51.100.11:8001@5,198.51.100.12:8000@0,198.51.100.13:9000@1"),
	BE_OK("be_v6_forms",
	  "[2001:db8::11]:80,[2001:db8::12],2001:db8::13@3,[2001:db8::14]:81@2",
	  8000, BE_MAX,
	  "[2001:db8::11]:80@1,[2001:db8::12]:8000@1,[2001:db8::13]:8000@3,[2001:db8::14]:81@2"),
	BE_OK("be_weight_max", "198.51.100.11@65535", 80, BE_MAX,
	  "198.51.100.11:80@65535"),
	BE_OK("be_same_addr_other_port", "198.51.100.11:80,198.51.100.11:81", 0,
	  BE_MAX, "198.51.100.11:80@1,198.51.100.11:81@1"),
	BE_OK("be_exactly_max", "198.51.100.11,198.51.100.12", 80, 2,
	  "198.51.100.11:80@1,198.51.100.12:80@1"),
	BE_BAD("be_bad_addr", "198.51.100.300", 80, BE_MAX, -EINVAL,
	  "backend \"198.51.100.300\": not an IPv4 or IPv6 address"),
	BE_BAD("be_bad_addr_second_item", "198.51.100.11,198.51.100.300:80@2", 80,
	  BE_MAX, -EINVAL,
	  "backend \"198.51.100.300:80@2\": \"198.51.100.300\" is not an IPv4 or IPv6 address"),
	BE_BAD("be_space_after_comma", "198.51.100.11, 198.51.100.12", 80, BE_MAX, -EINVAL,
	  "backend \" 198.51.100.12\": not an IPv4 or IPv6 address"),
	BE_BAD("be_weight_out_of_range", "198.51.100.11@70000", 80, BE_MAX,
	  -EINVAL, "weight 70000 out of range 0-65535 in \"198.51.100.11@70000\""),
	BE_BAD("be_weight_not_number", "198.51.100.11@x", 80, BE_MAX, -EINVAL,
	  "weight \"x\" is not a number in \"198.51.100.11@x\""),
	BE_BAD("be_weight_negative", "198.51.100.11@-1", 80, BE_MAX, -EINVAL,
	  "weight \"-1\" is not a number in \"198.51.100.11@-1\""),
	BE_BAD("be_weight_empty", "198.51.100.11@", 80, BE_MAX, -EINVAL,
	  "backend \"198.51.100.11@\": missing weight after \"@\""),
	BE_BAD("be_port_zero", "198.51.100.11:0@2", 80, BE_MAX, -EINVAL,
	  "port 0 out of range 1-65535 in \"198.51.100.11:0@2\""),
	BE_BAD("be_empty_list", "", 80, BE_MAX, -EINVAL,
	  "no backends given, e.g. 198.51.100.11:8000,198.51.100.12:8000@2"),
	BE_BAD("be_empty_item", "198.51.100.11,,198.51.100.12", 80, BE_MAX,
	  -EINVAL,
	  "backends \"198.51.100.11,,198.51.100.12\": item 2 is empty, e.g. 198.51.100.11:8000,198.51.100.12:8000@2"),
	BE_BAD("be_trailing_comma", "198.51.100.11,", 80, BE_MAX, -EINVAL,
	  "backends \"198.51.100.11,\": item 2 is empty, e.g. 198.51.100.11:8000,198.51.100.12:8000@2"),
	BE_BAD("be_leading_comma", ",198.51.100.11", 80, BE_MAX, -EINVAL,
	  "backends \",198.51.100.11\": item 1 is empty, e.g. 198.51.100.11:8000,198.51.100.12:8000@2"),
	BE_BAD("be_duplicate_default_port",
	  "198.51.100.11,198.51.100.12:8000,198.51.100.11:8000@3", 8000, BE_MAX, -EINVAL,
	  "backend \"198.51.100.11:8000@3\" (item 3) duplicates \"198.51.100.11\" (item 1)"),
	BE_BAD("be_duplicate_v6_spelling", "[2001:db8::11]:80,[2001:db8:0::11]:80",
	  0, BE_MAX, -EINVAL,
	  "backend \"[2001:db8:0::11]:80\" (item 2) duplicates \"[2001:db8::11]:80\" (item 1)"),
	BE_BAD("be_duplicate_first_repetition",
	  "198.51.100.11,198.51.100.12,198.51.100.12,198.51.100.11", 80, BE_MAX, -EINVAL,
	  "backend \"198.51.100.12\" (item 3) duplicates \"198.51.100.12\" (item 2)"),
	BE_BAD("be_too_many", "198.51.100.11,198.51.100.12,198.51.100.13", 80, 2, -E2BIG, "too many backends: 3 given, at most 2"),
	BE_BAD("be_mixed_families", "198.51.100.11,2001:db8::11", 80, BE_MAX,
	  -EINVAL,
	  "backends must all be IPv4 or all IPv6: \"198.51.100.11\" is IPv4 but \"2001:db8::11\" is IPv6"),
	BE_BAD("be_needs_port", "198.51.100.11", 0, BE_MAX, -EINVAL,
	  "backend \"198.51.100.11\" needs a port, e.g. 198.51.100.11:8000"),
	BE_BAD("be_v6_needs_port", "2001:db8::11@2", 0, BE_MAX, -EINVAL,
	  "backend \"2001:db8::11@2\" needs a port, e.g. [2001:db8::11]:8000"),
};

static void render_backends(const struct xlb_backend_arg *b, size_t n,
			    char *out, size_t len)
{
	char text[XLB_ENDPOINT_STRLEN];
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < n && used < len; i++) {
		xlb_endpoint_str(&b[i].ep.addr, b[i].ep.family, b[i].ep.port,
				 text, sizeof(text));
		used += snprintf(out + used, len - used, "%s%s@%u",
				 i ? "," : "", text, b[i].weight);
	}
}

static void test_backends(void)
{
	struct xlb_backend_arg out[BE_MAX];
	char err[ERR_BYTES], got[512];
	size_t i;

	for (i = 0; i < sizeof(backends_cases) / sizeof(backends_cases[0]);
	     i++) {
		const struct backends_case *c = &backends_cases[i];
		size_t n = 99;
		int ret;

		strcpy(err, "(untouched)");
		ret = xlb_backends_parse(c->spec, c->default_port, out, c->max,
					 &n, err, sizeof(err));
		if (c->want) {
			render_backends(out, n, got, sizeof(got));
			if (ret)
				xtest_fail(c->name, "\"%s\": %d (%s)", c->spec,
					   ret, err);
			else if (strcmp(got, c->want))
				xtest_fail(c->name, "\n  got:  %s\n  want: %s",
					   got, c->want);
			else
				xtest_pass(c->name);
		} else if (ret != c->want_ret || n != 0) {
			xtest_fail(c->name, "\"%s\": returned %d n=%zu, want %d n=0",
				   c->spec, ret, n, c->want_ret);
		} else if (strcmp(err, c->want_err)) {
			xtest_fail(c->name, "message\n  got:  %s\n  want: %s", err,
				   c->want_err);
		} else {
			xtest_pass(c->name);
		}
	}
}

/* ---- addresses ---- */

struct addr_case {
	const char *name;
	const char *text;
	__u8 want_family; /* 0: must fail */
	const char *want; /* formatted back, or the exact message */
};

static const struct addr_case addr_cases[] = {
	{ "addr_v4", "192.0.2.1", XLB_FAMILY_V4, "192.0.2.1" },
	{ "addr_v6", "2001:db8:0:0:0:0:0:1", XLB_FAMILY_V6, "2001:db8::1" },
	{ "addr_v4_short", "192.0.2", 0,
	  "address \"192.0.2\": not an IPv4 or IPv6 address" },
	{ "addr_v4_octet_too_big", "198.51.100.300", 0,
	  "address \"198.51.100.300\": not an IPv4 or IPv6 address" },
	{ "addr_v6_scope", "fe80::1%eth0", 0,
	  "address \"fe80::1%eth0\": not an IPv4 or IPv6 address" },
	{ "addr_v4_mapped", "::ffff:192.0.2.1", 0,
	  "address \"::ffff:192.0.2.1\": IPv4-mapped IPv6 address, write it as 192.0.2.1" },
	{ "addr_empty", "", 0, "address \"\": missing address" },
};

static void test_addrs(void)
{
	char err[ERR_BYTES], text[XLB_ENDPOINT_STRLEN];
	size_t i;

	for (i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++) {
		const struct addr_case *c = &addr_cases[i];
		struct xlb_addr a;
		__u8 family = 0;
		int ret, k, dirty = 0;

		memset(&a, 0xff, sizeof(a));
		ret = xlb_addr_parse(c->text, &a, &family, err, sizeof(err));
		if (!c->want_family) {
			if (ret != -EINVAL)
				xtest_fail(c->name, "returned %d", ret);
			else if (strcmp(err, c->want))
				xtest_fail(c->name, "message\n  got:  %s\n  want: %s",
					   err, c->want);
			else
				xtest_pass(c->name);
			continue;
		}
		for (k = family == XLB_FAMILY_V4 ? 4 : 16; k < 16; k++)
			dirty |= a.bytes[k];
		xlb_addr_str(&a, family, text, sizeof(text));
		if (ret || family != c->want_family)
			xtest_fail(c->name, "returned %d family %u", ret, family);
		else if (dirty)
			xtest_fail(c->name, "unused bytes not zeroed");
		else if (strcmp(text, c->want))
			xtest_fail(c->name, "got %s, want %s", text, c->want);
		else
			xtest_pass(c->name);
	}
}

/* ---- numbers and port ranges ---- */

struct u64_case {
	const char *name;
	const char *text;
	__u64 min, max;
	int want_ret;
	__u64 want;
};

#define U64_OK(n, s, lo, hi, v)                                       \
	{ .name = n, .text = s, .min = lo, .max = hi, .want = v }
#define U64_BAD(n, s, lo, hi, ret)                                    \
	{ .name = n, .text = s, .min = lo, .max = hi, .want_ret = ret }

static const struct u64_case u64_cases[] = {
	U64_OK("u64_zero", "0", 0, 10, 0),
	U64_OK("u64_leading_zeros", "007", 0, 10, 7),
	U64_OK("u64_max", "18446744073709551615", 0, UINT64_MAX, UINT64_MAX),
	U64_BAD("u64_overflow", "18446744073709551616", 0, UINT64_MAX, -ERANGE),
	U64_BAD("u64_overflow_then_junk", "99999999999999999999x", 0, UINT64_MAX, -EINVAL),
	U64_BAD("u64_below_min", "5", 6, 10, -ERANGE),
	U64_BAD("u64_above_max", "11", 6, 10, -ERANGE),
	U64_OK("u64_bounds_inclusive", "10", 10, 10, 10),
	U64_BAD("u64_empty", "", 0, 10, -EINVAL),
	U64_BAD("u64_null", NULL, 0, 10, -EINVAL),
	U64_BAD("u64_minus", "-1", 0, 10, -EINVAL),
	U64_BAD("u64_plus", "+1", 0, 10, -EINVAL),
	U64_BAD("u64_leading_space", " 1", 0, 10, -EINVAL),
	U64_BAD("u64_trailing_space", "1 ", 0, 10, -EINVAL),
	U64_BAD("u64_hex", "0x10", 0, 100, -EINVAL),
	U64_BAD("u64_suffix", "10k", 0, 100000, -EINVAL),
};

static void test_u64(void)
{
	size_t i;

	for (i = 0; i < sizeof(u64_cases) / sizeof(u64_cases[0]); i++) {
		const struct u64_case *c = &u64_cases[i];
		__u64 v = 12345;
		int ret;

		ret = xlb_u64_parse(c->text, c->min, c->max, &v);
		if (ret != c->want_ret)
			xtest_fail(c->name, "returned %d, want %d", ret,
				   c->want_ret);
		else if (!ret && v != c->want)
			xtest_fail(c->name, "got %llu, want %llu",
				   (unsigned long long)v,
				   (unsigned long long)c->want);
		else if (ret && v != 12345)
			xtest_fail(c->name, "*out written on error");
		else
			xtest_pass(c->name);
	}
}

struct range_case {
	const char *name;
	const char *text;
	__u16 want_min, want_max; /* want_min 0: must fail */
	const char *want_err;
};

#define RANGE_OK(n, s, lo, hi)                                        \
	{ .name = n, .text = s, .want_min = lo, .want_max = hi }
#define RANGE_BAD(n, s, e) { .name = n, .text = s, .want_err = e }

static const struct range_case range_cases[] = {
	RANGE_OK("range_typical", "20000-29999", 20000, 29999),
	RANGE_OK("range_full", "1-65535", 1, 65535),
	RANGE_OK("range_single_port", "5000-5000", 5000, 5000),
	RANGE_BAD("range_zero", "0-100",
	  "port range \"0-100\": port 0 out of range 1-65535"),
	RANGE_BAD("range_too_big", "10-65536",
	  "port range \"10-65536\": port 65536 out of range 1-65535"),
	RANGE_BAD("range_reversed", "3000-2000",
	  "port range \"3000-2000\": MIN 3000 is greater than MAX 2000"),
	RANGE_BAD("range_no_dash", "3000",
	  "port range \"3000\": expected MIN-MAX, e.g. 20000-29999"),
	RANGE_BAD("range_no_min", "-5",
	  "port range \"-5\": expected MIN-MAX, e.g. 20000-29999"),
	RANGE_BAD("range_no_max", "5-",
	  "port range \"5-\": expected MIN-MAX, e.g. 20000-29999"),
	RANGE_BAD("range_three_parts", "1-2-3",
	  "port range \"1-2-3\": expected MIN-MAX, e.g. 20000-29999"),
	RANGE_BAD("range_words", "low-high",
	  "port range \"low-high\": expected MIN-MAX, e.g. 20000-29999"),
	RANGE_BAD("range_empty", "",
	  "port range is empty, expected MIN-MAX, e.g. 20000-29999"),
};

static void test_ranges(void)
{
	char err[ERR_BYTES];
	size_t i;

	for (i = 0; i < sizeof(range_cases) / sizeof(range_cases[0]); i++) {
		const struct range_case *c = &range_cases[i];
		__u16 lo = 1, hi = 1;
		int ret;

		ret = xlb_port_range_parse(c->text, &lo, &hi, err, sizeof(err));
		if (c->want_min) {
			if (ret || lo != c->want_min || hi != c->want_max)
				xtest_fail(c->name, "returned %d %u-%u (%s)", ret,
					   lo, hi, ret ? err : "");
			else
				xtest_pass(c->name);
		} else if (ret != -EINVAL) {
			xtest_fail(c->name, "returned %d, want -EINVAL", ret);
		} else if (strcmp(err, c->want_err)) {
			xtest_fail(c->name, "message\n  got:  %s\n  want: %s", err,
				   c->want_err);
		} else {
			xtest_pass(c->name);
		}
	}
}

/* ---- formatting ---- */

static void test_format(void)
{
	static const char *const round_trips[] = {
		"198.51.100.11:8000",
		"203.0.113.255:1",
		"[2001:db8::11]:8000",
		"[2001:db8:1:2:3:4:5:6]:65535",
		"[::]:80",
	};
	char text[XLB_ENDPOINT_STRLEN], small[8], err[ERR_BYTES];
	struct xlb_endpoint ep;
	struct xlb_addr a = {};
	size_t i;
	__u8 proto;

	for (i = 0; i < sizeof(round_trips) / sizeof(round_trips[0]); i++) {
		const char *name = "format_round_trip";
		int ret = xlb_vip_parse(round_trips[i], &ep, &proto, err,
					sizeof(err));

		xlb_endpoint_str(&ep.addr, ep.family, ep.port, text,
				 sizeof(text));
		if (ret)
			xtest_fail(name, "%s: %s", round_trips[i], err);
		else if (strcmp(text, round_trips[i]))
			xtest_fail(name, "%s came back as %s", round_trips[i],
				   text);
		else
			xtest_pass(name);
	}

	a.bytes[0] = 192, a.bytes[1] = 0, a.bytes[2] = 2, a.bytes[3] = 7;
	if (strcmp(xlb_endpoint_str(&a, XLB_FAMILY_V4, 0, text, sizeof(text)),
		   "192.0.2.7"))
		xtest_fail("format_port_zero_is_address", "got %s", text);
	else
		xtest_pass("format_port_zero_is_address");

	if (strcmp(xlb_addr_str(&a, 9, text, sizeof(text)), "?"))
		xtest_fail("format_unknown_family", "got %s", text);
	else
		xtest_pass("format_unknown_family");

	if (strcmp(xlb_endpoint_str(&a, XLB_FAMILY_V4, 8000, small,
				    sizeof(small)), "?"))
		xtest_fail("format_buffer_too_small", "got %s", small);
	else
		xtest_pass("format_buffer_too_small");

	if (strcmp(xlb_proto_name(IPPROTO_TCP), "tcp") ||
	    strcmp(xlb_proto_name(IPPROTO_UDP), "udp") ||
	    strcmp(xlb_proto_name(IPPROTO_ICMP), "?"))
		xtest_fail("format_proto_name", "wrong names");
	else
		xtest_pass("format_proto_name");
}

/* ---- JSON ---- */

static void json_scalars(struct xlb_json *j)
{
	xlb_json_begin_object(j);
	xlb_json_kv_string(j, "vip", "198.51.100.10:8000");
	xlb_json_kv_u64(j, "u64_max", UINT64_MAX);
	xlb_json_kv_i64(j, "i64_min", INT64_MIN);
	xlb_json_kv_bool(j, "up", true);
	xlb_json_kv_bool(j, "down", false);
	xlb_json_key(j, "none");
	xlb_json_null(j);
	xlb_json_kv_string(j, "null_string", NULL);
	xlb_json_end_object(j);
}

static void json_nested(struct xlb_json *j)
{
	int i;

	xlb_json_begin_object(j);
	xlb_json_key(j, "backends");
	xlb_json_begin_array(j);
	for (i = 0; i < 2; i++) {
		xlb_json_begin_object(j);
		xlb_json_kv_u64(j, "id", i);
		xlb_json_kv_u64(j, "weight", i + 1);
		xlb_json_end_object(j);
	}
	xlb_json_end_array(j);
	xlb_json_key(j, "empty_array");
	xlb_json_begin_array(j);
	xlb_json_end_array(j);
	xlb_json_key(j, "empty_object");
	xlb_json_begin_object(j);
	xlb_json_end_object(j);
	xlb_json_key(j, "list");
	xlb_json_begin_array(j);
	xlb_json_u64(j, 1);
	xlb_json_i64(j, -2);
	xlb_json_string(j, "x");
	xlb_json_bool(j, false);
	xlb_json_null(j);
	xlb_json_end_array(j);
	xlb_json_end_object(j);
}

static void json_escapes(struct xlb_json *j)
{
	xlb_json_begin_object(j);
	xlb_json_kv_string(j, "q\"k", "a\"b\\c/d");
	xlb_json_kv_string(j, "ctl", "\b\f\n\r\t\x01\x1f\x7f");
	xlb_json_kv_string(j, "utf8", "caf\xc3\xa9");
	xlb_json_end_object(j);
}

static void json_top_level_string(struct xlb_json *j)
{
	xlb_json_string(j, "tab\there");
}

static void json_value_without_key(struct xlb_json *j)
{
	xlb_json_begin_object(j);
	xlb_json_u64(j, 1);
	xlb_json_end_object(j);
}

static void json_key_in_array(struct xlb_json *j)
{
	xlb_json_begin_array(j);
	xlb_json_key(j, "k");
	xlb_json_end_array(j);
}

static void json_unclosed(struct xlb_json *j)
{
	xlb_json_begin_array(j);
	xlb_json_begin_object(j);
	xlb_json_end_object(j);
}

static void json_wrong_end(struct xlb_json *j)
{
	xlb_json_begin_array(j);
	xlb_json_end_object(j);
}

static void json_two_documents(struct xlb_json *j)
{
	xlb_json_u64(j, 1);
	xlb_json_u64(j, 2);
}

static void json_too_deep(struct xlb_json *j)
{
	int i;

	for (i = 0; i <= XLB_JSON_MAX_DEPTH; i++)
		xlb_json_begin_array(j);
	for (i = 0; i <= XLB_JSON_MAX_DEPTH; i++)
		xlb_json_end_array(j);
}

static void json_max_depth(struct xlb_json *j)
{
	int i;

	for (i = 0; i < XLB_JSON_MAX_DEPTH; i++)
		xlb_json_begin_array(j);
	for (i = 0; i < XLB_JSON_MAX_DEPTH; i++)
		xlb_json_end_array(j);
}

static void json_nothing(struct xlb_json *j)
{
	(void)j;
}

struct json_case {
	const char *name;
	void (*build)(struct xlb_json *j);
	int want_ret;
	const char *want; /* exact output when want_ret is 0 */
};

#define JSON_OK(n, fn, w) { .name = n, .build = fn, .want = w }
#define JSON_BAD(n, fn, ret) { .name = n, .build = fn, .want_ret = ret }

static const struct json_case json_cases[] = {
	JSON_OK("json_scalars", json_scalars,
	  "{\"vip\":\"198.51.100.10:8000\",\"u64_max\":18446744073709551615,"
	  "\"i64_min\":-9223372036854775808,\"up\":true,\"down\":false,"
	  "\"none\":null,\"null_string\":null}\n"),
	JSON_OK("json_nested", json_nested,
	  "{\"backends\":[{\"id\":0,\"weight\":1},{\"id\":1,\"weight\":2}],"
	  "\"empty_array\":[],\"empty_object\":{},"
	  "\"list\":[1,-2,\"x\",false,null]}\n"),
	JSON_OK("json_escapes", json_escapes,
	  "{\"q\\\"k\":\"a\\\"b\\\\c/d\","
	  "\"ctl\":\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\","
	  "\"utf8\":\"caf\xc3\xa9\"}\n"),
	JSON_OK("json_top_level_string", json_top_level_string,
	  "\"tab\\there\"\n"),
	JSON_OK("json_max_depth", json_max_depth,
	  "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"),
	JSON_BAD("json_value_without_key", json_value_without_key, -EINVAL),
	JSON_BAD("json_key_in_array", json_key_in_array, -EINVAL),
	JSON_BAD("json_unclosed", json_unclosed, -EINVAL),
	JSON_BAD("json_wrong_end", json_wrong_end, -EINVAL),
	JSON_BAD("json_two_documents", json_two_documents, -EINVAL),
	JSON_BAD("json_too_deep", json_too_deep, -E2BIG),
	JSON_BAD("json_nothing", json_nothing, -EINVAL),
};

static void test_json(void)
{
	size_t i;

	for (i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
		const struct json_case *c = &json_cases[i];
		struct xlb_json j;
		char *text = NULL;
		size_t len = 0;
		FILE *f;
		int ret;

		f = open_memstream(&text, &len);
		if (!f) {
			xtest_fail(c->name, "open_memstream: %s",
				   strerror(errno));
			continue;
		}
		xlb_json_init(&j, f);
		c->build(&j);
		ret = xlb_json_end(&j);
		fclose(f);
		if (ret != c->want_ret)
			xtest_fail(c->name, "xlb_json_end returned %d, want %d (output %s)",
				   ret, c->want_ret, text);
		else if (!ret && strcmp(text, c->want))
			xtest_fail(c->name, "\n  got:  %s  want: %s", text,
				   c->want);
		else
			xtest_pass(c->name);
		free(text);
	}
}

/* A bare IPv6 backend whose last group looks like a port: accepted as
 * the address it is, with a note saying so. */
static void test_backend_notes(void)
{
	static const struct {
		const char *name, *spec, *note;
		int n;
	} cases[] = {
		{ "note_bare_v6_port_like", "2001:db8:198::12:8080",
		  "backend \"2001:db8:198::12:8080\" is read as the IPv6 address "
		  "2001:db8:198::12:8080, port 80 (a bare IPv6 address has no "
		  "port); to give a port, write [ADDR]:PORT, e.g. "
		  "[2001:db8:198::12]:8080", 1 },
		/* 2001:db8::11: "2001:db8:" is no address, nothing to note */
		{ "note_bare_v6_weight", "2001:db8::11,2001:db8::12:443@2,"
		  "2001:db8::13:1",
		  "backend \"2001:db8::12:443\" is read as the IPv6 address "
		  "2001:db8::12:443, port 80 (a bare IPv6 address has no port); "
		  "to give a port, write [ADDR]:PORT, e.g. [2001:db8::12]:443\n"
		  "backend \"2001:db8::13:1\" is read as the IPv6 address "
		  "2001:db8::13:1, port 80 (a bare IPv6 address has no port); "
		  "to give a port, write [ADDR]:PORT, e.g. [2001:db8::13]:1", 2 },
		{ "note_bracketed_none", "[2001:db8:198::12]:8080", "", 0 },
		{ "note_hex_group_none", "2001:db8:198::12:ab", "", 0 },
		{ "note_full_form_none", "2001:db8:0:0:0:0:12:8080", "", 0 },
		{ "note_v4_none", "198.51.100.11:8080", "", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct xlb_backend_arg out[4];
		char buf[1024], err[256];
		size_t n;
		int got;

		if (xlb_backends_parse(cases[i].spec, 80, out, 4, &n, err,
				       sizeof(err))) {
			xtest_fail(cases[i].name, "refused: %s", err);
			continue;
		}
		got = xlb_backends_notes(cases[i].spec, 80, buf, sizeof(buf));
		if (got != cases[i].n || strcmp(buf, cases[i].note))
			xtest_fail(cases[i].name, "%d notes: \"%s\"", got, buf);
		else
			xtest_pass(cases[i].name);
	}
}

int main(void)
{
	test_backend_notes();
	test_addrs();
	test_vips();
	test_backends();
	test_u64();
	test_ranges();
	test_format();
	test_json();
	return xtest_done();
}
