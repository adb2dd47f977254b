// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Test packet builder and checksum reference (see pkt.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pkt.h"

#define ETH_HLEN 14
#define VLAN_HLEN 4
#define IP4_HLEN 20
#define IP6_HLEN 40
#define TCP_HLEN 20
#define UDP_HLEN 8
#define ICMP_HLEN 8

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(__u8 *p, __u32 v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static __u16 get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

/* One's-complement sum of big-endian 16-bit words (odd tail padded). */
static __u64 sum_bytes(const __u8 *p, size_t n, __u64 acc)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		acc += get16(p + i);
	if (n & 1)
		acc += (__u64)p[n - 1] << 8;
	return acc;
}

static __u16 fold(__u64 acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (__u16)acc;
}

static void why_set(char *why, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void why_set(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (!why || !n)
		return;
	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
}

void pkt_spec_init(struct pkt_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->ttl = 64;
	s->window = 65535;
	s->ip_id = 0x1234;
	s->seq = 1000;
}

__u8 pkt_addr(const char *str, __u8 out[16])
{
	memset(out, 0, 16);
	if (strchr(str, ':'))
		return inet_pton(AF_INET6, str, out) == 1 ? 6 : 0;
	return inet_pton(AF_INET, str, out) == 1 ? 4 : 0;
}

int pkt_spec_addrs(struct pkt_spec *s, const char *src, const char *dst)
{
	__u8 f1 = pkt_addr(src, s->src), f2 = pkt_addr(dst, s->dst);

	if (!f1 || f1 != f2)
		return -1;
	s->family = f1;
	return 0;
}

int pkt_mac(const char *str, __u8 out[6])
{
	unsigned int b[6];

	if (sscanf(str, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		out[i] = (__u8)b[i];
	return 0;
}

/* IPv4 options: router alert, then a record-route option filling the
 * rest (pointer at the first slot, slots filled with 192.0.2.x), then
 * one end-of-list byte. */
static void fill_ip_options(__u8 *o, size_t len)
{
	size_t rr_len, i;

	memset(o, 0, len);
	if (len < 4)
		return;
	o[0] = 0x94; /* router alert */
	o[1] = 4;
	if (len == 4)
		return;
	rr_len = len - 4 - 1; /* 4m - 1 = 3 + 4k */
	o[4] = 7;	      /* record route */
	o[5] = (__u8)rr_len;
	o[6] = 4 + 4;	      /* one slot used */
	for (i = 7; i < 4 + rr_len; i += 4) {
		o[i] = 192;
		o[i + 1] = 0;
		o[i + 2] = 2;
		o[i + 3] = (__u8)(i * 7 + 1);
	}
	/* last byte stays 0: end of option list */
}

static void fill_tcp_options(__u8 *o, size_t len)
{
	memset(o, 1, len); /* NOP */
	if (len >= 4) {
		o[0] = 2; /* MSS 1460 */
		o[1] = 4;
		put16(o + 2, 1460);
	}
}

/* L4 checksum over pseudo-header + segment, field taken as is. */
static __u64 l4_sum(__u8 family, const __u8 *src, const __u8 *dst,
		    __u8 proto, const __u8 *seg, size_t seg_len)
{
	__u64 acc = 0;

	if (proto == IPPROTO_ICMP)
		return sum_bytes(seg, seg_len, 0); /* no pseudo-header */
	if (family == 4) {
		acc = sum_bytes(src, 4, acc);
		acc = sum_bytes(dst, 4, acc);
		acc += proto;
		acc += seg_len;
	} else {
		acc = sum_bytes(src, 16, acc);
		acc = sum_bytes(dst, 16, acc);
		acc += (seg_len >> 16) + (seg_len & 0xffff);
		acc += proto;
	}
	return sum_bytes(seg, seg_len, acc);
}

size_t pkt_build(const struct pkt_spec *s, __u8 *buf, size_t cap)
{
	size_t off = 0, l3, l4, l4_hlen = 0, seg_len, ip_len, total;
	size_t ext_len = 0;
	__u16 inner;
	__u8 proto = s->proto;

	if (s->n_vlans < 0 || s->n_vlans > PKT_MAX_VLANS ||
	    s->ip_opt_len % 4 || s->ip_opt_len > 40 || s->tcp_opt_len % 4 ||
	    s->tcp_opt_len > 40)
		return 0;
	if (s->family == 4)
		inner = s->ethertype ? s->ethertype : PKT_ETH_P_IP;
	else if (s->family == 6)
		inner = s->ethertype ? s->ethertype : PKT_ETH_P_IPV6;
	else if (s->family == 0 && s->ethertype)
		inner = s->ethertype;
	else
		return 0;

	if (s->family) {
		if (proto == IPPROTO_TCP)
			l4_hlen = TCP_HLEN + s->tcp_opt_len;
		else if (proto == IPPROTO_UDP)
			l4_hlen = UDP_HLEN;
		else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6)
			l4_hlen = ICMP_HLEN;
		if (s->family == 6 && s->ip6_ext)
			ext_len = 8;
	}
	seg_len = l4_hlen + s->payload_len;
	ip_len = s->family == 4 ? IP4_HLEN + s->ip_opt_len + seg_len :
	       s->family == 6	? IP6_HLEN + ext_len + seg_len :
				  s->payload_len;
	total = ETH_HLEN + VLAN_HLEN * s->n_vlans + ip_len + s->trailer_len;
	if (total > cap || (s->family == 4 && ip_len > 0xffff) ||
	    (s->family == 6 && ip_len - IP6_HLEN > 0xffff))
		return 0;
	memset(buf, 0, total);

	memcpy(buf, s->dmac, 6);
	memcpy(buf + 6, s->smac, 6);
	off = 12;
	for (int i = 0; i < s->n_vlans; i++) {
		put16(buf + off, s->vlans[i].tpid);
		put16(buf + off + 2, s->vlans[i].tci);
		off += 4;
	}
	put16(buf + off, inner);
	off += 2;
	l3 = off;

	if (s->family == 0) {
		if (s->payload)
			memcpy(buf + l3, s->payload, s->payload_len);
		return total;
	}

	if (s->family == 4) {
		__u8 *ip = buf + l3;
		size_t hlen = IP4_HLEN + s->ip_opt_len;

		ip[0] = 0x40 | (__u8)(hlen / 4);
		ip[1] = s->tos;
		put16(ip + 2, (__u16)ip_len);
		put16(ip + 4, s->ip_id);
		put16(ip + 6, s->frag);
		ip[8] = s->ttl;
		ip[9] = proto;
		memcpy(ip + 12, s->src, 4);
		memcpy(ip + 16, s->dst, 4);
		fill_ip_options(ip + IP4_HLEN, s->ip_opt_len);
		put16(ip + 10, (__u16)~fold(sum_bytes(ip, hlen, 0)));
		l4 = l3 + hlen;
	} else {
		__u8 *ip6 = buf + l3;
		__u8 next = proto;

		put32(ip6, 6u << 28 | (__u32)s->tos << 20 | 0x12345);
		put16(ip6 + 4, (__u16)(ip_len - IP6_HLEN));
		ip6[7] = s->ttl;
		memcpy(ip6 + 8, s->src, 16);
		memcpy(ip6 + 24, s->dst, 16);
		l4 = l3 + IP6_HLEN;
		if (s->ip6_ext) {
			__u8 *e = buf + l4;

			next = s->ip6_ext_type;
			e[0] = proto;
			if (s->ip6_ext_type == 44) { /* fragment */
				put16(e + 2, s->ip6_frag);
				put32(e + 4, 0xabcd);
			} else {
				e[1] = 0; /* 8 bytes */
				e[2] = 1; /* PadN, 4 bytes of padding */
				e[3] = 4;
			}
			l4 += 8;
		}
		ip6[6] = next;
	}

	/* payload first, then the header and its checksum */
	if (s->payload)
		memcpy(buf + l4 + l4_hlen, s->payload, s->payload_len);
	else
		for (size_t i = 0; i < s->payload_len; i++)
			buf[l4 + l4_hlen + i] =
				(__u8)(s->payload_seed + 31 * i + (i >> 8));

	if (proto == IPPROTO_TCP) {
		__u8 *t = buf + l4;

		put16(t, s->sport);
		put16(t + 2, s->dport);
		put32(t + 4, s->seq);
		put32(t + 8, s->ack);
		t[12] = (__u8)((l4_hlen / 4) << 4);
		t[13] = s->tcp_flags;
		put16(t + 14, s->window);
		fill_tcp_options(t + TCP_HLEN, s->tcp_opt_len);
		put16(t + 16, (__u16)~fold(l4_sum(s->family, s->src, s->dst,
						  proto, t, seg_len)));
	} else if (proto == IPPROTO_UDP) {
		__u8 *u = buf + l4;
		__u16 c;

		put16(u, s->sport);
		put16(u + 2, s->dport);
		put16(u + 4, (__u16)seg_len);
		c = (__u16)~fold(l4_sum(s->family, s->src, s->dst, proto, u,
					seg_len));
		if (s->udp_no_csum)
			c = 0;
		else if (c == 0)
			c = 0xffff; /* 0 would mean "no checksum" */
		put16(u + 6, c);
	} else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		__u8 *c = buf + l4;

		if (s->icmp_custom) {
			c[0] = s->icmp_type;
			c[1] = s->icmp_code;
			put32(c + 4, s->icmp_rest);
		} else {
			c[0] = proto == IPPROTO_ICMP ? 8 : 128; /* echo */
			put16(c + 4, s->sport);
			put16(c + 6, 1);
		}
		put16(c + 2, (__u16)~fold(l4_sum(s->family, s->src, s->dst,
						 proto, c, seg_len)));
	}
	return total;
}

int pkt_parse(const __u8 *f, size_t len, struct pkt_layout *lo, char *why,
	      size_t why_len)
{
	bool later_fragment = false;
	size_t off = 12;
	__u16 type;

	memset(lo, 0, sizeof(*lo));
	if (len < ETH_HLEN) {
		why_set(why, why_len, "frame of %zu bytes: no Ethernet header",
			len);
		return -1;
	}
	type = get16(f + off);
	while (type == PKT_ETH_P_8021Q || type == PKT_ETH_P_8021AD) {
		if (off + 2 + VLAN_HLEN > len) {
			why_set(why, why_len, "VLAN tag %d truncated",
				lo->n_vlans + 1);
			return -1;
		}
		off += VLAN_HLEN;
		type = get16(f + off);
		lo->n_vlans++;
	}
	off += 2;
	lo->ethertype = type;
	lo->l3_off = off;
	if (type == PKT_ETH_P_IP) {
		const __u8 *ip = f + off;
		size_t hlen, tot;
		__u16 frag;

		lo->family = 4;
		if (off + IP4_HLEN > len) {
			why_set(why, why_len, "IPv4 header truncated");
			return -1;
		}
		hlen = (ip[0] & 0xf) * 4u;
		tot = get16(ip + 2);
		if (ip[0] >> 4 != 4 || hlen < IP4_HLEN || tot < hlen ||
		    off + tot > len) {
			why_set(why, why_len,
				"IPv4 header inconsistent (version %u ihl %zu "
				"tot_len %zu, %zu bytes after L2)",
				ip[0] >> 4, hlen / 4, tot, len - off);
			return -1;
		}
		lo->ip_csum_off = off + 10;
		lo->ip_end = off + tot;
		lo->proto = ip[9];
		frag = get16(ip + 6);
		lo->fragment = (frag & 0x3fff) != 0;
		later_fragment = (frag & 0x1fff) != 0;
		lo->l4_off = off + hlen;
		lo->l4_len = tot - hlen;
	} else if (type == PKT_ETH_P_IPV6) {
		const __u8 *ip6 = f + off;
		size_t pl;
		__u8 next;

		lo->family = 6;
		if (off + IP6_HLEN > len || ip6[0] >> 4 != 6) {
			why_set(why, why_len, "IPv6 header truncated or bad");
			return -1;
		}
		pl = get16(ip6 + 4);
		if (off + IP6_HLEN + pl > len) {
			why_set(why, why_len, "IPv6 payload_len %zu beyond frame",
				pl);
			return -1;
		}
		lo->ip_end = off + IP6_HLEN + pl;
		next = ip6[6];
		off += IP6_HLEN;
		/* hop-by-hop, routing, destination, fragment */
		while (next == 0 || next == 43 || next == 60 || next == 44) {
			size_t elen;

			if (off + 8 > lo->ip_end) {
				why_set(why, why_len, "IPv6 extension truncated");
				return -1;
			}
			if (next == 44) {
				elen = 8;
				if (get16(f + off + 2) & 0xfff9)
					lo->fragment = true;
				if (get16(f + off + 2) & 0xfff8)
					later_fragment = true;
			} else {
				elen = (f[off + 1] + 1u) * 8;
			}
			next = f[off];
			off += elen;
			if (off > lo->ip_end) {
				why_set(why, why_len, "IPv6 extension truncated");
				return -1;
			}
		}
		lo->proto = next;
		lo->l4_off = off;
		lo->l4_len = lo->ip_end - off;
	} else {
		return 0; /* not IP: nothing more to check */
	}

	if (later_fragment) { /* no L4 header in this fragment */
		lo->l4_off = 0;
		lo->l4_len = 0;
		return 0;
	}
	if (lo->proto == IPPROTO_TCP) {
		size_t doff;

		if (lo->l4_len < TCP_HLEN) {
			why_set(why, why_len, "TCP header truncated (%zu bytes)",
				lo->l4_len);
			return -1;
		}
		doff = (f[lo->l4_off + 12] >> 4) * 4u;
		if (doff < TCP_HLEN || doff > lo->l4_len) {
			why_set(why, why_len, "TCP doff %zu bad (%zu bytes)",
				doff / 4, lo->l4_len);
			return -1;
		}
		lo->l4_csum_off = lo->l4_off + 16;
	} else if (lo->proto == IPPROTO_UDP) {
		if (lo->l4_len < UDP_HLEN) {
			why_set(why, why_len, "UDP header truncated (%zu bytes)",
				lo->l4_len);
			return -1;
		}
		lo->l4_csum_off = lo->l4_off + 6;
	} else if (lo->proto == IPPROTO_ICMP || lo->proto == IPPROTO_ICMPV6) {
		if (lo->l4_len >= 4)
			lo->l4_csum_off = lo->l4_off + 2;
	}
	return 0;
}

int pkt_csum_verify(const __u8 *f, size_t len, char *why, size_t why_len)
{
	struct pkt_layout lo;
	const __u8 *src, *dst;
	__u16 s;

	if (pkt_parse(f, len, &lo, why, why_len))
		return -1;
	if (lo.family == 4) {
		size_t hlen = (f[lo.l3_off] & 0xf) * 4u;

		s = fold(sum_bytes(f + lo.l3_off, hlen, 0));
		if (s != 0xffff) {
			why_set(why, why_len,
				"IPv4 header checksum 0x%04x wrong: header sums "
				"to 0x%04x, not 0xffff",
				get16(f + lo.ip_csum_off), s);
			return -1;
		}
		src = f + lo.l3_off + 12;
		dst = f + lo.l3_off + 16;
	} else if (lo.family == 6) {
		src = f + lo.l3_off + 8;
		dst = f + lo.l3_off + 24;
	} else {
		return 0;
	}
	if (lo.fragment || !lo.l4_csum_off)
		return 0; /* a fragment's checksum covers the whole datagram */
	if (lo.proto == IPPROTO_UDP && get16(f + lo.l4_csum_off) == 0) {
		if (lo.family == 4)
			return 0; /* no checksum */
		why_set(why, why_len, "UDP/IPv6 checksum 0 (mandatory)");
		return -1;
	}
	s = fold(l4_sum(lo.family, src, dst, lo.proto, f + lo.l4_off,
			lo.l4_len));
	if (s != 0xffff) {
		why_set(why, why_len,
			"L4 (proto %u) checksum 0x%04x wrong: pseudo-header + "
			"%zu-byte segment sum to 0x%04x, not 0xffff "
			"(recomputed: 0x%04x)",
			lo.proto, get16(f + lo.l4_csum_off), lo.l4_len, s,
			pkt_l4_csum_compute(f, len));
		return -1;
	}
	return 0;
}

int pkt_l4_csum_compute(const __u8 *f, size_t len)
{
	static __u8 copy[PKT_MAX_FRAME];
	struct pkt_layout lo;
	const __u8 *src, *dst;

	if (len > sizeof(copy) || pkt_parse(f, len, &lo, NULL, 0) ||
	    !lo.l4_csum_off)
		return -1;
	memcpy(copy, f, len);
	copy[lo.l4_csum_off] = copy[lo.l4_csum_off + 1] = 0;
	src = copy + lo.l3_off + (lo.family == 4 ? 12 : 8);
	dst = copy + lo.l3_off + (lo.family == 4 ? 16 : 24);
	return (__u16)~fold(l4_sum(lo.family, src, dst, lo.proto,
				   copy + lo.l4_off, lo.l4_len));
}

void pkt_ipv4_fix_csum(__u8 *f, size_t len)
{
	struct pkt_layout lo;
	size_t hlen;

	pkt_parse(f, len, &lo, NULL, 0);
	if (lo.family != 4 || lo.l3_off + IP4_HLEN > len)
		return;
	hlen = (f[lo.l3_off] & 0xf) * 4u;
	if (hlen < IP4_HLEN || lo.l3_off + hlen > len)
		hlen = IP4_HLEN;
	f[lo.l3_off + 10] = f[lo.l3_off + 11] = 0;
	put16(f + lo.l3_off + 10, (__u16)~fold(sum_bytes(f + lo.l3_off, hlen, 0)));
}

/* Is off inside a checksum field where 0x0000 and 0xffff are equal? */
static bool csum_equiv_at(const struct pkt_layout *lo, const __u8 *exp,
			  const __u8 *act, size_t off)
{
	size_t fields[2] = { lo->ip_csum_off, 0 };

	if (lo->proto != IPPROTO_UDP)
		fields[1] = lo->l4_csum_off;
	for (int i = 0; i < 2; i++) {
		size_t c = fields[i];
		__u16 e, a;

		if (!c || off < c || off > c + 1)
			continue;
		e = get16(exp + c);
		a = get16(act + c);
		if ((e == 0 && a == 0xffff) || (e == 0xffff && a == 0))
			return true;
	}
	return false;
}

long pkt_first_diff(const __u8 *exp, size_t exp_len, const __u8 *act,
		    size_t act_len, bool csum_equiv)
{
	size_t n = exp_len < act_len ? exp_len : act_len;
	struct pkt_layout lo = { 0 };

	if (csum_equiv)
		pkt_parse(exp, exp_len, &lo, NULL, 0);
	for (size_t i = 0; i < n; i++) {
		if (exp[i] == act[i])
			continue;
		if (csum_equiv && csum_equiv_at(&lo, exp, act, i))
			continue;
		return (long)i;
	}
	return exp_len == act_len ? -1 : (long)n;
}

void pkt_hexdump(FILE *out, const char *label, const __u8 *b, size_t len,
		 long mark)
{
	fprintf(out, "    %s (%zu bytes):\n", label, len);
	for (size_t i = 0; i < len; i += 16) {
		fprintf(out, "    %04zx:", i);
		for (size_t j = i; j < i + 16 && j < len; j++) {
			if ((long)j == mark)
				fprintf(out, "[%02x]", b[j]);
			else if ((long)j == mark + 1 && j != i)
				fprintf(out, "%02x", b[j]);
			else
				fprintf(out, " %02x", b[j]);
		}
		fprintf(out, "\n");
	}
}

void pkt_print_diff(FILE *out, const __u8 *exp, size_t exp_len,
		    const __u8 *act, size_t act_len, long off)
{
	if (off >= 0 && (size_t)off < exp_len && (size_t)off < act_len)
		fprintf(out,
			"    first difference at byte %ld (0x%lx): expected "
			"0x%02x, got 0x%02x\n",
			off, off, exp[off], act[off]);
	else
		fprintf(out,
			"    lengths differ: expected %zu bytes, got %zu "
			"(equal up to byte %ld)\n",
			exp_len, act_len, off);
	pkt_hexdump(out, "expected", exp, exp_len, off);
	pkt_hexdump(out, "actual", act, act_len, off);
}

int pkt_fragment(const __u8 *f, size_t len, size_t at, __u32 id,
		 __u8 *first, size_t *first_len, __u8 *second,
		 size_t *second_len)
{
	struct pkt_layout lo;
	size_t l3, hl, pay, rest, fh;

	if (pkt_parse(f, len, &lo, NULL, 0) || !lo.family || lo.fragment ||
	    !at || at % 8)
		return -1;
	l3 = lo.l3_off;
	hl = lo.family == 4 ? (f[l3] & 0xfu) * 4 : IP6_HLEN;
	if (lo.family == 6 && f[l3 + 6] != lo.proto)
		return -1; /* extension headers: not supported */
	pay = lo.ip_end - l3 - hl;
	if (at >= pay)
		return -1;
	rest = pay - at;
	fh = lo.family == 6 ? 8 : 0; /* the IPv6 fragment header */
	/* both: the frame's L2 and IP headers, then their share */
	memcpy(first, f, l3 + hl);
	memcpy(second, f, l3 + hl);
	memcpy(first + l3 + hl + fh, f + l3 + hl, at);
	memcpy(second + l3 + hl + fh, f + l3 + hl + at, rest);
	*first_len = l3 + hl + fh + at;
	*second_len = l3 + hl + fh + rest;
	if (lo.family == 4) {
		put16(first + l3 + 2, (__u16)(hl + at));
		put16(second + l3 + 2, (__u16)(hl + rest));
		put16(first + l3 + 4, (__u16)id);
		put16(second + l3 + 4, (__u16)id);
		put16(first + l3 + 6, PKT_IP_MF); /* DF clear: fragmented */
		put16(second + l3 + 6, (__u16)(at / 8));
		pkt_ipv4_fix_csum(first, *first_len);
		pkt_ipv4_fix_csum(second, *second_len);
		return 0;
	}
	for (int i = 0; i < 2; i++) {
		__u8 *ip6 = i ? second : first, *h = ip6 + l3 + IP6_HLEN;

		put16(ip6 + l3 + 4, (__u16)(fh + (i ? rest : at)));
		ip6[l3 + 6] = 44;
		h[0] = lo.proto;
		h[1] = 0;
		put16(h + 2, (__u16)(i ? at : 1)); /* offset << 3 | M */
		put32(h + 4, id);
	}
	return 0;
}
