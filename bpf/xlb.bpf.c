// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlb: XDP full-NAT layer-4 load balancer.
 *
 * One pipeline per packet:
 *   parse -> classify (tracked flow? service? else XDP_PASS untouched)
 *   -> new flow: schedule + NAT port + insert pair
 *   -> FIB lookup -> rewrite + incremental checksums -> XDP_TX / redirect.
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* NAT source ports of the backend leg (host order, inclusive); fixed at
 * load time (xlb run --nat-ports). */
const volatile __u16 nat_port_min = 1024;
const volatile __u16 nat_port_max = 32767;

static __always_inline void count(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&xlb_stats, &reason);

	if (n)
		*n += 1;
}

static __always_inline void count_traffic(void *map, __u32 id, __u32 bytes,
					  bool new_conn)
{
	struct xlb_traffic *t = bpf_map_lookup_elem(map, &id);

	if (!t)
		return;
	t->packets++;
	t->bytes += bytes;
	if (new_conn)
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

/* No tracked flow matched: start one if the packet opens a connection to
 * a service.  Returns the new client->backend entry or NULL + *reason. */
static __always_inline struct xlb_flow *new_flow(struct xlb_pkt *p,
						 __u64 now_ns, int *reason)
{
	struct xlb_service_key skey = {};
	struct flow_new_ctx c = { .pkt = p };
	struct xlb_service *svc;
	struct xlb_flow *f;
	__u32 backend_id;
	int rc;

	skey.vip = p->key.dst;
	skey.port = p->key.dport;
	skey.proto = p->key.proto;
	skey.family = p->key.family;
	svc = bpf_map_lookup_elem(&xlb_services, &skey);
	if (!svc) {
		*reason = -XLB_STAT_PASS_NO_SERVICE;
		return NULL;
	}
	/* Only a SYN opens a TCP connection. */
	if (p->tcp &&
	    (p->tcp_flags & (XLB_TCP_SYN | XLB_TCP_ACK | XLB_TCP_RST)) !=
		    XLB_TCP_SYN) {
		*reason = -XLB_STAT_DROP_NO_FLOW;
		return NULL;
	}
	rc = sched_pick(svc->id, &backend_id);
	if (rc) {
		*reason = rc;
		return NULL;
	}
	c.backend = bpf_map_lookup_elem(&xlb_backends, &backend_id);
	if (!c.backend || !(c.backend->flags & XLB_BACKEND_IN_USE)) {
		*reason = -XLB_STAT_DROP_NO_BACKEND;
		return NULL;
	}
	c.svc = svc;
	c.backend_id = backend_id;
	f = flow_create(&c, nat_port_min, nat_port_max, now_ns, reason);
	if (f && c.created) {
		count(XLB_STAT_NEW_FLOW);
		count_traffic(&xlb_service_stats, f->service_id, 0, true);
		count_traffic(&xlb_backend_stats, f->backend_id, 0, true);
		/* the packet itself is counted by the caller */
		trace_new_flow(p, f, now_ns);
	}
	return f;
}

static __always_inline int xlb_process(struct xdp_md *ctx, struct xlb_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	struct xlb_flow *f = NULL;
	__u64 now_ns;
	__u8 port_bits;
	__u32 dport;
	__u8 *bits;
	int rc;

	p->data_end = (void *)(long)ctx->data_end;
	rc = parse_packet(p, data);
	if (rc)
		return rc;

	/* Cheap pre-filter: only a service port or a NAT port can be ours. */
	dport = bpf_ntohs(p->key.dport);
	bits = bpf_map_lookup_elem(&xlb_service_ports, &dport);
	port_bits = bits ? *bits : 0;
	if (!(port_bits & (p->tcp ? XLB_PORT_TCP : XLB_PORT_UDP)) &&
	    (dport < nat_port_min || dport > nat_port_max))
		return -XLB_STAT_PASS_NO_SERVICE;

	now_ns = bpf_ktime_get_ns();
	f = bpf_map_lookup_elem(&xlb_flows, &p->key);
	if (f && f->dir == XLB_DIR_TO_BACKEND && p->tcp &&
	    (p->tcp_flags & (XLB_TCP_SYN | XLB_TCP_ACK)) == XLB_TCP_SYN &&
	    flow_is_over(f)) {
		/* the client reuses a finished connection's tuple */
		flow_delete_pair(&p->key, f);
		count(XLB_STAT_SYN_RESCHEDULED);
		f = NULL;
	}
	if (!f) {
		f = new_flow(p, now_ns, &rc);
		if (!f)
			return rc;
	}
	flow_touch(f, p, now_ns);
	rc = nat_forward(ctx, p, &f->rewritten);
	if (rc < 0)
		return rc;
	count_traffic(&xlb_service_stats, f->service_id, p->frame_bytes, false);
	count_traffic(&xlb_backend_stats, f->backend_id, p->frame_bytes, false);
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
	if (reason >= XLB_STAT_VERDICT_MAX)
		return XDP_ABORTED; /* cannot happen */
	count(reason);
	return reason >= XLB_STAT_FIRST_DROP ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int xlb_xdp(struct xdp_md *ctx)
{
	struct xlb_pkt pkt = {};

	return xlb_verdict(xlb_process(ctx, &pkt));
}
