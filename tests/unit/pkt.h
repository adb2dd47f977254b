/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Test packet builder and checksum reference.
 *
 * pkt_build() writes an Ethernet frame (0..PKT_MAX_VLANS VLAN tags,
 * IPv4 with options or IPv6, TCP/UDP/ICMP, payload, padding) with every
 * checksum computed from scratch.  pkt_csum_verify() re-parses any frame
 * and checks the IPv4 header checksum and the L4 checksum (pseudo-header
 * + whole segment) by summing: a valid header or segment sums to 0xffff.
 * pkt_first_diff() compares two frames; pkt_print_diff() prints the first
 * differing byte and both frames in hex.  Nothing here knows about xlb.
 */
#ifndef XLB_TEST_PKT_H
#define XLB_TEST_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

#define PKT_MAX_VLANS 4
#define PKT_MAX_FRAME 9216

#define PKT_ETH_P_IP 0x0800
#define PKT_ETH_P_ARP 0x0806
#define PKT_ETH_P_IPV6 0x86DD
#define PKT_ETH_P_8021Q 0x8100
#define PKT_ETH_P_8021AD 0x88A8

#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10

#define PKT_IP_DF 0x4000
#define PKT_IP_MF 0x2000

struct pkt_vlan {
	__u16 tpid; /* PKT_ETH_P_8021Q / PKT_ETH_P_8021AD */
	__u16 tci;  /* PCP/DEI/VID, host order */
};

struct pkt_spec {
	__u8 dmac[6], smac[6];
	int n_vlans;		/* outermost first */
	struct pkt_vlan vlans[PKT_MAX_VLANS];
	__u16 ethertype;	/* 0: from family; with family 0 required */
	__u8 family;		/* 4, 6, or 0: raw payload after the tags */
	__u8 src[16], dst[16];	/* IPv4 in the first 4 bytes */
	__u8 ttl;		/* hop limit for IPv6 */
	__u8 tos;		/* traffic class for IPv6 */
	__u16 ip_id;
	__u16 frag;		/* IPv4 frag_off, host order: DF/MF | offset */
	__u8 ip_opt_len;	/* IPv4 option bytes, multiple of 4, <= 40 */
	bool ip6_ext;		/* IPv6: one 8-byte extension header ... */
	__u8 ip6_ext_type;	/* ... of this type (0 hop-by-hop, 44 fragment) */
	__u16 ip6_frag;		/* IPv6 fragment header offset|M, host order */
	__u8 proto;		/* TCP/UDP/ICMP/ICMPV6; other: raw payload */
	__u16 sport, dport;	/* host order (ICMP echo: id = sport) */
	bool icmp_custom;	/* ICMP: these instead of an echo request */
	__u8 icmp_type, icmp_code;
	__u32 icmp_rest;	/* bytes 4-7 (e.g. next-hop MTU), host order */
	__u8 tcp_flags;		/* PKT_TCP_* */
	__u32 seq, ack;
	__u16 window;
	__u8 tcp_opt_len;	/* multiple of 4, <= 40 */
	bool udp_no_csum;	/* UDP: checksum field 0 */
	size_t payload_len;
	__u8 payload_seed;	/* payload byte i = seed + 31 * i ... */
	const __u8 *payload;	/* ... unless this is set */
	size_t trailer_len;	/* zero bytes after the IP packet (padding) */
};

/* Where the headers of a frame are, as pkt_parse() found them. */
struct pkt_layout {
	int n_vlans;
	__u16 ethertype; /* after the tags */
	__u8 family;	 /* 4, 6 or 0 */
	size_t l3_off;
	size_t ip_end;	 /* end of the IP packet per its length field */
	__u8 proto;	 /* L4 protocol (after IPv6 extension headers) */
	bool fragment;	 /* IPv4 MF/offset, IPv6 fragment header */
	size_t l4_off;	 /* 0: no L4 header */
	size_t l4_len;	 /* segment length per the IP length */
	size_t ip_csum_off; /* 0: none */
	size_t l4_csum_off; /* 0: none */
};

/* Defaults: MACs zero, no tags, TTL 64, window 65535, no payload. */
void pkt_spec_init(struct pkt_spec *s);
/* Set src/dst and family from two address strings (IPv4 or IPv6, same
 * family).  Returns 0 or -1. */
int pkt_spec_addrs(struct pkt_spec *s, const char *src, const char *dst);
/* inet_pton into 16 bytes (IPv4 in the first 4); returns family or 0. */
__u8 pkt_addr(const char *str, __u8 out[16]);
/* "02:00:00:00:00:0b" into 6 bytes; 0 or -1. */
int pkt_mac(const char *str, __u8 out[6]);

/* Build the frame; returns its length, or 0 if it does not fit in cap or
 * the spec is invalid. */
size_t pkt_build(const struct pkt_spec *s, __u8 *buf, size_t cap);

/* Parse a frame; 0 if every header is present and consistent, else -1
 * with a reason in why (why may be NULL).  lo is filled as far as known. */
int pkt_parse(const __u8 *f, size_t len, struct pkt_layout *lo, char *why,
	      size_t why_len);

/* Verify from scratch: IPv4 header checksum, and the TCP/UDP/ICMP
 * checksum over pseudo-header + whole segment (fragments: header only).
 * UDP over IPv4 with checksum 0 means "none" and is accepted; UDP over
 * IPv6 with 0 is an error.  0 or -1 with a reason in why. */
int pkt_csum_verify(const __u8 *f, size_t len, char *why, size_t why_len);

/* The L4 checksum a full recomputation gives for this frame (checksum
 * field taken as 0; raw: may be 0 even for UDP).  -1 if no L4. */
int pkt_l4_csum_compute(const __u8 *f, size_t len);
/* Recompute the IPv4 header checksum in place (after patching bytes). */
void pkt_ipv4_fix_csum(__u8 *f, size_t len);

/* Split the IP packet of frame f at byte `at` of its IP payload (a
 * multiple of 8, inside it) into two fragments, each with the frame's L2
 * header: IPv4 with identification id (low 16 bits), MF then offset, DF
 * clear; IPv6 with a fragment header (identification id) after the fixed
 * header (a packet with extension headers is refused).  Bytes after the
 * IP packet (padding) are left out.  0, or -1 (a fragment already, not
 * IP, `at` not allowed). */
int pkt_fragment(const __u8 *f, size_t len, size_t at, __u32 id,
		 __u8 *first, size_t *first_len, __u8 *second,
		 size_t *second_len);

/* Offset of the first byte where act differs from exp (a length
 * difference counts at the shorter length), or -1 if equal.  With
 * csum_equiv, an IPv4 header, TCP or ICMP checksum of 0x0000 in one and
 * 0xffff in the other is equal (incremental updates may give either);
 * UDP checksums must match exactly. */
long pkt_first_diff(const __u8 *exp, size_t exp_len, const __u8 *act,
		    size_t act_len, bool csum_equiv);

/* Hex dump, 16 bytes a line, the byte at mark (or -1) in brackets. */
void pkt_hexdump(FILE *out, const char *label, const __u8 *b, size_t len,
		 long mark);
/* "first difference at byte N (expected 0x.., got 0x..)" + both dumps. */
void pkt_print_diff(FILE *out, const __u8 *exp, size_t exp_len,
		    const __u8 *act, size_t act_len, long off);

#endif /* XLB_TEST_PKT_H */
