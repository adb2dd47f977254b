/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Packet parsing: one cursor, every header bounds-checked before use. */
#ifndef XLB_PARSE_H
#define XLB_PARSE_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xlb_abi.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_ALEN 6
#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF
#define XLB_MAX_VLAN_TAGS 2

#define IPPROTO_ICMPV6 58
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_DEST 60
#define NEXTHDR_AUTH 51

/* Parsed packet: header pointers (valid up to data_end) and the 5-tuple. */
struct xlb_pkt {
	void *data_end;
	struct ethhdr *eth;
	struct iphdr *ip4;   /* exactly one of ip4/ip6 is set */
	struct ipv6hdr *ip6;
	struct tcphdr *tcp;  /* exactly one of tcp/udp/icmp is set */
	struct udphdr *udp;
	void *icmp;          /* struct icmphdr or icmp6hdr (8 bytes checked) */
	struct xlb_flow_key key;
	__u32 frame_bytes;
	__u8 tcp_flags; /* XLB_TCP_* */
	__u8 vlan_tags;
	bool established; /* flow_find: the entry is in xlb_flows */
	__u8 frag;	   /* XLB_FRAG_* */
	__u32 tcp_payload; /* bytes after the TCP header, within the IP packet */
	__be32 frag_id;	   /* a fragment's datagram identification */
};

/* parse_packet's answer for a later fragment: the key without ports. */
#define XLB_PARSED_LATER_FRAGMENT 1

/* A TCP/UDP packet whole, or the first fragment of a datagram (its L4
 * header parsed, key complete), or a later one (no L4 header: the key's
 * ports are 0 until bpf/frag.h finds the first fragment's). */
enum {
	XLB_FRAG_NONE = 0,
	XLB_FRAG_FIRST = 1,
	XLB_FRAG_LATER = 2,
};

/* The IPv6 fragment header (RFC 8200 4.5). */
struct xlb_frag6 {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset (13 bits, in 8 bytes) | 2 reserved | M */
	__be32 id;
};

#define IP6_OFFSET 0xfff8
#define IP6_MF 0x0001

#define XLB_TCP_FIN 0x01
#define XLB_TCP_SYN 0x02
#define XLB_TCP_RST 0x04
#define XLB_TCP_ACK 0x10

/* The L4 header must lie within the IP packet (l3_end), not only within
 * the frame: bytes past the IP length are link-layer padding. */
static __always_inline int parse_l4(struct xlb_pkt *p, void *l4, __u8 proto,
				    void *l3_end)
{
	void *data_end = p->data_end;

	/* both bounds: data_end for the verifier, l3_end for the protocol */

	p->key.proto = proto;
	if (proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;

		if ((void *)(tcp + 1) > data_end ||
		    (void *)(tcp + 1) > l3_end || tcp->doff < 5 ||
		    l4 + tcp->doff * 4 > l3_end)
			return -XLB_STAT_PASS_MALFORMED;
		p->tcp = tcp;
		p->tcp_payload = (__u32)((long)l3_end - (long)l4 -
					 tcp->doff * 4);
		p->key.sport = tcp->source;
		p->key.dport = tcp->dest;
		p->tcp_flags = ((__u8 *)tcp)[13];
		return 0;
	}
	if (proto == IPPROTO_UDP) {
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) > data_end || (void *)(udp + 1) > l3_end)
			return -XLB_STAT_PASS_MALFORMED;
		p->udp = udp;
		p->key.sport = udp->source;
		p->key.dport = udp->dest;
		return 0;
	}
	if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		/* type, code, checksum and 4 more bytes */
		if (l4 + 8 > data_end || l4 + 8 > l3_end)
			return -XLB_STAT_PASS_MALFORMED;
		p->icmp = l4;
		return 0;
	}
	return -XLB_STAT_PASS_NOT_L4;
}

static __always_inline void parse_ip4_key(struct xlb_pkt *p,
					  struct iphdr *ip)
{
	p->ip4 = ip;
	p->key.family = XLB_FAMILY_V4;
	p->key.src.ip4 = ip->saddr;
	p->key.dst.ip4 = ip->daddr;
}

static __always_inline void parse_ip6_key(struct xlb_pkt *p,
					  struct ipv6hdr *ip6)
{
	p->ip6 = ip6;
	p->key.family = XLB_FAMILY_V6;
	__builtin_memcpy(p->key.src.bytes, &ip6->saddr, 16);
	__builtin_memcpy(p->key.dst.bytes, &ip6->daddr, 16);
}

static __always_inline int parse_ipv4(struct xlb_pkt *p, struct iphdr *ip)
{
	void *data_end = p->data_end;
	__u32 hdr_bytes;

	if ((void *)(ip + 1) > data_end)
		return -XLB_STAT_PASS_MALFORMED;
	hdr_bytes = ip->ihl * 4;
	if (ip->version != 4 || hdr_bytes < sizeof(*ip) ||
	    (void *)ip + hdr_bytes > data_end ||
	    bpf_ntohs(ip->tot_len) < hdr_bytes ||
	    (void *)ip + bpf_ntohs(ip->tot_len) > data_end)
		return -XLB_STAT_PASS_MALFORMED;
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)) {
		/* a TCP/UDP datagram's fragments follow its first one */
		if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
			return -XLB_STAT_PASS_FRAGMENT;
		p->frag_id = ip->id;
		p->frag = XLB_FRAG_FIRST;
		if (ip->frag_off & bpf_htons(IP_OFFSET)) {
			p->frag = XLB_FRAG_LATER;
			parse_ip4_key(p, ip);
			p->key.proto = ip->protocol;
			return XLB_PARSED_LATER_FRAGMENT;
		}
	}
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP &&
	    ip->protocol != IPPROTO_ICMP)
		return -XLB_STAT_PASS_NOT_L4;
	parse_ip4_key(p, ip);
	return parse_l4(p, (void *)ip + hdr_bytes, ip->protocol,
			(void *)ip + bpf_ntohs(ip->tot_len));
}

/* The fragment header after the IPv6 header (ends by l3_end): a TCP/UDP
 * datagram's fragment follows its first one (p->frag, p->frag_id), an
 * atomic fragment (RFC 6946: offset 0, no more) is a whole packet.  The
 * L4 header's protocol in *next, its start in *l4; 0, 1 for a later
 * fragment, or -reason. */
static __always_inline int parse_frag6(struct xlb_pkt *p, void **l4,
				       __u8 *next, void *l3_end)
{
	struct xlb_frag6 *fh = *l4;

	if ((void *)(fh + 1) > p->data_end || (void *)(fh + 1) > l3_end)
		return -XLB_STAT_PASS_MALFORMED;
	*next = fh->nexthdr;
	if (*next != IPPROTO_TCP && *next != IPPROTO_UDP)
		return -XLB_STAT_PASS_FRAGMENT;
	*l4 = fh + 1;
	if (!(fh->frag_off & bpf_htons(IP6_OFFSET | IP6_MF)))
		return 0;
	p->frag_id = fh->id;
	p->frag = XLB_FRAG_FIRST;
	if (!(fh->frag_off & bpf_htons(IP6_OFFSET)))
		return 0;
	p->frag = XLB_FRAG_LATER;
	return 1;
}

static __always_inline int parse_ipv6(struct xlb_pkt *p, struct ipv6hdr *ip6)
{
	void *data_end = p->data_end;
	void *l4 = ip6 + 1, *l3_end;
	__u8 next;
	int rc;

	if ((void *)(ip6 + 1) > data_end)
		return -XLB_STAT_PASS_MALFORMED;
	l3_end = (void *)(ip6 + 1) + bpf_ntohs(ip6->payload_len);
	if (ip6->version != 6 || l3_end > data_end)
		return -XLB_STAT_PASS_MALFORMED;
	next = ip6->nexthdr;
	if (next == NEXTHDR_FRAGMENT) {
		rc = parse_frag6(p, &l4, &next, l3_end);
		if (rc < 0)
			return rc;
		if (rc) {
			parse_ip6_key(p, ip6);
			p->key.proto = next;
			return XLB_PARSED_LATER_FRAGMENT;
		}
	}
	if (next == NEXTHDR_HOP || next == NEXTHDR_ROUTING ||
	    next == NEXTHDR_DEST || next == NEXTHDR_AUTH)
		return -XLB_STAT_PASS_IPV6_EXT;
	if (next != IPPROTO_TCP && next != IPPROTO_UDP &&
	    next != IPPROTO_ICMPV6)
		return -XLB_STAT_PASS_NOT_L4;
	parse_ip6_key(p, ip6);
	return parse_l4(p, l4, next, l3_end);
}

/* Parse Ethernet (up to two VLAN tags), IPv4/IPv6 and TCP/UDP into p.
 * Returns 0, XLB_PARSED_LATER_FRAGMENT (a datagram's later fragment: the
 * key without ports), or -reason (a PASS_* stat: not ours). */
static __always_inline int parse_packet(struct xlb_pkt *p, void *data)
{
	struct ethhdr *eth = data;
	__be16 eth_proto;
	void *cursor;

	if ((void *)(eth + 1) > p->data_end)
		return -XLB_STAT_PASS_MALFORMED;
	p->eth = eth;
	p->frame_bytes = p->data_end - data;
	eth_proto = eth->h_proto;
	cursor = eth + 1;

#pragma unroll
	for (int i = 0; i < XLB_MAX_VLAN_TAGS; i++) {
		struct vlan_hdr *vlan = cursor;

		if (eth_proto != bpf_htons(ETH_P_8021Q) &&
		    eth_proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vlan + 1) > p->data_end)
			return -XLB_STAT_PASS_MALFORMED;
		eth_proto = vlan->h_vlan_encapsulated_proto;
		cursor = vlan + 1;
		p->vlan_tags++;
	}

	if (eth_proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(p, cursor);
	if (eth_proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(p, cursor);
	return -XLB_STAT_PASS_NOT_IP;
}

#endif /* XLB_PARSE_H */
