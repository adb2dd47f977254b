/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Forwarding a tracked packet: next hop from the kernel FIB for the
 * rewritten tuple, then the rewrite itself (addresses, ports, TTL) with
 * incremental checksums, new MAC addresses, and XDP_TX or a redirect.
 * Nothing in the packet changes unless it is going to be sent (by the
 * program, or by xlb run for want of a neighbour entry).
 */
#ifndef XLB_NAT_H
#define XLB_NAT_H

#include "maps.h"
#include "parse.h"
#include "csum.h"
#include "flow.h"
#include "pmtu.h"

#define XLB_LOOPBACK_IFINDEX 1 /* lo, in every network namespace */
#define AF_INET 2
#define AF_INET6 10

/* Map a bpf_fib_lookup() failure to a drop reason. */
static __always_inline int fib_reason(int rc)
{
	switch (rc) {
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		return -XLB_STAT_DROP_FIB_NO_NEIGH;
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		return -XLB_STAT_DROP_FIB_FRAG;
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
	case BPF_FIB_LKUP_RET_NOT_FWDED: /* no route, or a local address */
		return -XLB_STAT_DROP_FIB_UNREACH;
	default:
		return -XLB_STAT_DROP_FIB_OTHER;
	}
}

/* Ask user space (xlb run) to get this next hop resolved. */
static __always_inline void report_no_neigh(const struct bpf_fib_lookup *fib)
{
	struct xlb_event *ev;

	ev = bpf_ringbuf_reserve(&xlb_daemon_events, sizeof(*ev), 0);
	if (!ev) {
		count(XLB_STAT_EVENT_LOST);
		return;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ts_ns = xlb_now_ns();
	ev->type = XLB_EVENT_NO_NEIGH;
	ev->ifindex = fib->ifindex;
	if (fib->family == AF_INET) {
		ev->family = XLB_FAMILY_V4;
		ev->client.ip4 = fib->ipv4_dst;
	} else {
		ev->family = XLB_FAMILY_V6;
		__builtin_memcpy(ev->client.bytes, fib->ipv6_dst, 16);
	}
	bpf_ringbuf_submit(ev, 0);
}

/* Length of the IP packet (what the FIB compares with the MTU). */
static __always_inline __u32 pkt_ip_bytes(const struct xlb_pkt *p)
{
	if (p->ip4)
		return bpf_ntohs(p->ip4->tot_len);
	if (p->ip6)
		return sizeof(struct ipv6hdr) + bpf_ntohs(p->ip6->payload_len);
	return 0;
}

/* The FIB's question about a packet of tot_len bytes rewritten to `to`. */
static __always_inline void nat_fib_params(struct bpf_fib_lookup *fib,
					   const struct xlb_pkt *p,
					   const struct xlb_flow_key *to,
					   __u32 tot_len)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->l4_protocol = to->proto;
	fib->sport = to->sport;
	fib->dport = to->dport;
	fib->tot_len = tot_len;
	/* Asked as if the packet came from the loopback interface: the FIB
	 * then needs forwarding enabled on lo only, not on the interface the
	 * traffic arrives on, so the kernel does not route what xlb passes
	 * (not an open relay).  The result names the egress interface. */
	fib->ifindex = XLB_LOOPBACK_IFINDEX;
	if (p->ip4) {
		fib->family = AF_INET;
		fib->tos = p->ip4->tos;
		fib->ipv4_src = to->src.ip4;
		fib->ipv4_dst = to->dst.ip4;
	} else if (p->ip6) {
		fib->family = AF_INET6;
		__builtin_memcpy(fib->ipv6_src, to->src.bytes, 16);
		__builtin_memcpy(fib->ipv6_dst, to->dst.bytes, 16);
	}
}

/* Look up the next hop of the packet once rewritten to `to`.  *bytes:
 * in, the IP packet size to ask about if the packet is smaller (a
 * flow's cached answer then also serves its larger packets:
 * XLB_NEXT_HOP_CHECK_BYTES); out, the size the answer holds for (the
 * FIB checked it against the path's MTU), or on FRAG_NEEDED the MTU.  On
 * a path whose MTU is smaller than what was asked, the FIB says so with
 * the MTU (mtu_result), and the MTU is asked instead if the packet fits.
 * The verdict is the one for the packet's own size.  Its own BPF function:
 * the lookup's parameter block stays off the caller's stack frame. */
static __noinline int nat_fib(struct xdp_md *ctx, const struct xlb_pkt *p,
			      const struct xlb_flow_key *to,
			      struct xlb_next_hop *nh, __u32 *bytes)
{
	struct bpf_fib_lookup fib_params, *fib = &fib_params;
	__u32 ip_bytes = pkt_ip_bytes(p), tot_len = *bytes;
	int rc;

	if (tot_len < ip_bytes)
		tot_len = ip_bytes;
	nat_fib_params(fib, p, to, tot_len);
	rc = bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED && tot_len > ip_bytes &&
	    fib->mtu_result >= ip_bytes) {
		tot_len = fib->mtu_result;
		nat_fib_params(fib, p, to, tot_len);
		rc = bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
	}
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		__builtin_memcpy(nh->dmac, fib->dmac, ETH_ALEN);
		__builtin_memcpy(nh->smac, fib->smac, ETH_ALEN);
		nh->ifindex = fib->ifindex;
		*bytes = tot_len;
		return 0;
	}
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		nh->ifindex = fib->ifindex; /* for a hand-over */
		report_no_neigh(fib);
	}
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		*bytes = fib->mtu_result;
	return rc < 0 ? -XLB_STAT_DROP_FIB_OTHER : fib_reason(rc);
}

/* Rewrite the IP addresses to those of `to` and decrement TTL / hop limit,
 * fixing the IPv4 header checksum.  Returns l4_diff plus the change of
 * the pseudo-header (the addresses), for the L4 checksum. */
static __always_inline __u32 nat_rewrite_ip(struct xlb_pkt *p,
					    const struct xlb_flow_key *to,
					    __u32 l4_diff)
{
	if (p->ip4) {
		struct iphdr *ip = p->ip4;
		__u16 old_ttl_word = *(__u16 *)&ip->ttl;
		__u32 ip_diff = 0;

		l4_diff = csum_diff32(l4_diff, ip->saddr, to->src.ip4);
		l4_diff = csum_diff32(l4_diff, ip->daddr, to->dst.ip4);
		ip->ttl--;
		ip_diff = csum_diff16(ip_diff, old_ttl_word,
				      *(__u16 *)&ip->ttl);
		ip_diff = csum_diff32(ip_diff, ip->saddr, to->src.ip4);
		ip_diff = csum_diff32(ip_diff, ip->daddr, to->dst.ip4);
		ip->check = csum_apply(ip->check, ip_diff);
		ip->saddr = to->src.ip4;
		ip->daddr = to->dst.ip4;
	} else if (p->ip6) {
		struct ipv6hdr *ip6 = p->ip6;

		l4_diff = csum_diff_addr(l4_diff, (__u32 *)&ip6->saddr,
					 to->src.ip6, 4);
		l4_diff = csum_diff_addr(l4_diff, (__u32 *)&ip6->daddr,
					 to->dst.ip6, 4);
		ip6->hop_limit--;
		__builtin_memcpy(&ip6->saddr, to->src.bytes, 16);
		__builtin_memcpy(&ip6->daddr, to->dst.bytes, 16);
	}
	return l4_diff;
}

/* Rewrite addresses and ports to `to`, decrement TTL / hop limit, and fix
 * the IPv4 header and L4 checksums incrementally (a later fragment has
 * neither ports nor L4 checksum: its first fragment's checksum covers
 * the datagram).  Its own BPF function: the checksum arithmetic's
 * register spills stay off the caller's frame. */
static __noinline void nat_rewrite(struct xlb_pkt *p,
					const struct xlb_flow_key *to)
{
	__u32 old_ports, new_ports, l4_diff = 0;
	union {
		__be16 port[2];
		__u32 word;
	} np = { .port = { to->sport, to->dport } };
	__sum16 *l4_check;
	__be16 *ports;

	if (p->tcp) {
		ports = &p->tcp->source;
		l4_check = &p->tcp->check;
	} else if (p->udp) {
		ports = &p->udp->source;
		l4_check = &p->udp->check;
	} else {
		/* a later fragment: the IP header only */
		nat_rewrite_ip(p, to, 0);
		return;
	}
	old_ports = *(__u32 *)ports;
	new_ports = np.word; /* source then destination, as on the wire */
	l4_diff = csum_diff32(l4_diff, old_ports, new_ports);

	l4_diff = nat_rewrite_ip(p, to, l4_diff);
	*(__u32 *)ports = new_ports;
	/* UDP over IPv4 may carry no checksum (0): it stays 0; a computed
	 * 0 is sent as 0xffff, since 0 would mean "none".  Over IPv6 a 0 is
	 * allowed for tunnels (RFC 6935/6936: VXLAN, GENEVE) and kept too:
	 * a receiver that accepts it gets it, one that does not would drop
	 * the packet either way (updated, it would be a wrong sum). */
	if (p->udp && *l4_check == 0)
		return;
	*l4_check = csum_apply(*l4_check, l4_diff);
	if (p->udp && *l4_check == 0)
		*l4_check = 0xffff;
}

/* The hop limit allows one more hop: 0 or -XLB_STAT_DROP_TTL. */
static __always_inline int nat_check_ttl(const struct xlb_pkt *p)
{
	if (p->ip4) {
		if (p->ip4->ttl <= 1)
			return -XLB_STAT_DROP_TTL;
	} else if (p->ip6) {
		if (p->ip6->hop_limit <= 1)
			return -XLB_STAT_DROP_TTL;
	}
	return 0;
}

/* Before any rewrite: the hop limit allows one more hop, and the FIB
 * knows the next hop of the packet once it leaves as `to`.  0 or -reason. */
static __always_inline int nat_next_hop(struct xdp_md *ctx,
					const struct xlb_pkt *p,
					const struct xlb_flow_key *to,
					struct xlb_next_hop *nh)
{
	int rc = nat_check_ttl(p);
	__u32 bytes = 0; /* nothing is cached: the packet's own size */

	return rc ? rc : nat_fib(ctx, p, to, nh, &bytes);
}

/* The next hop of a flow's packets: the flow's cached FIB answer while it
 * is fresh, else a new lookup, cached in the flow (which may be a copy:
 * then the next packet looks up again). */
static __always_inline int flow_next_hop(struct xdp_md *ctx,
					 const struct xlb_pkt *p,
					 struct xlb_flow *f, __u64 now_ns,
					 struct xlb_next_hop *nh)
{
	__u32 ip_bytes = pkt_ip_bytes(p), checked = XLB_NEXT_HOP_CHECK_BYTES;
	int rc = nat_check_ttl(p);

	if (rc)
		return rc;
	/* the cache holds for packets no larger than the FIB checked
	 * against the egress MTU; a larger one asks the FIB again */
	if (f->nh_at_ns && now_ns - f->nh_at_ns < XLB_NEXT_HOP_TTL_NS &&
	    ip_bytes <= f->nh_max_bytes) {
		*nh = f->nh;
		return 0;
	}
	rc = nat_fib(ctx, p, &f->rewritten, nh, &checked);
	if (!rc) {
		f->nh_max_bytes = checked;
		f->nh = *nh;
		f->nh_at_ns = now_ns;
	}
	return rc;
}

/* Set the VLAN id (the low 12 bits of the TCI, priority kept). */
static __always_inline void vlan_set_vid(struct vlan_hdr *v, __u16 vid)
{
	v->h_vlan_TCI = bpf_htons((bpf_ntohs(v->h_vlan_TCI) & 0xf000) |
				  (vid & 0x0fff));
}

/* The VLAN ids of ifindex if it is a VLAN device on the interface with as
 * many tags as the frame (xlb_vlans), else NULL. */
static __always_inline const struct xlb_vlan *
nat_vlan_of(const struct xlb_pkt *p, __u32 ifindex)
{
	const struct xlb_vlan *v = bpf_map_lookup_elem(&xlb_vlans, &ifindex);

	return v && (v->inner_vid != 0) == (p->vlan_tags == 2) ? v : NULL;
}

/* Can the program send the frame out of ifindex (nat_transmit's rules)?
 * The interface it came in on; for a tagged frame, a VLAN device of it;
 * for an untagged one, an interface of xlb_tx_ports. */
static __always_inline bool nat_can_send(const struct xdp_md *ctx,
					 const struct xlb_pkt *p, __u32 ifindex)
{
	if (ifindex == ctx->ingress_ifindex)
		return true;
	if (p->vlan_tags)
		return nat_vlan_of(p, ifindex);
	return bpf_map_lookup_elem(&xlb_tx_ports, &ifindex);
}

/* A tagged frame whose next hop is out of another interface than the one
 * it came in on: that interface must be a VLAN device on it with as many
 * tags; the frame leaves tagged with that device's ids (XDP_TX), so that
 * traffic routed from one VLAN to another on the same port is.  Anything
 * else cannot be reached from here: -reason. */
static __noinline int nat_vlan_tx(const struct xlb_pkt *p, __u32 ifindex)
{
	const struct xlb_vlan *v = nat_vlan_of(p, ifindex);
	struct vlan_hdr *tag = (struct vlan_hdr *)(p->eth + 1);

	if (!v)
		return -XLB_STAT_DROP_REDIRECT;
	if ((void *)(tag + 1) > p->data_end)
		return -XLB_STAT_DROP_REDIRECT; /* parse_packet saw it */
	vlan_set_vid(tag, v->outer_vid);
	if (p->vlan_tags == 2) {
		if ((void *)(tag + 2) > p->data_end)
			return -XLB_STAT_DROP_REDIRECT;
		vlan_set_vid(tag + 1, v->inner_vid);
	}
	return XDP_TX;
}

/* After the rewrite: MAC addresses from the FIB, then out.  Returns
 * XDP_TX or XDP_REDIRECT, or -reason. */
static __always_inline int nat_transmit(struct xdp_md *ctx,
					const struct xlb_pkt *p,
					const struct xlb_next_hop *nh)
{
	int rc;

	__builtin_memcpy(p->eth->h_dest, nh->dmac, ETH_ALEN);
	__builtin_memcpy(p->eth->h_source, nh->smac, ETH_ALEN);
	/* Out of the interface it came in on: tags kept (a set-up whose
	 * routes are on the interface itself, tags or not). */
	if (nh->ifindex == ctx->ingress_ifindex)
		return XDP_TX;
	if (p->vlan_tags)
		return nat_vlan_tx(p, nh->ifindex);
	rc = bpf_redirect_map(&xlb_tx_ports, nh->ifindex, XDP_DROP);
	return rc == XDP_REDIRECT ? rc : -XLB_STAT_DROP_REDIRECT;
}

/* Hand the len-byte IP packet at l3_off (already rewritten) to xlb run,
 * which sends it out of ifindex through the kernel: the kernel resolves
 * the next hop the FIB had no neighbour for, and holds the packet
 * meanwhile.  Without it the packet is lost, and a connection's first
 * packet (a SYN, a SYN-ACK) comes again only with the sender's
 * retransmission, 1 s later.  Best effort: a packet larger than
 * XLB_PACKET_EVENT_BYTES is not handed over, nor one that finds the ring
 * more than half full (the rest is for the NO_NEIGH records that get
 * next hops resolved; counted event_lost).  Its own BPF function: the
 * copy's bounds stay out of the caller's verification. */
static __noinline void nat_hand_over(struct xdp_md *ctx, __u32 l3_off,
				     __u32 len, __u32 ifindex)
{
	const __u32 head = offsetof(struct xlb_packet_event, data);
	struct xlb_packet_event *ev;
	__u8 family;

	if (len < 1 || len > XLB_PACKET_EVENT_BYTES ||
	    l3_off + len > ctx->data_end - ctx->data)
		return;
	if (bpf_ringbuf_query(&xlb_daemon_events, BPF_RB_AVAIL_DATA) >
	    XLB_DAEMON_EVENTS_BYTES / 2) {
		count(XLB_STAT_EVENT_LOST);
		return;
	}
	if (len <= XLB_PACKET_EVENT_SMALL)
		ev = bpf_ringbuf_reserve(&xlb_daemon_events,
					 head + XLB_PACKET_EVENT_SMALL, 0);
	else
		ev = bpf_ringbuf_reserve(&xlb_daemon_events, sizeof(*ev), 0);
	if (!ev) {
		count(XLB_STAT_EVENT_LOST);
		return;
	}
	if (bpf_xdp_load_bytes(ctx, l3_off, ev->data, len)) {
		bpf_ringbuf_discard(ev, 0);
		return;
	}
	family = (ev->data[0] >> 4) == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
	ev->ts_ns = xlb_now_ns();
	ev->type = XLB_EVENT_PACKET;
	ev->len = len;
	ev->family = family;
	ev->pad = 0;
	ev->ifindex = ifindex;
	ev->pad2 = 0;
	bpf_ringbuf_submit(ev, 0);
}

/* The packet, to leave as `to`, is over its path's MTU: ask the FIB for
 * the MTU (again: the established path carries nothing more for this
 * rare case) and answer with the ICMP error (bpf/pmtu.h). */
static __noinline int nat_too_big(struct xdp_md *ctx, struct xlb_pkt *p,
				  const struct xlb_flow_key *to)
{
	struct xlb_next_hop nh;
	__u32 mtu = 0; /* the packet's own size */

	if (nat_fib(ctx, p, to, &nh, &mtu) != -XLB_STAT_DROP_FIB_FRAG)
		return -XLB_STAT_DROP_FIB_FRAG;
	return pmtu_too_big(ctx, p, mtu);
}

/* Forward a TCP/UDP packet of the tracked flow f. */
static __always_inline int nat_forward(struct xdp_md *ctx, struct xlb_pkt *p,
				       struct xlb_flow *f, __u64 now_ns)
{
	struct xlb_next_hop nh;
	int rc;

	rc = flow_next_hop(ctx, p, f, now_ns, &nh);
	if (rc == -XLB_STAT_DROP_FIB_FRAG)
		return nat_too_big(ctx, p, &f->rewritten); /* before any rewrite */
	if (rc && rc != -XLB_STAT_DROP_FIB_NO_NEIGH)
		return rc;
	/* a packet the program could not send there once the neighbour is
	 * known is not handed over either */
	if (rc && !nat_can_send(ctx, p, nh.ifindex))
		return -XLB_STAT_DROP_REDIRECT;
	nat_rewrite(p, &f->rewritten);
	if (rc) {
		/* dropped here, sent by xlb run (which counts it); the IP
		 * header follows the Ethernet header and its VLAN tags */
		nat_hand_over(ctx,
			      sizeof(struct ethhdr) +
				      p->vlan_tags * sizeof(struct vlan_hdr),
			      pkt_ip_bytes(p), nh.ifindex);
		return rc;
	}
	return nat_transmit(ctx, p, &nh);
}

#endif /* XLB_NAT_H */
