// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Addresses, endpoints, VIP and backend specs: parsing and formatting. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "errmsg.h"

/* Example appended to messages about a missing or empty backend list. */
#define BACKENDS_EXAMPLE "198.51.100.11:8000,198.51.100.12:8000@2"

/* addr_from_str() result for an IPv4-mapped IPv6 address. */
#define ADDR_V4MAPPED 1

#define set_err(err, errlen, ...) \
	((void)xlb_errmsg(err, errlen, 0, __VA_ARGS__))

/*
 * Text to address.  Returns 0, -EINVAL, or ADDR_V4MAPPED with the embedded
 * IPv4 address in *a / *family (for the hint in the message).
 */
static int addr_from_str(const char *s, struct xlb_addr *a, __u8 *family)
{
	struct in6_addr in6;
	struct in_addr in4;

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, &in4) == 1) {
		memcpy(a->bytes, &in4, sizeof(in4));
		*family = XLB_FAMILY_V4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &in6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&in6)) {
			memcpy(a->bytes, &in6.s6_addr[12], 4);
			*family = XLB_FAMILY_V4;
			return ADDR_V4MAPPED;
		}
		memcpy(a->bytes, &in6, sizeof(in6));
		*family = XLB_FAMILY_V6;
		return 0;
	}
	return -EINVAL;
}

/*
 * Message for a bad address.  what: "VIP", "backend" or "address"; item:
 * the whole spec; host: its address part (quoted separately when it is
 * not the whole spec).
 */
static void addr_err(char *err, size_t errlen, const char *what,
		     const char *item, const char *host, int ret,
		     const struct xlb_addr *mapped)
{
	char v4[INET_ADDRSTRLEN];
	bool whole = strcmp(item, host) == 0;

	if (!*host) {
		set_err(err, errlen, "%s \"%s\": missing address", what, item);
	} else if (ret == ADDR_V4MAPPED) {
		xlb_addr_str(mapped, XLB_FAMILY_V4, v4, sizeof(v4));
		if (whole)
			set_err(err, errlen,
				"%s \"%s\": IPv4-mapped IPv6 address, write it as %s",
				what, item, v4);
		else
			set_err(err, errlen,
				"%s \"%s\": \"%s\" is an IPv4-mapped IPv6 address, write it as %s",
				what, item, host, v4);
	} else if (whole) {
		set_err(err, errlen, "%s \"%s\": not an IPv4 or IPv6 address",
			what, item);
	} else {
		set_err(err, errlen,
			"%s \"%s\": \"%s\" is not an IPv4 or IPv6 address",
			what, item, host);
	}
}

/* Copy s into buf[XLB_SPEC_MAXLEN]; -ENAMETOOLONG if it does not fit. */
static int copy_spec(char *buf, const char *s, size_t len)
{
	if (len >= XLB_SPEC_MAXLEN)
		return -ENAMETOOLONG;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return 0;
}

int xlb_addr_parse(const char *s, struct xlb_addr *a, __u8 *family, char *err,
		   size_t errlen)
{
	struct xlb_addr tmp;
	__u8 fam;
	int ret;

	if (!s)
		s = "";
	ret = addr_from_str(s, &tmp, &fam);
	if (ret) {
		addr_err(err, errlen, "address", s, s, ret, &tmp);
		return -EINVAL;
	}
	*a = tmp;
	*family = fam;
	return 0;
}

int xlb_u64_parse(const char *s, __u64 min, __u64 max, __u64 *out)
{
	bool overflow = false;
	__u64 v = 0;
	const char *p;

	if (!s || !*s)
		return -EINVAL;
	for (p = s; *p; p++) {
		unsigned int digit;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		digit = *p - '0';
		if (v > (UINT64_MAX - digit) / 10)
			overflow = true; /* keep going: junk is -EINVAL */
		else
			v = v * 10 + digit;
	}
	if (overflow || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* Message for a bad number field ("port", "weight") of item. */
static void number_err(char *err, size_t errlen, const char *field,
		       const char *text, int ret, unsigned int min,
		       unsigned int max, const char *item)
{
	if (ret == -ERANGE)
		set_err(err, errlen, "%s %s out of range %u-%u in \"%s\"", field,
			text, min, max, item);
	else
		set_err(err, errlen, "%s \"%s\" is not a number in \"%s\"",
			field, text, item);
}

/*
 * A bare IPv6 address whose last group is decimal, as "2001:db8::10:443":
 * to a human that group may be a port.  If the groups before it are an
 * IPv6 address too, they go to rest (len bytes) and *port points to the
 * last group; returns whether they do.
 */
static bool v6_port_split(const char *host, char *rest, size_t len,
			  const char **port)
{
	const char *colon = strrchr(host, ':');
	struct in6_addr in6;
	size_t n;
	__u64 v;

	if (!colon || xlb_u64_parse(colon + 1, 1, 65535, &v))
		return false;
	n = colon - host;
	if (n >= len)
		return false;
	memcpy(rest, host, n);
	rest[n] = '\0';
	if (inet_pton(AF_INET6, rest, &in6) != 1)
		return false;
	*port = colon + 1;
	return true;
}

/*
 * HOST[:PORT] in buf (modified), where HOST is IPv4, [IPv6], or (if
 * allow_bare_v6) IPv6 without brackets and then without port.  Sets
 * ep->addr, ep->family, ep->port (0 when absent) and *has_port.  what and
 * item name the spec in messages.
 */
static int parse_hostport(char *buf, bool allow_bare_v6, const char *what,
			  const char *item, struct xlb_endpoint *ep,
			  bool *has_port, char *err, size_t errlen)
{
	char *host = buf, *port = NULL, *colon;
	char text[INET6_ADDRSTRLEN];
	bool bracketed = false;
	__u64 v;
	int ret;

	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (!close) {
			set_err(err, errlen,
				"%s \"%s\": missing \"]\" after the IPv6 address",
				what, item);
			return -EINVAL;
		}
		*close = '\0';
		host = buf + 1;
		bracketed = true;
		if (close[1] == ':') {
			port = close + 2;
		} else if (close[1] != '\0') {
			set_err(err, errlen,
				"%s \"%s\": unexpected \"%s\" after \"]\", expected :PORT",
				what, item, close + 1);
			return -EINVAL;
		}
	} else if ((colon = strchr(buf, ':')) && !strchr(colon + 1, ':')) {
		/* one colon: IPv4:PORT (two or more: bare IPv6, no port) */
		*colon = '\0';
		port = colon + 1;
	}

	ret = addr_from_str(host, &ep->addr, &ep->family);
	if (ret) {
		addr_err(err, errlen, what, item, host, ret, &ep->addr);
		return -EINVAL;
	}
	xlb_addr_str(&ep->addr, ep->family, text, sizeof(text));
	if (bracketed && ep->family != XLB_FAMILY_V6) {
		set_err(err, errlen,
			"%s \"%s\": brackets are for IPv6 addresses only, write %s",
			what, item, text);
		return -EINVAL;
	}
	if (!bracketed && ep->family == XLB_FAMILY_V6 && !allow_bare_v6) {
		char rest[INET6_ADDRSTRLEN];
		const char *p;

		if (v6_port_split(host, rest, sizeof(rest), &p))
			set_err(err, errlen,
				"%s \"%s\": an IPv6 address goes in brackets, the port after them: write [%s]:%s",
				what, item, rest, p);
		else
			set_err(err, errlen,
				"%s \"%s\": an IPv6 address goes in brackets, the port after them: [ADDR]:PORT, e.g. [%s]:8000",
				what, item, text);
		return -EINVAL;
	}

	ep->port = 0;
	*has_port = port != NULL;
	if (!port)
		return 0;
	if (!*port) {
		set_err(err, errlen, "%s \"%s\": missing port after \":\"", what,
			item);
		return -EINVAL;
	}
	ret = xlb_u64_parse(port, 1, 65535, &v);
	if (ret) {
		number_err(err, errlen, "port", port, ret, 1, 65535, item);
		return -EINVAL;
	}
	ep->port = v;
	return 0;
}

/* "e.g. 198.51.100.10:8000" / "e.g. [2001:db8::10]:8000" for ep's address */
static void needs_port_err(char *err, size_t errlen, const char *what,
			   const char *item, const struct xlb_endpoint *ep)
{
	char text[XLB_ENDPOINT_STRLEN];

	xlb_endpoint_str(&ep->addr, ep->family, 8000, text, sizeof(text));
	set_err(err, errlen, "%s \"%s\" needs a port, e.g. %s", what, item, text);
}

int xlb_vip_parse(const char *s, struct xlb_endpoint *ep, __u8 *proto,
		  char *err, size_t errlen)
{
	struct xlb_endpoint tmp = {};
	char buf[XLB_SPEC_MAXLEN];
	char *slash, *proto_name = NULL;
	__u8 proto_num = IPPROTO_TCP;
	bool has_port;
	int ret;

	if (!s || !*s) {
		set_err(err, errlen, "VIP is empty, e.g. 198.51.100.10:8000/tcp");
		return -EINVAL;
	}
	if (copy_spec(buf, s, strlen(s))) {
		set_err(err, errlen, "VIP \"%.40s...\": too long", s);
		return -EINVAL;
	}
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		proto_name = slash + 1;
	}
	ret = parse_hostport(buf, false, "VIP", s, &tmp, &has_port, err,
			     errlen);
	if (ret)
		return ret;
	if (!has_port) {
		needs_port_err(err, errlen, "VIP", s, &tmp);
		return -EINVAL;
	}
	if (proto_name) {
		if (!strcasecmp(proto_name, "tcp")) {
			proto_num = IPPROTO_TCP;
		} else if (!strcasecmp(proto_name, "udp")) {
			proto_num = IPPROTO_UDP;
		} else if (!*proto_name) {
			set_err(err, errlen,
				"VIP \"%s\": missing protocol after \"/\", use tcp or udp",
				s);
			return -EINVAL;
		} else {
			set_err(err, errlen,
				"VIP \"%s\": unknown protocol \"%s\", use tcp or udp",
				s, proto_name);
			return -EINVAL;
		}
	}
	*ep = tmp;
	*proto = proto_num;
	return 0;
}

/* One backend item ADDR[:PORT][@WEIGHT] (NUL-terminated). */
static int parse_backend_item(const char *item, __u16 default_port,
			      struct xlb_backend_arg *arg, char *err,
			      size_t errlen)
{
	char buf[XLB_SPEC_MAXLEN];
	char *at, *weight = NULL;
	bool has_port;
	__u64 v;
	int ret;

	copy_spec(buf, item, strlen(item)); /* caller checked the length */
	at = strchr(buf, '@');
	if (at) {
		*at = '\0';
		weight = at + 1;
	}
	ret = parse_hostport(buf, true, "backend", item, &arg->ep, &has_port,
			     err, errlen);
	if (ret)
		return ret;
	if (!has_port) {
		if (!default_port) {
			needs_port_err(err, errlen, "backend", item, &arg->ep);
			return -EINVAL;
		}
		arg->ep.port = default_port;
	}
	arg->weight = XLB_BACKEND_WEIGHT_DEFAULT;
	if (weight) {
		if (!*weight) {
			set_err(err, errlen,
				"backend \"%s\": missing weight after \"@\"",
				item);
			return -EINVAL;
		}
		ret = xlb_u64_parse(weight, 0, XLB_BACKEND_WEIGHT_MAX, &v);
		if (ret) {
			number_err(err, errlen, "weight", weight, ret, 0,
				   XLB_BACKEND_WEIGHT_MAX, item);
			return -EINVAL;
		}
		arg->weight = v;
	}
	return 0;
}

/* Copy item idx (0-based) of the comma-separated list s into buf, cut to
 * XLB_SPEC_MAXLEN - 1 bytes. */
static void list_item(const char *s, size_t idx, char *buf)
{
	const char *end;
	size_t len;

	for (; idx > 0; idx--)
		s = strchr(s, ',') + 1;
	end = strchr(s, ',');
	len = end ? (size_t)(end - s) : strlen(s);
	if (len >= XLB_SPEC_MAXLEN)
		len = XLB_SPEC_MAXLEN - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
}

struct dup_entry {
	const struct xlb_endpoint *ep;
	size_t idx;
};

static int ep_cmp(const struct xlb_endpoint *a, const struct xlb_endpoint *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr.bytes, b->addr.bytes, sizeof(a->addr));
	if (c)
		return c;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return 0;
}

/* by endpoint, then by position in the list */
static int dup_cmp(const void *pa, const void *pb)
{
	const struct dup_entry *a = pa, *b = pb;
	int c = ep_cmp(a->ep, b->ep);

	if (c)
		return c;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/*
 * Find the first item (in list order) that repeats an earlier one: *second
 * is its index, *first the earlier item's.  Returns 1 if found, 0 if none,
 * -ENOMEM.  O(n log n), so long lists stay cheap.
 */
static int find_duplicate(const struct xlb_backend_arg *args, size_t n,
			  size_t *first, size_t *second)
{
	struct dup_entry *v;
	size_t i, best = n;

	if (n < 2)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		v[i].ep = &args[i].ep;
		v[i].idx = i;
	}
	qsort(v, n, sizeof(*v), dup_cmp);
	/* in a run of equal endpoints the entries are in list order: the
	 * second one of the run is the first repetition of that endpoint */
	for (i = 1; i < n; i++) {
		if (ep_cmp(v[i - 1].ep, v[i].ep))
			continue;
		if (i >= 2 && !ep_cmp(v[i - 2].ep, v[i].ep))
			continue; /* third or later of its run */
		if (v[i].idx < best) {
			best = v[i].idx;
			*first = v[i - 1].idx;
		}
	}
	free(v);
	if (best == n)
		return 0;
	*second = best;
	return 1;
}

int xlb_backends_parse(const char *s, __u16 default_port,
		       struct xlb_backend_arg *out, size_t max, size_t *n,
		       char *err, size_t errlen)
{
	char item[XLB_SPEC_MAXLEN], other[XLB_SPEC_MAXLEN];
	size_t count = 1, i, first = 0, second = 0;
	const char *start, *end, *p;
	int ret;

	*n = 0;
	if (!s || !*s) {
		set_err(err, errlen, "no backends given, e.g. %s",
			BACKENDS_EXAMPLE);
		return -EINVAL;
	}
	for (p = s; *p; p++)
		count += *p == ',';
	if (count > max) {
		set_err(err, errlen, "too many backends: %zu given, at most %zu",
			count, max);
		return -E2BIG;
	}

	start = s;
	for (i = 0; i < count; i++, start = end + 1) {
		size_t len;

		end = strchr(start, ',');
		len = end ? (size_t)(end - start) : strlen(start);
		if (len == 0) {
			set_err(err, errlen,
				"backends \"%s\": item %zu is empty, e.g. %s", s,
				i + 1, BACKENDS_EXAMPLE);
			return -EINVAL;
		}
		if (copy_spec(item, start, len)) {
			set_err(err, errlen, "backend \"%.40s...\": too long",
				start);
			return -EINVAL;
		}
		ret = parse_backend_item(item, default_port, &out[i], err,
					 errlen);
		if (ret)
			return ret;
		if (out[i].ep.family != out[0].ep.family) {
			list_item(s, 0, other);
			set_err(err, errlen,
				"backends must all be IPv4 or all IPv6: \"%s\" is %s but \"%s\" is %s",
				other,
				out[0].ep.family == XLB_FAMILY_V4 ? "IPv4" : "IPv6",
				item,
				out[i].ep.family == XLB_FAMILY_V4 ? "IPv4" : "IPv6");
			return -EINVAL;
		}
		if (!end)
			break;
	}

	ret = find_duplicate(out, count, &first, &second);
	if (ret < 0) {
		set_err(err, errlen, "backends: out of memory");
		return ret;
	}
	if (ret) {
		list_item(s, first, other);
		list_item(s, second, item);
		set_err(err, errlen,
			"backend \"%s\" (item %zu) duplicates \"%s\" (item %zu)",
			item, second + 1, other, first + 1);
		return -EINVAL;
	}
	*n = count;
	return 0;
}

int xlb_backends_notes(const char *s, __u16 default_port, char *buf,
		       size_t len)
{
	char item[XLB_SPEC_MAXLEN], rest[INET6_ADDRSTRLEN];
	size_t used = 0, count = 1;
	int n = 0;

	if (len)
		buf[0] = '\0';
	if (!s)
		return 0;
	for (const char *p = s; *p; p++)
		count += *p == ',';
	for (size_t i = 0; i < count; i++) {
		struct in6_addr in6;
		const char *p;
		char *at;

		list_item(s, i, item);
		at = strchr(item, '@');
		if (at)
			*at = '\0';
		/* bare IPv6 with "::" whose last group is decimal and the
		 * groups before it an address too (2001:db8::12:8080, not
		 * 2001:db8::11) */
		if (item[0] == '[' || !strstr(item, "::") ||
		    inet_pton(AF_INET6, item, &in6) != 1 ||
		    !v6_port_split(item, rest, sizeof(rest), &p))
			continue;
		if (used < len)
			used += snprintf(buf + used, len - used,
					 "%sbackend \"%s\" is read as the IPv6 "
					 "address %s, port %u (a bare IPv6 "
					 "address has no port); to give a port, "
					 "write [ADDR]:PORT, e.g. [%s]:%s",
					 n ? "\n" : "", item, item, default_port,
					 rest, p);
		n++;
	}
	if (used >= len && len)
		buf[len - 1] = '\0';
	return n;
}

int xlb_port_range_parse(const char *s, __u16 *min, __u16 *max, char *err,
			 size_t errlen)
{
	char buf[XLB_SPEC_MAXLEN];
	__u64 lo, hi;
	char *dash;
	int ret_lo, ret_hi;

	if (!s || !*s) {
		set_err(err, errlen,
			"port range is empty, expected MIN-MAX, e.g. 20000-29999");
		return -EINVAL;
	}
	if (copy_spec(buf, s, strlen(s))) {
		set_err(err, errlen, "port range \"%.40s...\": too long", s);
		return -EINVAL;
	}
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	ret_lo = xlb_u64_parse(buf, 1, 65535, &lo);
	ret_hi = dash ? xlb_u64_parse(dash + 1, 1, 65535, &hi) : -EINVAL;
	if (ret_lo == -EINVAL || ret_hi == -EINVAL) {
		set_err(err, errlen,
			"port range \"%s\": expected MIN-MAX, e.g. 20000-29999",
			s);
		return -EINVAL;
	}
	if (ret_lo || ret_hi) {
		set_err(err, errlen,
			"port range \"%s\": port %s out of range 1-65535", s,
			ret_lo ? buf : dash + 1);
		return -EINVAL;
	}
	if (lo > hi) {
		set_err(err, errlen,
			"port range \"%s\": MIN %llu is greater than MAX %llu",
			s, (unsigned long long)lo, (unsigned long long)hi);
		return -EINVAL;
	}
	*min = lo;
	*max = hi;
	return 0;
}

const char *xlb_addr_str(const struct xlb_addr *a, __u8 family, char *buf,
			 size_t len)
{
	int af = family == XLB_FAMILY_V4 ? AF_INET :
		 family == XLB_FAMILY_V6 ? AF_INET6 : AF_UNSPEC;

	if (af != AF_UNSPEC && len && inet_ntop(af, a->bytes, buf, len))
		return buf;
	if (len < 2)
		return "?";
	strcpy(buf, "?");
	return buf;
}

const char *xlb_endpoint_str(const struct xlb_addr *a, __u8 family,
			     __u16 port_host, char *buf, size_t len)
{
	char text[INET6_ADDRSTRLEN];
	int ret;

	if (family != XLB_FAMILY_V4 && family != XLB_FAMILY_V6)
		return xlb_addr_str(a, family, buf, len);
	xlb_addr_str(a, family, text, sizeof(text));
	if (!port_host)
		ret = snprintf(buf, len, "%s", text);
	else if (family == XLB_FAMILY_V6)
		ret = snprintf(buf, len, "[%s]:%u", text, port_host);
	else
		ret = snprintf(buf, len, "%s:%u", text, port_host);
	if (ret >= 0 && (size_t)ret < len)
		return buf;
	if (len < 2)
		return "?";
	strcpy(buf, "?");
	return buf;
}

const char *xlb_proto_name(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	default:
		return "?";
	}
}
