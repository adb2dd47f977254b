/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IP fragments of tracked flows.  Only a datagram's first fragment
 * carries the ports; it is forwarded as a whole packet is (its L4
 * checksum, which covers the whole datagram, updated incrementally as
 * always), and its ports are recorded in xlb_frags under the datagram's
 * reassembly key (addresses, protocol, identification).  A later
 * fragment takes them from there and follows the same flow: addresses
 * rewritten, nothing else (it has no L4 header).  A later fragment that
 * arrives before its first one, or more than XLB_FRAG_TIMEOUT_NS after
 * it, or whose first one was not forwarded, is passed to the kernel
 * (pass_fragment), as every fragment was before: xlb does not
 * reassemble.
 */
#ifndef XLB_FRAG_H
#define XLB_FRAG_H

#include "maps.h"
#include "parse.h"
#include "flow.h"

static __always_inline void frag_key(const struct xlb_pkt *p,
				     struct xlb_frag_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->src = p->key.src;
	k->dst = p->key.dst;
	k->id = p->frag_id;
	k->proto = p->key.proto;
	k->family = p->key.family;
}

/* The fragment p is through (rc: xlb_process's answer).  A later one
 * forwarded is counted.  A first one forwarded, or handed to xlb run
 * (its later fragments will be too; also when the hand-over found no
 * room: they then go without it), has its ports and its connection's
 * destination recorded for them; a
 * datagram that reuses the identification replaces the record.  A first
 * one not forwarded (passed, dropped) removes the record of an earlier
 * datagram with the same key, so that its later fragments do not follow
 * that datagram's flow.  Its own BPF function: the rare path's key stays
 * off the caller's stack frame. */
static __noinline void frag_done(const struct xlb_pkt *p, int rc)
{
	struct xlb_frag_key k;
	struct xlb_flow *f;
	struct xlb_frag v = {
		.sport = p->key.sport,
		.dport = p->key.dport,
	};

	if (p->frag == XLB_FRAG_LATER) {
		if (rc >= 0)
			count_event(XLB_STAT_FRAG_FORWARDED);
		return;
	}
	frag_key(p, &k);
	if (rc >= 0 || rc == -XLB_STAT_DROP_FIB_NO_NEIGH) {
		/* the connection it went by (its entry, as frag_flow finds
		 * it) */
		f = flow_lookup(&p->key);
		if (f) {
			v.to = f->rewritten.dst;
			v.to_port = f->rewritten.dport;
			v.seen_ns = xlb_now_ns();
			bpf_map_update_elem(&xlb_frags, &k, &v, BPF_ANY);
			return;
		}
	}
	bpf_map_delete_elem(&xlb_frags, &k);
}

/* The flow of the later fragment p: its datagram's first fragment's
 * ports into p->key, then the flow entry as flow_find finds it (an
 * established one, or a half-open one with its partner), still the
 * connection the first fragment went by, without changing any state.
 * 0 with *out set, or -XLB_STAT_PASS_FRAGMENT. */
static __noinline int frag_flow(struct xlb_pkt *p, __u64 now_ns,
				struct xlb_flow **out)
{
	struct xlb_frag_key k;
	struct xlb_frag *fr;
	struct xlb_flow *f;

	frag_key(p, &k);
	fr = bpf_map_lookup_elem(&xlb_frags, &k);
	if (!fr || (__s64)(now_ns - fr->seen_ns) >= (__s64)XLB_FRAG_TIMEOUT_NS)
		return -XLB_STAT_PASS_FRAGMENT;
	p->key.sport = fr->sport;
	p->key.dport = fr->dport;
	f = bpf_map_lookup_elem(&xlb_flows, &p->key);
	if (!f) {
		f = bpf_map_lookup_elem(&xlb_embryos, &p->key);
		if (f && !embryo_partner(&p->key, f))
			f = NULL;
	}
	/* the same connection: not one that took the NAT port (a reply's
	 * key) or the client's tuple over since */
	if (!f || f->rewritten.dport != fr->to_port ||
	    !flow_addr_eq(&f->rewritten.dst, &fr->to))
		return -XLB_STAT_PASS_FRAGMENT;
	*out = f;
	return 0;
}

#endif /* XLB_FRAG_H */
