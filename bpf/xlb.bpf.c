// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlb: XDP full-NAT layer-4 load balancer.
 *
 * One pipeline per packet:
 *   parse -> classify (tracked flow? service? else XDP_PASS untouched)
 *   -> new flow: schedule + NAT port + insert pair
 *   -> FIB lookup -> rewrite + incremental checksums -> XDP_TX / redirect;
 *   a later IP fragment (no ports) follows its first one's flow (frag.h).
 * Every step returns 0 (or an XDP action) or a negative enum xlb_stat
 * reason; xlb_verdict() is the one place that turns a reason into an XDP
 * verdict and a counter.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xlb_abi.h"
#include "maps.h"
#include "parse.h"
#include "csum.h"
#include "sched.h"
#include "flow.h"
#include "nat.h"
#include "icmp.h"
#include "frag.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* NAT source ports of the backend leg (host order, inclusive); fixed at
 * load time (xlb run --nat-ports). */
const volatile __u16 nat_port_min = 1024;
const volatile __u16 nat_port_max = 32767;

/* A forwarded packet of a service's or backend's flow. */
static __always_inline void count_packet(void *map, __u32 id, __u32 bytes)
{
	struct xlb_traffic *t = bpf_map_lookup_elem(map, &id);

	if (!t)
		return;
	t->packets++;
	t->bytes += bytes;
}

/* A connection scheduled to a service's backend. */
static __always_inline void count_conn(void *map, __u32 id)
{
	struct xlb_traffic *t = bpf_map_lookup_elem(map, &id);

	if (t)
		t->conns++;
}

/* One record per new connection while a tracer holds the lease. */
static __always_inline void trace_new_flow(const struct xlb_pkt *p,
					   const struct xlb_flow *f,
					   __u64 now_ns)
{
	__u32 zero = 0;
	struct xlb_settings *s = bpf_map_lookup_elem(&xlb_settings, &zero);
	struct xlb_event *ev;

	if (!s || now_ns >= s->trace_until_ns)
		return;
	ev = bpf_ringbuf_reserve(&xlb_trace_events, sizeof(*ev), 0);
	if (!ev) {
		count(XLB_STAT_EVENT_LOST);
		return;
	}
	ev->ts_ns = now_ns;
	ev->type = XLB_EVENT_NEW_FLOW;
	ev->backend_id = f->backend_id;
	ev->service_id = f->service_id;
	ev->family = p->key.family;
	ev->proto = p->key.proto;
	ev->client_port = p->key.sport;
	ev->vip_port = p->key.dport;
	ev->nat_port = f->rewritten.sport;
	ev->backend_port = f->rewritten.dport;
	ev->ifindex = 0;
	ev->client = p->key.src;
	ev->vip = p->key.dst;
	ev->backend = f->rewritten.dst;
	bpf_ringbuf_submit(ev, 0);
}

/* Could a client have this source address?  Not 0/8, 127/8, multicast
 * or 240/4 (broadcast included); not ::, ::1 or multicast. */
static __always_inline bool client_source_ok(const struct xlb_flow_key *k)
{
	if (k->family == XLB_FAMILY_V4) {
		__u32 a = bpf_ntohl(k->src.ip4);

		return a >> 24 != 0 && a >> 24 != 127 && a >> 28 < 14;
	}
	if (k->src.bytes[0] == 0xff)
		return false;
	return k->src.ip6[0] || k->src.ip6[1] || k->src.ip6[2] ||
	       bpf_ntohl(k->src.ip6[3]) > 1;
}

/* No tracked flow matched: start one if the packet opens a connection to
 * a service.  Points *out at the new client->backend entry; 0 or -reason.
 * A separate BPF function (own stack frame): the new-flow path's locals
 * do not add to the established path's stack. */
static __noinline int new_flow(struct xlb_pkt *p, struct xlb_scratch *scratch,
			       struct xlb_flow **out)
{
	struct xlb_flow *f = &scratch->flow; /* the entry, built */
	struct xlb_service_key skey = {};
	struct flow_new_ctx c = { .pkt = p };
	struct xlb_service *svc;
	__u32 backend_id;
	__u64 now_ns;
	int rc;

	skey.vip = p->key.dst;
	skey.port = p->key.dport;
	skey.proto = p->key.proto;
	skey.family = p->key.family;
	svc = bpf_map_lookup_elem(&xlb_services, &skey);
	if (!svc)
		return -XLB_STAT_PASS_NO_SERVICE;
	/* A source no client can have: the kernel drops it (martian), and
	 * no connection may answer it (its replies would go to a multicast,
	 * broadcast or loopback address). */
	if (!client_source_ok(&p->key))
		return -XLB_STAT_PASS_MALFORMED;
	/* Only a bare SYN opens a TCP connection (SYN+FIN, SYN+RST and
	 * SYN+ACK do not, as in Linux). */
	if (p->tcp && (p->tcp_flags & (XLB_TCP_SYN | XLB_TCP_ACK | XLB_TCP_RST |
				       XLB_TCP_FIN)) != XLB_TCP_SYN)
		return -XLB_STAT_DROP_NO_FLOW;
	rc = sched_pick(svc, &p->key.src, &backend_id);
	if (rc)
		return rc;
	c.backend = bpf_map_lookup_elem(&xlb_backends, &backend_id);
	if (!c.backend || !(c.backend->flags & XLB_BACKEND_IN_USE))
		return -XLB_STAT_DROP_NO_BACKEND;
	c.svc = svc;
	c.backend_id = backend_id;
	c.rev = &scratch->rev;
	/* the precise clock here: once per connection, and it orders
	 * connections (created_ns) and NAT port takeovers exactly */
	now_ns = bpf_ktime_get_ns();
	rc = flow_create(&c, nat_port_min, nat_port_max, now_ns, f, out);
	if (!rc && c.created) {
		count(XLB_STAT_NEW_FLOW);
		count_conn(&xlb_service_stats, f->service_id);
		count_conn(&xlb_backend_stats, f->backend_id);
		trace_new_flow(p, f, now_ns);
	}
	return rc;
}

/*
 * Find the flow entry of the packet: an established pair in xlb_flows, or
 * a half-open one in xlb_embryos, promoted to xlb_flows when the client
 * speaks after the backend has answered.  Returns 0 with *out pointing at
 * the entry in its map (NULL: no state), 1 if the entry was promoted and
 * copied into scratch->flow, or -reason.  A separate BPF function, so that its
 * keys do not weigh on the caller's stack frame.
 */
static __noinline int flow_find(struct xlb_pkt *p, struct xlb_scratch *scratch,
				struct xlb_flow **out)
{
	struct xlb_flow *f = bpf_map_lookup_elem(&xlb_flows, &p->key);
	struct xlb_flow *partner;
	int rc;

	*out = NULL;
	p->established = false;
	if (f) {
		/* a client SYN reusing a finished connection's tuple */
		if (f->dir == XLB_DIR_TO_BACKEND && pkt_is_bare_syn(p) &&
		    flow_is_over(f, &xlb_flows)) {
			flow_delete_pair(&xlb_flows, &p->key, f);
			count(XLB_STAT_SYN_RESCHEDULED);
			return 0;
		}
		*out = f;
		p->established = true;
		return 0;
	}
	f = bpf_map_lookup_elem(&xlb_embryos, &p->key);
	if (!f)
		return 0;
	partner = embryo_partner(&p->key, f);
	if (!partner) {
		/* A half without its partner.  A client half is stale
		 * (its partner was evicted or taken over): forget it, so
		 * that a SYN starts afresh.  A backend half is left alone:
		 * it may be a new connection's, whose client half another
		 * CPU is about to insert; a stale one gives its NAT port
		 * to the next claim after the grace, or expires.  f may no
		 * longer be the entry at p->key: a takeover on another CPU
		 * frees the backend half it replaces, and that entry's
		 * owner CPU reuses it at once, for the new connection's
		 * client half, while p->key now names the new backend
		 * half.  So delete only an entry still at the key (its dir
		 * read before that check). */
		if (f->dir == XLB_DIR_TO_BACKEND &&
		    bpf_map_lookup_elem(&xlb_embryos, &p->key) == f)
			bpf_map_delete_elem(&xlb_embryos, &p->key);
		return 0;
	}
	if (f->dir != XLB_DIR_TO_BACKEND) {
		*out = f;
		return 0;
	}
	/* a SYN after the backend refused (RST) or a FIN: start afresh,
	 * unless a NAT port takeover on another CPU has the pair (its
	 * client half goes with it: the SYN is dropped, and its
	 * retransmission starts afresh) */
	if (pkt_is_bare_syn(p) && flow_syn_restarts(p, f, partner)) {
		if (!flow_release(partner))
			return -XLB_STAT_DROP_NO_FLOW;
		flow_delete_pair(&xlb_embryos, &p->key, f);
		count(XLB_STAT_SYN_RESCHEDULED);
		return 0;
	}
	if (flow_confirmed(p, partner)) {
		__u64 now_ns = xlb_now_ns();

		/* record this packet's FIN/RST before the copy moves */
		flow_touch(f, p, now_ns, false, NULL);
		rc = flow_promote(p, f, partner, now_ns, scratch);
		if (rc < 0)
			return rc;
		if (rc)
			return 0; /* its NAT port went to a new connection */
		count(XLB_STAT_PROMOTED);
		return 1;
	}
	*out = f;
	return 0;
}

static __always_inline int xlb_process(struct xdp_md *ctx, struct xlb_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	struct xlb_scratch *scratch;
	struct xlb_flow *f;
	__u32 zero = 0;
	__u64 now_ns;
	struct flow_judge judge = { .rst_ok = true, .fin_ok = true };
	bool svc_port;
	__u32 dport;
	__u8 *bits;
	int rc;

	p->data_end = (void *)(long)ctx->data_end;
	rc = parse_packet(p, data);
	if (rc) {
		if (rc != XLB_PARSED_LATER_FRAGMENT)
			return rc;
		/* no ports: its first fragment's flow, unchanged */
		now_ns = xlb_now_ns();
		rc = frag_flow(p, now_ns, &f);
		if (rc)
			return rc;
		goto forward;
	}
	scratch = bpf_map_lookup_elem(&xlb_scratch, &zero);
	if (!scratch)
		return XDP_ABORTED; /* cannot happen: a one-slot array */
	if (p->icmp) {
		rc = icmp_forward(ctx, p, scratch);
		if (rc >= 0)
			count(XLB_STAT_FWD_ICMP);
		return rc;
	}

	/* Cheap pre-filter: only a service port, or a NAT port from a
	 * backend's port (a reply), can be ours. */
	dport = bpf_ntohs(p->key.dport);
	bits = bpf_map_lookup_elem(&xlb_service_ports, &dport);
	svc_port = bits && (*bits & (p->tcp ? XLB_PORT_TCP : XLB_PORT_UDP));
	if (!svc_port) {
		__u32 sport = bpf_ntohs(p->key.sport);

		if (dport < nat_port_min || dport > nat_port_max)
			return -XLB_STAT_PASS_NO_SERVICE;
		bits = bpf_map_lookup_elem(&xlb_service_ports, &sport);
		if (!bits || !(*bits & (p->tcp ? XLB_PORT_BACKEND_TCP :
						 XLB_PORT_BACKEND_UDP)))
			return -XLB_STAT_PASS_NO_SERVICE;
	}

	rc = flow_find(p, scratch, &f);
	if (rc < 0)
		return rc;
	if (rc == 1)
		f = &scratch->flow; /* promoted: forwarded from the copy */
	if (!f) {
		/* not a service port: only a reply could have matched */
		if (!svc_port)
			return -XLB_STAT_PASS_NO_SERVICE;
		rc = new_flow(p, scratch, &f);
		if (rc)
			return rc;
	}
	/* the clock is read only for packets that are ours */
	now_ns = xlb_now_ns();
	if (p->established) {
		flow_judge(p, f, &judge);
		if ((p->tcp_flags & XLB_TCP_RST) && !judge.rst_ok)
			count(XLB_STAT_RST_IGNORED);
	}
	flow_touch(f, p, now_ns, p->established, &judge);
forward:
	rc = nat_forward(ctx, p, f, now_ns);
	if (rc < 0)
		return rc;
	count_packet(&xlb_service_stats, f->service_id, p->frame_bytes);
	count_packet(&xlb_backend_stats, f->backend_id, p->frame_bytes);
	count(f->dir == XLB_DIR_TO_BACKEND ? XLB_STAT_FWD_TO_BACKEND :
					     XLB_STAT_FWD_TO_CLIENT);
	return rc;
}

/* The one place where a reason becomes a verdict and a counter. */
static __always_inline int xlb_verdict(int rc)
{
	__u32 reason;

	if (rc >= 0)
		return rc; /* forwarded: counted by xlb_process */
	reason = -rc;
	if (reason == XLB_STAT_TOO_BIG_SENT) {
		/* dropped, and the frame sent back as an ICMP error */
		count(XLB_STAT_DROP_FIB_FRAG);
		count(reason);
		return XDP_TX;
	}
	if (reason >= XLB_STAT_VERDICT_MAX)
		return XDP_ABORTED; /* cannot happen */
	count(reason);
	return reason >= XLB_STAT_FIRST_DROP ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int xlb_xdp(struct xdp_md *ctx)
{
	struct xlb_pkt pkt = {};
	int rc = xlb_process(ctx, &pkt);

	if (pkt.frag)
		frag_done(&pkt, rc);
	return xlb_verdict(rc);
}
