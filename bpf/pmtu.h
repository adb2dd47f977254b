/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A packet of a tracked flow too large for its egress MTU (the FIB
 * answers FRAG_NEEDED) is answered the way a router answers it: ICMP
 * "fragmentation needed" (IPv4 with DF set) or ICMPv6 "packet too big",
 * with the MTU, back to the sender, quoting the start of the packet as it
 * arrived.  The sender's kernel lowers its path MTU to the address the
 * packet went to (a client's to the VIP, a backend's to the SNAT address)
 * and sends smaller packets.  Without it, a balancer whose own egress is
 * the narrow link is a path-MTU black hole.  The rewrite keeps the size of
 * the headers, so the MTU reported holds for the sender's packet.
 *
 * The frame is turned into the error in place: cut to its L2 header and
 * XLB_TOO_BIG_QUOTE bytes of IP packet, grown at the head by the new IP
 * and ICMP headers, the L2 header moved to the new head with its MAC
 * addresses swapped (tags kept: the frame goes back the way it came), and
 * sent with XDP_TX to the hop that delivered it.  Source address: the
 * one the packet was sent to.  IPv4 without DF is not answered: it would
 * have to be fragmented, which the program does not do (dropped, as
 * before).
 */
#ifndef XLB_PMTU_H
#define XLB_PMTU_H

#include "maps.h"
#include "parse.h"
#include "csum.h"
#include "flow.h" /* xlb_now_ns, count_event */

#define IP_DF 0x4000
#define ICMP_DEST_UNREACH 3
#define ICMP_FRAG_NEEDED 4
#define ICMPV6_PKT_TOOBIG 2
#define XLB_ERROR_TTL 64
#define XLB_TOS_INTERNETCONTROL 0xc0 /* Linux's for ICMP errors */

/* Bytes of the offending IP packet quoted: its IP header and the first 24
 * bytes of TCP or UDP for IPv6, more for IPv4 (RFC 792 asks for the
 * header and 8 bytes).  Every packet over an MTU is longer: IPv4's least
 * MTU is 68, IPv6's 1280. */
#define XLB_TOO_BIG_QUOTE 64

/* Fold a 32-bit one's-complement sum into a checksum field. */
static __always_inline __u16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Cut the frame to its L2 header (tags VLAN tags) and the quote, grow it
 * by hdr bytes, move the L2 header to the new head with its MAC
 * addresses swapped.  Returns the new IP header (hdr + the quote fit), or
 * NULL. */
static __always_inline void *too_big_frame(struct xdp_md *ctx, __u32 tags,
					   const int hdr)
{
	const int eth = sizeof(struct ethhdr), tag = sizeof(struct vlan_hdr);
	int len = ctx->data_end - ctx->data;
	int keep = eth + tags * tag + XLB_TOO_BIG_QUOTE;
	void *data, *end, *l3;

	if (tags > XLB_MAX_VLAN_TAGS || len <= keep ||
	    bpf_xdp_adjust_tail(ctx, keep - len) ||
	    bpf_xdp_adjust_head(ctx, -hdr))
		return NULL;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	/* hdr > the longest L2 header: the copies do not overlap */
	if (data + hdr + eth + XLB_MAX_VLAN_TAGS * tag > end)
		return NULL;
	__builtin_memcpy(data + ETH_ALEN, data + hdr, ETH_ALEN);
	__builtin_memcpy(data, data + hdr + ETH_ALEN, ETH_ALEN);
	__builtin_memcpy(data + 2 * ETH_ALEN, data + hdr + 2 * ETH_ALEN,
			 eth - 2 * ETH_ALEN + XLB_MAX_VLAN_TAGS * tag);
	l3 = data + eth + tags * tag;
	if (l3 + hdr + XLB_TOO_BIG_QUOTE > end)
		return NULL;
	return l3;
}

/* One more error this second, if the rate allows (xlb_settings'
 * icmp_per_sec per CPU): RFC 4443 2.4(f).  Any UDP datagram or SYN to a
 * service from a spoofed source makes a tracked flow, whose oversize
 * packet would otherwise draw an error towards that source, as many as
 * it sends (a reflection: each smaller than what it answers). */
static __always_inline bool too_big_budget(void)
{
	__u32 zero = 0;
	struct xlb_settings *s = bpf_map_lookup_elem(&xlb_settings, &zero);
	struct xlb_icmp_budget *b =
		bpf_map_lookup_elem(&xlb_icmp_budget, &zero);
	__u64 second = xlb_now_ns() / 1000000000ull;
	__u32 limit = s && s->icmp_per_sec ? s->icmp_per_sec : XLB_ICMP_PER_SEC;

	if (!b)
		return false;
	if (b->second != second) {
		b->second = second;
		b->sent = 0;
	}
	if (b->sent >= limit) {
		count_event(XLB_STAT_TOO_BIG_LIMITED);
		return false;
	}
	b->sent++;
	return true;
}

/* Is p answered?  IPv4 with DF (without, it would be fragmented) and
 * room in the quote for 8 bytes after its header; IPv6; a sane MTU. */
static __always_inline bool too_big_answered(const struct xlb_pkt *p,
					     __u32 mtu)
{
	if (p->ip4)
		return (p->ip4->frag_off & bpf_htons(IP_DF)) &&
		       p->ip4->ihl * 4 + 8 <= XLB_TOO_BIG_QUOTE && mtu >= 68 &&
		       mtu <= 0xffff;
	return p->ip6 && mtu >= 1280;
}

/* The error for p, which did not fit the egress MTU mtu: XDP_TX once the
 * frame is the error (-XLB_STAT_TOO_BIG_SENT, which xlb_verdict counts
 * with drop_fib_frag), else -XLB_STAT_DROP_FIB_FRAG.  Every packet
 * pointer of p is stale afterwards.  Its own BPF function: the frame's
 * new bounds stay out of the caller's verification. */
static __noinline int pmtu_too_big(struct xdp_md *ctx, const struct xlb_pkt *p,
				   __u32 mtu)
{
	const int hdr4 = sizeof(struct iphdr) + 8;
	const int hdr6 = sizeof(struct ipv6hdr) + 8;
	struct xlb_addr to = p->key.src, from = p->key.dst;
	bool v4 = p->ip4; /* p's packet pointers go stale below */
	__u32 tags = p->vlan_tags;
	void *l3;
	__u8 *icmp;
	__u32 sum;

	if (!too_big_answered(p, mtu) || !too_big_budget())
		return -XLB_STAT_DROP_FIB_FRAG;
	l3 = v4 ? too_big_frame(ctx, tags, hdr4) : too_big_frame(ctx, tags, hdr6);
	if (!l3)
		return -XLB_STAT_DROP_FIB_FRAG;
	if (v4) {
		struct iphdr *ip = l3;

		*(__u8 *)ip = 0x45; /* version 4, 20-byte header */
		ip->tos = XLB_TOS_INTERNETCONTROL;
		ip->tot_len = bpf_htons(hdr4 + XLB_TOO_BIG_QUOTE);
		ip->id = 0;
		ip->frag_off = 0;
		ip->ttl = XLB_ERROR_TTL;
		ip->protocol = IPPROTO_ICMP;
		ip->check = 0;
		ip->saddr = from.ip4;
		ip->daddr = to.ip4;
		ip->check = csum_fold32(bpf_csum_diff(NULL, 0, (__be32 *)ip,
						      sizeof(*ip), 0));
		icmp = (__u8 *)(ip + 1);
		icmp[0] = ICMP_DEST_UNREACH;
		icmp[1] = ICMP_FRAG_NEEDED;
		*(__u16 *)(icmp + 2) = 0;
		*(__u16 *)(icmp + 4) = 0; /* unused */
		*(__be16 *)(icmp + 6) = bpf_htons(mtu);
		sum = bpf_csum_diff(NULL, 0, (__be32 *)icmp,
				    8 + XLB_TOO_BIG_QUOTE, 0);
	} else {
		struct ipv6hdr *ip6 = l3;

		*(__be32 *)ip6 = bpf_htonl(0x60000000); /* no class, no label */
		ip6->payload_len = bpf_htons(8 + XLB_TOO_BIG_QUOTE);
		ip6->nexthdr = IPPROTO_ICMPV6;
		ip6->hop_limit = XLB_ERROR_TTL;
		__builtin_memcpy(&ip6->saddr, from.bytes, 16);
		__builtin_memcpy(&ip6->daddr, to.bytes, 16);
		icmp = (__u8 *)(ip6 + 1);
		icmp[0] = ICMPV6_PKT_TOOBIG;
		icmp[1] = 0;
		*(__u16 *)(icmp + 2) = 0;
		*(__be32 *)(icmp + 4) = bpf_htonl(mtu);
		/* the pseudo-header: addresses, length, next header */
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&ip6->saddr, 32, 0);
		sum = csum_add(sum, bpf_htonl(8 + XLB_TOO_BIG_QUOTE));
		sum = csum_add(sum, bpf_htonl(IPPROTO_ICMPV6));
		sum = bpf_csum_diff(NULL, 0, (__be32 *)icmp,
				    8 + XLB_TOO_BIG_QUOTE, sum);
	}
	*(__u16 *)(icmp + 2) = csum_fold32(sum);
	return -XLB_STAT_TOO_BIG_SENT;
}

#endif /* XLB_PMTU_H */
