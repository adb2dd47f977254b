/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMP and ICMPv6 errors that quote a packet of a tracked flow (destination
 * unreachable, fragmentation needed / packet too big, time exceeded,
 * parameter problem) are translated like the flow itself, so that
 * path-MTU discovery works through the balancer.
 *
 * The quoted packet is one we sent: seen from its sender's side, it is the
 * key of the flow entry for the other direction.  With that entry e:
 *   outer: e.rewritten.src -> e.rewritten.dst (like a packet of e)
 *   inner: the tuple as the receiver of the error sent it, swap(e.rewritten)
 * An error from a router on the backend side thus reaches the client from
 * the VIP, quoting the client's own packet to the VIP.
 *
 * Checksums: the outer IPv4 header, the inner IPv4 header, and the ICMP
 * checksum (which covers the quoted bytes, and for ICMPv6 the outer
 * pseudo-header), all incrementally.  The quoted TCP/UDP checksum is left
 * as it is (receivers do not verify it; it may be cut off anyway).
 * Anything else ICMP passes untouched (echo requests to a VIP reach the
 * kernel, which answers for addresses it owns).
 */
#ifndef XLB_ICMP_H
#define XLB_ICMP_H

#include "maps.h"
#include "parse.h"
#include "csum.h"
#include "flow.h"
#include "nat.h" /* and pmtu.h: ICMP_DEST_UNREACH, ICMPV6_PKT_TOOBIG */

#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12
#define ICMPV6_DEST_UNREACH 1
#define ICMPV6_TIME_EXCEED 3
#define ICMPV6_PARAMPROB 4

/* The quoted packet, parsed. */
struct icmp_inner {
	struct iphdr *ip4;
	struct ipv6hdr *ip6;
	__be16 *ports; /* source, destination */
};

static __always_inline bool icmp_is_error(const struct xlb_pkt *p, __u8 type)
{
	if (p->ip4)
		return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED ||
		       type == ICMP_PARAMETERPROB;
	return type == ICMPV6_DEST_UNREACH || type == ICMPV6_PKT_TOOBIG ||
	       type == ICMPV6_TIME_EXCEED || type == ICMPV6_PARAMPROB;
}

/* Parse the quoted header and build the key of the flow entry it belongs
 * to (the quoted tuple seen from the other side).  0 or -reason. */
static __always_inline int icmp_parse_inner(struct xlb_pkt *p,
					    struct icmp_inner *in,
					    struct xlb_flow_key *key)
{
	void *data_end = p->data_end;
	void *quoted = p->icmp + 8;
	void *l3_end;
	__u8 proto;

	/* the quote must lie within the IP packet, not in link padding */
	if (p->ip4)
		l3_end = (void *)p->ip4 + bpf_ntohs(p->ip4->tot_len);
	else if (p->ip6)
		l3_end = (void *)(p->ip6 + 1) + bpf_ntohs(p->ip6->payload_len);
	else
		return -XLB_STAT_PASS_ICMP;
	__builtin_memset(key, 0, sizeof(*key));
	if (p->ip4) {
		struct iphdr *ip = quoted;

		/* a later fragment quoted: what follows is no L4 header */
		if ((void *)(ip + 1) > data_end || (void *)(ip + 1) > l3_end ||
		    ip->ihl < 5 || (ip->frag_off & bpf_htons(IP_OFFSET)))
			return -XLB_STAT_PASS_ICMP;
		in->ip4 = ip;
		in->ports = quoted + ip->ihl * 4;
		proto = ip->protocol;
		key->family = XLB_FAMILY_V4;
		key->src.ip4 = ip->daddr;
		key->dst.ip4 = ip->saddr;
	} else {
		struct ipv6hdr *ip6 = quoted;

		if ((void *)(ip6 + 1) > data_end || (void *)(ip6 + 1) > l3_end)
			return -XLB_STAT_PASS_ICMP;
		in->ip6 = ip6;
		in->ports = (void *)(ip6 + 1);
		proto = ip6->nexthdr;
		if (proto == NEXTHDR_FRAGMENT) {
			/* a first fragment quoted (a "packet too big" for
			 * a fragmented datagram): its L4 header follows */
			struct xlb_frag6 *fh = (void *)(ip6 + 1);

			if ((void *)(fh + 1) > data_end ||
			    (void *)(fh + 1) > l3_end ||
			    (fh->frag_off & bpf_htons(IP6_OFFSET)))
				return -XLB_STAT_PASS_ICMP;
			proto = fh->nexthdr;
			in->ports = (void *)(fh + 1);
		}
		key->family = XLB_FAMILY_V6;
		__builtin_memcpy(key->src.bytes, &ip6->daddr, 16);
		__builtin_memcpy(key->dst.bytes, &ip6->saddr, 16);
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return -XLB_STAT_PASS_ICMP;
	if ((void *)(in->ports + 2) > data_end ||
	    (void *)(in->ports + 2) > l3_end)
		return -XLB_STAT_PASS_ICMP;
	key->proto = proto;
	key->sport = in->ports[1];
	key->dport = in->ports[0];
	return 0;
}

/* Rewrite the quoted packet to `q` (addresses and ports); returns the
 * difference for the ICMP checksum. */
static __always_inline __u32 icmp_rewrite_inner(struct icmp_inner *in,
						const struct xlb_flow_key *q)
{
	union {
		__be16 port[2];
		__u32 word;
	} np = { .port = { q->sport, q->dport } };
	__u32 diff = 0;

	if (in->ip4) {
		struct iphdr *ip = in->ip4;
		__u32 ip_diff = 0;
		__u16 old_check = ip->check;

		ip_diff = csum_diff32(ip_diff, ip->saddr, q->src.ip4);
		ip_diff = csum_diff32(ip_diff, ip->daddr, q->dst.ip4);
		ip->check = csum_apply(ip->check, ip_diff);
		diff = csum_add(ip_diff, 0);
		diff = csum_diff16(diff, old_check, ip->check);
		ip->saddr = q->src.ip4;
		ip->daddr = q->dst.ip4;
	} else if (in->ip6) {
		struct ipv6hdr *ip6 = in->ip6;

		diff = csum_diff_addr(diff, (__u32 *)&ip6->saddr, q->src.ip6, 4);
		diff = csum_diff_addr(diff, (__u32 *)&ip6->daddr, q->dst.ip6, 4);
		__builtin_memcpy(&ip6->saddr, q->src.bytes, 16);
		__builtin_memcpy(&ip6->daddr, q->dst.bytes, 16);
	}
	diff = csum_diff32(diff, *(__u32 *)in->ports, np.word);
	*(__u32 *)in->ports = np.word;
	return diff;
}

/* Translate an ICMP error that quotes a tracked flow.  Returns an XDP
 * action or -reason (PASS_ICMP when it is not ours). */
static __noinline int icmp_forward(struct xdp_md *ctx, struct xlb_pkt *p,
				   struct xlb_scratch *scratch)
{
	struct xlb_flow_key *key = &scratch->keys[0];
	struct xlb_flow_key *outer = &scratch->keys[1];
	struct xlb_flow_key *inner = &scratch->keys[2];
	struct xlb_next_hop nh;
	struct icmp_inner in = {};
	struct xlb_flow *f;
	__u16 *check;
	__u32 diff;
	int rc;

	if (!icmp_is_error(p, *(__u8 *)p->icmp))
		return -XLB_STAT_PASS_ICMP;
	rc = icmp_parse_inner(p, &in, key);
	if (rc)
		return rc;
	f = flow_lookup(key);
	if (!f)
		return -XLB_STAT_PASS_ICMP;
	*outer = f->rewritten;
	outer->proto = p->key.proto;
	outer->sport = 0;
	outer->dport = 0;
	flow_partner_key(f, inner);

	rc = nat_next_hop(ctx, p, outer, &nh);
	if (rc)
		return rc;
	/* ICMPv6's checksum covers the pseudo-header: take the outer
	 * address change into account there too. */
	diff = nat_rewrite_ip(p, outer, 0);
	if (p->ip4)
		diff = 0;
	diff = csum_add(diff, icmp_rewrite_inner(&in, inner));
	check = p->icmp + 2;
	*check = csum_apply(*check, diff);
	return nat_transmit(ctx, p, &nh);
}

#endif /* XLB_ICMP_H */
