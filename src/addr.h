/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Addresses, endpoints and the command-line specs of services and
 * backends: parsing (with a message for the user) and formatting.
 *
 * Parsers return 0 or a negative errno and, on error, write one message
 * into err (at most errlen bytes, always NUL-terminated; err may be NULL)
 * that quotes the culprit and says what is expected, e.g.
 *   backend "198.51.100.300": not an IPv4 or IPv6 address
 *   weight 70000 out of range 0-65535 in "198.51.100.11@70000"
 *   VIP "198.51.100.10" needs a port, e.g. 198.51.100.10:8000
 * The caller prints it as it is.  Nothing here prints.
 *
 * Families are XLB_FAMILY_V4 / XLB_FAMILY_V6 (not AF_*).  Addresses are
 * struct xlb_addr: IPv4 in the first 4 bytes, the other 12 bytes zero.
 */
#ifndef XLB_ADDR_H
#define XLB_ADDR_H

#include <stddef.h>
#include "xlb_abi.h"

/* Room for "[IPv6]:port" plus the NUL, with margin. */
#define XLB_ENDPOINT_STRLEN 64

/* Longest spec (VIP, one backend item, port range) the parsers accept. */
#define XLB_SPEC_MAXLEN 128

#define XLB_BACKEND_WEIGHT_DEFAULT 1
#define XLB_BACKEND_WEIGHT_MAX 65535

struct xlb_endpoint {
	struct xlb_addr addr;
	__u8 family; /* XLB_FAMILY_V4 / XLB_FAMILY_V6 */
	__u16 port;  /* host order, 0 = none */
};

/* One item of a backend list. */
struct xlb_backend_arg {
	struct xlb_endpoint ep;
	__u16 weight; /* 0 = drain: no new flows */
};

/* IPv4 dotted quad or IPv6 (inet_pton); IPv4-mapped IPv6 is refused
 * (write the IPv4 address).  Returns 0 or -EINVAL. */
int xlb_addr_parse(const char *s, struct xlb_addr *a, __u8 *family, char *err,
		   size_t errlen);

/*
 * VIP spec: ADDR:PORT[/PROTO] with IPv6 in brackets, e.g.
 * 198.51.100.10:8000, 198.51.100.10:53/udp, [2001:db8::10]:80/tcp.
 * PORT 1-65535 is required; PROTO is tcp (default) or udp and sets *proto
 * to IPPROTO_TCP / IPPROTO_UDP.  Returns 0 or -EINVAL.
 */
int xlb_vip_parse(const char *s, struct xlb_endpoint *ep, __u8 *proto,
		  char *err, size_t errlen);

/*
 * Backend list: ITEM[,ITEM]... with ITEM = ADDR[:PORT][@WEIGHT]; IPv6 as
 * [ADDR]:PORT, [ADDR] or bare ADDR (a bare IPv6 address never has a port:
 * "2001:db8::11:80" is the address 2001:db8::11:80).  PORT (1-65535)
 * defaults to default_port; if that is 0 every item needs a port.  WEIGHT
 * is 0-65535, default XLB_BACKEND_WEIGHT_DEFAULT.  All items must be of one
 * family, and no two may have the same address and port.  Fills
 * out[0..*n-1] in list order; *n is 0 on error.  Returns 0, -EINVAL,
 * -E2BIG (more than max items) or -ENOMEM.
 */
int xlb_backends_parse(const char *s, __u16 default_port,
		       struct xlb_backend_arg *out, size_t max, size_t *n,
		       char *err, size_t errlen);

/*
 * Notes on a backend list that parsed: a bare IPv6 item with "::" whose
 * last group is decimal and whose other groups are an address too
 * ("2001:db8::12:8080", not "2001:db8::11") is an address without port,
 * but a human may have meant the last group as the port.  One line per such
 * item in buf (how it is read, with default_port, and how to write a
 * port); returns their number (0: buf is "").
 */
int xlb_backends_notes(const char *s, __u16 default_port, char *buf,
		       size_t len);

/* Strict decimal: digits only (no sign, space, prefix or trailing junk;
 * leading zeros are decimal).  Returns 0, -EINVAL (not a number) or
 * -ERANGE (outside min..max, or over 2^64-1); *out is set only on 0. */
int xlb_u64_parse(const char *s, __u64 min, __u64 max, __u64 *out);

/* "MIN-MAX" with 1 <= MIN <= MAX <= 65535, e.g. 20000-29999.  Returns 0 or
 * -EINVAL. */
int xlb_port_range_parse(const char *s, __u16 *min, __u16 *max, char *err,
			 size_t errlen);

/* Formatting.  Each returns buf ("?" for an unknown family or a buffer
 * too small), so it can be used as a printf argument. */
const char *xlb_addr_str(const struct xlb_addr *a, __u8 family, char *buf,
			 size_t len);
/* "198.51.100.11:8000" or "[2001:db8::11]:8000"; port_host 0 gives the
 * address alone, without brackets. */
const char *xlb_endpoint_str(const struct xlb_addr *a, __u8 family,
			     __u16 port_host, char *buf, size_t len);
/* "tcp", "udp" or "?". */
const char *xlb_proto_name(__u8 proto);

#endif /* XLB_ADDR_H */
