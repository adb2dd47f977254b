// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Data-path unit tests: the XDP program run through BPF_PROG_TEST_RUN in a
 * private network namespace (fixture.h), loaded with xlb_load() and
 * configured with xlb_service_install().
 *
 * Every case gives an input frame and checks the verdict, the output bytes
 * (expected frame built with pkt.h: translated addresses and ports, TTL - 1,
 * MACs of the static neighbours; untouched frames byte for byte), every
 * checksum of a forwarded frame recomputed from scratch, the deltas of all
 * counters (xlb_stats per reason, xlb_traffic per service and backend,
 * summed over CPUs) and of the number of entries of xlb_flows and of
 * xlb_embryos, separately.  New connections are checked entry by entry:
 * both halves, the NAT port inside the configured range, and the table
 * that holds them.
 *
 * Connection model (struct conn): a new pair is half-open, in xlb_embryos;
 * the backend's first packet marks it answered (the reverse entry's
 * last_seen_ns becomes non-zero) without moving it; the client's next
 * packet that is not a SYN, once answered, moves the pair to xlb_flows and
 * counts `promoted` (even if that packet is then dropped, e.g. TTL 1:
 * promotion happens at the lookup).  A client packet before the answer,
 * a retransmitted SYN, and every backend packet never promote.  do_fwd()
 * and not_fwd() derive the expected promotion, counters and table deltas
 * from this model; the half-open cases check it step by step.
 * One PASS/FAIL/SKIP line per case.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/if_packet.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "sched.h"
#include "tables.h"
#include "xlb_hash.h"
#include "fixture.h"
#include "pkt.h"
#include "vlan.h"
#include "xtest.h"

#define WHY_LEN 512
#define CLIENT_MAC "02:00:00:00:00:fe"
#define IF2 "xlbt2"
#define PEER2 "xlbt3"
#define IF2_MAC "02:00:00:00:02:00"
#define BE13_MAC "02:00:00:00:00:13"
#define BE15_MAC "02:00:00:00:00:15"
#define BE6_15_MAC "02:00:00:00:06:15"
#define BE20_MAC "02:00:00:00:00:20"
/* "VLAN devices" (the kernel here has no 8021q: veths stand in, the FIB
 * does not care): xlbt4 for the clients' VLAN 100, xlbt2 for the
 * backend's VLAN 200 */
#define IF4 "xlbt4"
#define PEER4 "xlbt5"
#define IF4_MAC "02:00:00:00:04:00"
#define VLAN_CLIENT "192.0.2.130"
#define VLAN_CLIENT_MAC "02:00:00:00:01:30"
#define VLAN_BE_MAC "02:00:00:00:01:46"
#define VIP4 "198.51.100.10"
#define VIP6 "2001:db8:100::10"
#define MAX_FLOWS 4096

/* ------------------------------------------------------------------ */
/* Configuration: services (id = index) and their backends             */
/* ------------------------------------------------------------------ */

enum egress { EG_IF0 = 0, EG_IF2 };

struct be_def {
	const char *addr;
	__u16 port;
	__u16 weight;
	const char *mac; /* static neighbour's MAC */
	enum egress egress;
};

struct svc_def {
	const char *vip; /* also the SNAT address */
	__u16 port;
	__u8 proto;
	enum xlb_algo algo;
	int n;
	struct be_def be[3];
};

enum {
	S_TCP,	   /* rr .11:8000 .12:8080 */
	S_UDP,	   /* rr .11:5353 .12:53 */
	S_TCP6,	   /* rr ::11:80 ::12:8080 */
	S_UDP6,	   /* rr ::11:5353 ::12:53 */
	S_ONE,	   /* single backend */
	S_WRR,	   /* wrr 1,2 */
	S_DRAIN,   /* rr 1,1 then 1,0 */
	S_W0,	   /* weight 0 from the start */
	S_RR3,	   /* rr over three backends */
	S_RESCHED, /* SYN after FIN/RST */
	S_UNREACH, /* backend behind an unreachable route */
	S_NONEIGH, /* backend without neighbour entry */
	S_NOROUTE, /* backend without any route */
	S_MTU,	   /* backend behind a route with mtu 1400 */
	S_REDIR,   /* backend on another interface */
	S_NOBE,	   /* only backend has weight 0 */
	S_ONE_B,   /* second service, other backend (NAT range test) */
	S_NONEIGH6, /* UDP over IPv6, backend without neighbour entry */
	S_UDP_ONE, /* UDP, single backend (NAT range test) */
	S_VLAN,	   /* backend on VLAN 200, clients on VLAN 100 */
	S_MTU6,	   /* IPv6 backend behind a route with mtu 1300 */
	S_MH,	   /* mh (Maglev) over three backends, weights 1,1,2 */
	S_MH6,	   /* mh, UDP over IPv6, two backends */
	N_SVC
};

static struct svc_def svcs[N_SVC] = {
	[S_TCP] = { VIP4, 8000, IPPROTO_TCP, XLB_ALGO_RR, 2,
		    { { "198.51.100.11", 8000, 1, FX_BE11_MAC },
		      { "198.51.100.12", 8080, 1, FX_BE12_MAC } } },
	[S_UDP] = { VIP4, 5353, IPPROTO_UDP, XLB_ALGO_RR, 2,
		    { { "198.51.100.11", 5353, 1, FX_BE11_MAC },
		      { "198.51.100.12", 53, 1, FX_BE12_MAC } } },
	[S_TCP6] = { VIP6, 80, IPPROTO_TCP, XLB_ALGO_RR, 2,
		     { { "2001:db8:100::11", 80, 1, FX_BE6_11_MAC },
		       { "2001:db8:100::12", 8080, 1, FX_BE6_12_MAC } } },
	[S_UDP6] = { VIP6, 5353, IPPROTO_UDP, XLB_ALGO_RR, 2,
		     { { "2001:db8:100::11", 5353, 1, FX_BE6_11_MAC },
		       { "2001:db8:100::12", 53, 1, FX_BE6_12_MAC } } },
	[S_ONE] = { VIP4, 9000, IPPROTO_TCP, XLB_ALGO_RR, 1,
		    { { "198.51.100.11", 9000, 1, FX_BE11_MAC } } },
	[S_WRR] = { VIP4, 9001, IPPROTO_TCP, XLB_ALGO_WRR, 2,
		    { { "198.51.100.11", 9001, 1, FX_BE11_MAC },
		      { "198.51.100.12", 9001, 2, FX_BE12_MAC } } },
	[S_DRAIN] = { VIP4, 9002, IPPROTO_TCP, XLB_ALGO_RR, 2,
		      { { "198.51.100.11", 9002, 1, FX_BE11_MAC },
			{ "198.51.100.12", 9002, 1, FX_BE12_MAC } } },
	[S_W0] = { VIP4, 9003, IPPROTO_TCP, XLB_ALGO_RR, 2,
		   { { "198.51.100.11", 9003, 0, FX_BE11_MAC },
		     { "198.51.100.12", 9003, 1, FX_BE12_MAC } } },
	[S_RR3] = { VIP4, 9004, IPPROTO_TCP, XLB_ALGO_RR, 3,
		    { { "198.51.100.11", 7000, 1, FX_BE11_MAC },
		      { "198.51.100.12", 7000, 1, FX_BE12_MAC },
		      { "198.51.100.14", 7000, 1, FX_BE14_MAC } } },
	[S_RESCHED] = { VIP4, 9005, IPPROTO_TCP, XLB_ALGO_RR, 2,
			{ { "198.51.100.11", 7100, 1, FX_BE11_MAC },
			  { "198.51.100.12", 7100, 1, FX_BE12_MAC } } },
	[S_UNREACH] = { VIP4, 9006, IPPROTO_TCP, XLB_ALGO_RR, 1,
			{ { "192.0.2.70", 80, 1, "02:00:00:00:00:70" } } },
	[S_NONEIGH] = { VIP4, 9007, IPPROTO_TCP, XLB_ALGO_RR, 1,
			{ { "198.51.100.13", 80, 1, BE13_MAC } } },
	[S_NOROUTE] = { VIP4, 9008, IPPROTO_TCP, XLB_ALGO_RR, 1,
			{ { "192.0.2.200", 80, 1, "02:00:00:00:00:c8" } } },
	[S_MTU] = { VIP4, 9009, IPPROTO_TCP, XLB_ALGO_RR, 1,
		    { { "198.51.100.15", 80, 1, BE15_MAC } } },
	[S_REDIR] = { VIP4, 9010, IPPROTO_TCP, XLB_ALGO_RR, 1,
		      { { "192.0.2.20", 80, 1, BE20_MAC, EG_IF2 } } },
	[S_NOBE] = { VIP4, 9011, IPPROTO_TCP, XLB_ALGO_RR, 1,
		     { { "198.51.100.11", 9011, 0, FX_BE11_MAC } } },
	[S_ONE_B] = { VIP4, 9012, IPPROTO_TCP, XLB_ALGO_RR, 1,
		      { { "198.51.100.12", 9000, 1, FX_BE12_MAC } } },
	[S_NONEIGH6] = { VIP6, 9013, IPPROTO_UDP, XLB_ALGO_RR, 1,
			 { { "2001:db8:100::13", 53, 1,
			     "02:00:00:00:06:13" } } },
	[S_UDP_ONE] = { VIP4, 9014, IPPROTO_UDP, XLB_ALGO_RR, 1,
			{ { "198.51.100.11", 9014, 1, FX_BE11_MAC } } },
	[S_VLAN] = { VIP4, 9015, IPPROTO_TCP, XLB_ALGO_RR, 1,
		     { { "192.0.2.21", 80, 1, VLAN_BE_MAC, EG_IF2 } } },
	[S_MTU6] = { VIP6, 9016, IPPROTO_TCP, XLB_ALGO_RR, 1,
		     { { "2001:db8:100::15", 80, 1, BE6_15_MAC } } },
	[S_MH] = { VIP4, 9017, IPPROTO_TCP, XLB_ALGO_MH, 3,
		   { { "198.51.100.11", 7200, 1, FX_BE11_MAC },
		     { "198.51.100.12", 7200, 1, FX_BE12_MAC },
		     { "198.51.100.14", 7200, 2, FX_BE14_MAC } } },
	[S_MH6] = { VIP6, 9018, IPPROTO_UDP, XLB_ALGO_MH, 2,
		    { { "2001:db8:100::11", 5353, 1, FX_BE6_11_MAC },
		      { "2001:db8:100::12", 5353, 1, FX_BE6_12_MAC } } },
};

static __u32 first_be[N_SVC]; /* backend id of be[0] of each service */

/* ------------------------------------------------------------------ */
/* Global state                                                        */
/* ------------------------------------------------------------------ */

static struct fx_lb lb_main;
static struct fx_lb *lb = &lb_main; /* the instance cases run against */
static __u16 nat_min = XLB_DEFAULT_NAT_PORT_MIN;
static __u16 nat_max = XLB_DEFAULT_NAT_PORT_MAX;
static int if0, if2;
static __u8 mac_if0[6], mac_if2[6], mac_client[6], mac_gw4[6], mac_gw6[6];

static void report(const char *name, bool ok, const char *why)
{
	if (ok)
		xtest_pass(name);
	else
		xtest_fail(name, "%s", why);
}

static int svc_conf_install(struct fx_lb *l, int id, bool schedule_only)
{
	const struct svc_def *d = &svcs[id];
	struct xlb_backend_conf be[3] = {};
	struct xlb_service_conf c = {};
	int err;

	for (int i = 0; i < d->n; i++) {
		be[i].family = pkt_addr(d->be[i].addr, be[i].addr.bytes);
		be[i].port = d->be[i].port;
		be[i].weight = d->be[i].weight;
	}
	c.family = pkt_addr(d->vip, c.vip.bytes);
	pkt_addr(d->vip, c.snat.bytes);
	c.port = d->port;
	c.proto = d->proto;
	c.algo = d->algo;
	c.first_backend_id = first_be[id];
	c.n_backends = d->n;
	c.backends = be;
	if (schedule_only) {
		err = xlb_schedule_install(&l->m, id, &c, NULL);
		return err < 0 ? err : 0;
	}
	return xlb_service_install(&l->m, id, &c, NULL);
}

/* Backend definition of a backend id (NULL if unknown). */
static const struct be_def *be_of(__u32 id, int *svc)
{
	for (int s = 0; s < N_SVC; s++) {
		if (id >= first_be[s] && id < first_be[s] + svcs[s].n) {
			if (svc)
				*svc = s;
			return &svcs[s].be[id - first_be[s]];
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Running one frame and checking the outcome                          */
/* ------------------------------------------------------------------ */

struct xrun {
	__u8 in[PKT_MAX_FRAME];
	size_t in_len;
	__u8 out[PKT_MAX_FRAME];
	size_t out_len;
	__u32 verdict;
	struct fx_counters before, after;
	long flows_before, flows_after;     /* xlb_flows entries */
	long embryos_before, embryos_after; /* xlb_embryos entries */
};

struct xexp {
	__u32 verdict;
	const __u8 *pkt; /* expected output; NULL: the input, untouched */
	size_t len;
	bool any_bytes;	 /* do not compare the output (dropped after rewrite) */
	bool udp6_zero;	 /* UDP/IPv6 checksum 0 in and out (tunnels) */
	struct fx_counters delta;
	long flows_delta;   /* xlb_flows entries */
	long embryos_delta; /* xlb_embryos entries */
};

static int xrun(struct xrun *r, int ifindex, char *why, size_t n)
{
	int err;

	r->flows_before = fx_map_count(lb->m.flows);
	r->embryos_before = fx_map_count(lb->m.embryos);
	err = fx_counters_read(&lb->m, &r->before);
	if (!err)
		err = fx_run(lb->prog_fd, ifindex, r->in, r->in_len, r->out,
			     sizeof(r->out), &r->out_len, &r->verdict);
	if (!err)
		err = fx_counters_read(&lb->m, &r->after);
	r->flows_after = fx_map_count(lb->m.flows);
	r->embryos_after = fx_map_count(lb->m.embryos);
	if (err)
		snprintf(why, n, "test run / map read failed: %s",
			 strerror(-err));
	return err;
}

/* "drop_ttl+1 new_flow+1": the stats that changed during the run. */
static const char *stat_changes(const struct xrun *r)
{
	static char buf[256];
	size_t used = 0;

	buf[0] = 0;
	for (__u32 s = 0; s < XLB_STAT_MAX && used < sizeof(buf) - 40; s++) {
		long long d = (long long)(r->after.stats[s] - r->before.stats[s]);

		if (d)
			used += snprintf(buf + used, sizeof(buf) - used,
					 "%s%s%+lld", used ? " " : "",
					 fx_stat_name(s), d);
	}
	return used ? buf : "none";
}

static void d_stat(struct fx_counters *d, __u32 stat)
{
	d->stats[stat]++;
}

static void d_traffic(struct fx_counters *d, __u32 svc, __u32 be,
		      size_t bytes, bool packet, bool new_conn)
{
	if (packet) {
		d->svc[svc].packets++;
		d->svc[svc].bytes += bytes;
		d->be[be].packets++;
		d->be[be].bytes += bytes;
	}
	if (new_conn) {
		d->svc[svc].conns++;
		d->be[be].conns++;
	}
}

static void counters_add(struct fx_counters *out, const struct fx_counters *a,
			 const struct fx_counters *d)
{
	for (int s = 0; s < XLB_STAT_MAX; s++)
		out->stats[s] = a->stats[s] + d->stats[s];
	for (int i = 0; i < FX_MAX_SVC; i++) {
		out->svc[i].conns = a->svc[i].conns + d->svc[i].conns;
		out->svc[i].packets = a->svc[i].packets + d->svc[i].packets;
		out->svc[i].bytes = a->svc[i].bytes + d->svc[i].bytes;
	}
	for (int i = 0; i < FX_MAX_BE; i++) {
		out->be[i].conns = a->be[i].conns + d->be[i].conns;
		out->be[i].packets = a->be[i].packets + d->be[i].packets;
		out->be[i].bytes = a->be[i].bytes + d->be[i].bytes;
	}
}

static bool xcheck(const char *name, const struct xrun *r,
		   const struct xexp *e, char *why, size_t n)
{
	struct fx_counters want;
	char cwhy[256];

	if (r->verdict != e->verdict) {
		snprintf(why, n, "verdict %s, expected %s (counters: %s)",
			 fx_verdict_name(r->verdict),
			 fx_verdict_name(e->verdict), stat_changes(r));
		printf("  case %s:\n", name);
		pkt_hexdump(stdout, "input", r->in, r->in_len, -1);
		pkt_hexdump(stdout, "output", r->out, r->out_len, -1);
		return false;
	}
	if (!e->any_bytes) {
		const __u8 *exp = e->pkt ? e->pkt : r->in;
		size_t exp_len = e->pkt ? e->len : r->in_len;
		long off = pkt_first_diff(exp, exp_len, r->out, r->out_len,
					  e->pkt != NULL);

		if (off >= 0) {
			snprintf(why, n, "%s at byte %ld (see dump)",
				 e->pkt ? "output differs from expected" :
					  "frame modified",
				 off);
			printf("  case %s:\n", name);
			pkt_print_diff(stdout, exp, exp_len, r->out, r->out_len,
				       off);
			return false;
		}
	}
	/* (a UDP/IPv6 checksum 0 fails the check: the bytes, compared
	 * above, must carry it unchanged) */
	if ((e->verdict == XDP_TX || e->verdict == XDP_REDIRECT) &&
	    !e->udp6_zero) {
		if (pkt_csum_verify(r->out, r->out_len, cwhy, sizeof(cwhy))) {
			snprintf(why, n, "output checksum: %s", cwhy);
			printf("  case %s:\n", name);
			pkt_hexdump(stdout, "actual", r->out, r->out_len, -1);
			return false;
		}
	}
	counters_add(&want, &r->before, &e->delta);
	if (fx_counters_cmp(&want, &r->after, cwhy, sizeof(cwhy))) {
		snprintf(why, n, "%s (stats changed: %s)", cwhy,
			 stat_changes(r));
		return false;
	}
	if (r->flows_after - r->flows_before != e->flows_delta ||
	    r->embryos_after - r->embryos_before != e->embryos_delta) {
		snprintf(why, n, "xlb_flows entries %ld -> %ld, expected %+ld; "
			 "xlb_embryos entries %ld -> %ld, expected %+ld "
			 "(stats changed: %s)",
			 r->flows_before, r->flows_after, e->flows_delta,
			 r->embryos_before, r->embryos_after, e->embryos_delta,
			 stat_changes(r));
		return false;
	}
	return true;
}

/* Run a frame that must come out untouched with `verdict`, counting
 * `stat` once plus whatever *extra says (may be NULL); xlb_flows changes
 * by flows_delta entries, xlb_embryos not at all. */
static bool same_frame(const char *name, const __u8 *in, size_t len,
		       __u32 verdict, __u32 stat,
		       const struct fx_counters *extra, long flows_delta,
		       char *why, size_t n)
{
	static struct xrun r;
	struct xexp e = { .verdict = verdict, .flows_delta = flows_delta };

	if (extra)
		e.delta = *extra;
	d_stat(&e.delta, stat);
	memcpy(r.in, in, len);
	r.in_len = len;
	if (xrun(&r, if0, why, n))
		return false;
	return xcheck(name, &r, &e, why, n);
}

/* ------------------------------------------------------------------ */
/* Connections: client <-> VIP, SNAT:nat <-> backend                    */
/* ------------------------------------------------------------------ */

enum dir { C2B, B2C };
#define F_NEW 1u     /* the packet must create the connection */
#define F_RESCHED 2u /* ... replacing a finished one (syn_rescheduled) */
#define F_TAKEOVER 8u /* ... on the NAT port of a stale half-open pair */
#define F_TAKEOVER_CLOSED 16u /* ... of a closed, quiet established pair */
#define F_RST_IGNORED 32u /* a RST out of window: forwarded, rst_ignored */

struct conn {
	int svc;
	const char *client;
	__u16 cport;
	int be;		 /* backend id, -1 until the first packet */
	__u16 nat_port;	 /* host order */
	bool answered;	 /* the backend has sent a packet on this pair */
	bool synack_seen; /* ... and one of them was a SYN-ACK */
	bool established; /* pair in xlb_flows (the client spoke after the
			   * answer), else in xlb_embryos */
};

#define CONN(s, addr, port) { .svc = (s), .client = (addr), .cport = (port), .be = -1 }

/* The promotion rule: a packet of the client on a half-open pair that the
 * backend has answered moves the pair to xlb_flows; for TCP it must be an
 * ACK (not a SYN) that acknowledges the backend's SYN-ACK (seq 424242),
 * for UDP any datagram. */
static bool will_promote(const struct conn *c, enum dir dir,
			 const struct pkt_spec *s)
{
	if (dir != C2B || c->be < 0 || c->established || !c->answered)
		return false;
	if (s->proto != IPPROTO_TCP)
		return true;
	return c->synack_seen && !(s->tcp_flags & PKT_TCP_SYN) &&
	       (s->tcp_flags & PKT_TCP_ACK) && s->ack == 424242 + 1;
}

/* The backend's packet s marks c answered (and notes a SYN-ACK). */
static void mark_answered(struct conn *c, const struct pkt_spec *s)
{
	c->answered = true;
	if ((s->tcp_flags & (PKT_TCP_SYN | PKT_TCP_ACK)) ==
	    (PKT_TCP_SYN | PKT_TCP_ACK))
		c->synack_seen = true;
}

static void base_spec(struct pkt_spec *s, __u8 flags, size_t payload,
		      __u8 seed)
{
	pkt_spec_init(s);
	s->tcp_flags = flags;
	/* the backend's packets carry seq 424242 (b2c_spec): a client ACK
	 * acknowledges its SYN-ACK, which the program checks before it
	 * promotes a half-open connection (no blind ACK) */
	if (flags & PKT_TCP_ACK)
		s->ack = 424243;
	s->payload_len = payload;
	s->payload_seed = seed;
}

/* Client -> VIP packet of c. */
static void c2b_spec(const struct conn *c, struct pkt_spec *s, __u8 flags,
		     size_t payload)
{
	const struct svc_def *d = &svcs[c->svc];

	base_spec(s, flags, payload, (__u8)c->cport);
	memcpy(s->dmac, mac_if0, 6);
	memcpy(s->smac, mac_client, 6);
	pkt_spec_addrs(s, c->client, d->vip);
	s->proto = d->proto;
	s->sport = c->cport;
	s->dport = d->port;
}

/* Backend -> SNAT:nat packet of c (c->be known). */
static void b2c_spec(const struct conn *c, struct pkt_spec *s, __u8 flags,
		     size_t payload)
{
	const struct svc_def *d = &svcs[c->svc];
	const struct be_def *b = be_of(c->be, NULL);

	base_spec(s, flags, payload, (__u8)(c->cport + 99));
	s->seq = 424242;
	pkt_mac(b->mac, s->smac);
	memcpy(s->dmac, b->egress == EG_IF2 ? mac_if2 : mac_if0, 6);
	pkt_spec_addrs(s, b->addr, d->vip);
	s->proto = d->proto;
	s->sport = b->port;
	s->dport = c->nat_port;
}

static void key_c2b(const struct conn *c, struct xlb_flow_key *k)
{
	const struct svc_def *d = &svcs[c->svc];
	__u8 a[16], v[16], f = pkt_addr(c->client, a);

	pkt_addr(d->vip, v);
	fx_flow_key(k, f, d->proto, a, c->cport, v, d->port);
}

static void key_b2c(const struct conn *c, __u32 be, __u16 nat,
		    struct xlb_flow_key *k)
{
	const struct svc_def *d = &svcs[c->svc];
	const struct be_def *b = be_of(be, NULL);
	__u8 a[16], v[16], f = pkt_addr(b->addr, a);

	pkt_addr(d->vip, v);
	fx_flow_key(k, f, d->proto, a, b->port, v, nat);
}

static const char *key_str(const struct xlb_flow_key *k)
{
	static char buf[160];
	char s[64], d[64];
	int af = k->family == XLB_FAMILY_V6 ? AF_INET6 : AF_INET;

	inet_ntop(af, k->src.bytes, s, sizeof(s));
	inet_ntop(af, k->dst.bytes, d, sizeof(d));
	snprintf(buf, sizeof(buf), "%s:%u -> %s:%u proto %u", s,
		 ntohs(k->sport), d, ntohs(k->dport), k->proto);
	return buf;
}

/* Find an entry in xlb_flows or xlb_embryos; *established tells which. */
static int find_entry(const struct xlb_flow_key *k, struct xlb_flow *v,
		      bool *established)
{
	*established = !fx_flow_get(lb->m.flows, k, v);
	if (*established)
		return 0;
	return fx_flow_get(lb->m.embryos, k, v);
}

/* The key is in neither table. */
static bool key_absent(const struct xlb_flow_key *k)
{
	struct xlb_flow v;

	return fx_flow_get(lb->m.flows, k, &v) == -ENOENT &&
	       fx_flow_get(lb->m.embryos, k, &v) == -ENOENT;
}

/* Both entries of c, field by field, in xlb_flows (and not in
 * xlb_embryos) if c->established, else in xlb_embryos only; created
 * together; the reverse entry touched (last_seen_ns != 0) exactly when
 * the backend has answered. */
static bool check_pair(const struct conn *c, char *why, size_t n)
{
	const struct svc_def *d = &svcs[c->svc];
	const struct be_def *b = be_of(c->be, NULL);
	struct xlb_flow_key kc, kb, want;
	struct xlb_flow fc, fb, dup;
	__u8 a[16], v[16], ba[16], f;

	const char *table = c->established ? "xlb_flows" : "xlb_embryos";
	bool est_c, est_b;

	key_c2b(c, &kc);
	key_b2c(c, c->be, c->nat_port, &kb);
	if (find_entry(&kc, &fc, &est_c)) {
		snprintf(why, n, "no flow entry for %s", key_str(&kc));
		return false;
	}
	if (find_entry(&kb, &fb, &est_b)) {
		snprintf(why, n, "no reverse entry for %s", key_str(&kb));
		return false;
	}
	if (est_c != c->established || est_b != c->established) {
		snprintf(why, n, "pair not (only) in %s: client entry in %s, "
			 "reverse entry in %s", table,
			 est_c ? "xlb_flows" : "xlb_embryos",
			 est_b ? "xlb_flows" : "xlb_embryos");
		return false;
	}
	if (c->established && (!fx_flow_get(lb->m.embryos, &kc, &dup) ||
			       !fx_flow_get(lb->m.embryos, &kb, &dup))) {
		snprintf(why, n, "pair in xlb_flows, but a half still in "
			 "xlb_embryos");
		return false;
	}
	f = pkt_addr(c->client, a);
	pkt_addr(d->vip, v);
	pkt_addr(b->addr, ba);
	fx_flow_key(&want, f, d->proto, v, c->nat_port, ba, b->port);
	if (memcmp(&fc.rewritten, &want, sizeof(want)) ||
	    fc.dir != XLB_DIR_TO_BACKEND || fc.backend_id != (__u32)c->be ||
	    fc.service_id != c->svc) {
		snprintf(why, n,
			 "client entry: rewritten %s dir %u backend %u "
			 "service %u",
			 key_str(&fc.rewritten), fc.dir, fc.backend_id,
			 fc.service_id);
		return false;
	}
	fx_flow_key(&want, f, d->proto, v, d->port, a, c->cport);
	if (memcmp(&fb.rewritten, &want, sizeof(want)) ||
	    fb.dir != XLB_DIR_TO_CLIENT || fb.backend_id != (__u32)c->be ||
	    fb.service_id != c->svc) {
		snprintf(why, n,
			 "reverse entry: rewritten %s dir %u backend %u "
			 "service %u",
			 key_str(&fb.rewritten), fb.dir, fb.backend_id,
			 fb.service_id);
		return false;
	}
	if (!fc.created_ns || fc.created_ns != fb.created_ns ||
	    !fc.last_seen_ns) {
		snprintf(why, n, "entries not created together: client "
			 "created %llu last seen %llu, reverse created %llu",
			 (unsigned long long)fc.created_ns,
			 (unsigned long long)fc.last_seen_ns,
			 (unsigned long long)fb.created_ns);
		return false;
	}
	if ((fb.last_seen_ns != 0) != c->answered) {
		snprintf(why, n, "reverse entry last_seen_ns %llu, but the "
			 "backend has %sanswered",
			 (unsigned long long)fb.last_seen_ns,
			 c->answered ? "" : "not ");
		return false;
	}
	return true;
}

/* Expected output of a forwarded packet in direction dir. */
static void expect_spec(const struct conn *c, enum dir dir,
			const struct pkt_spec *in, struct pkt_spec *out)
{
	const struct svc_def *d = &svcs[c->svc];
	const struct be_def *b = be_of(c->be, NULL);

	*out = *in;
	out->ttl = in->ttl - 1;
	if (dir == C2B) {
		pkt_spec_addrs(out, d->vip, b->addr);
		out->sport = c->nat_port;
		out->dport = b->port;
		pkt_mac(b->mac, out->dmac);
		memcpy(out->smac, b->egress == EG_IF2 ? mac_if2 : mac_if0, 6);
	} else {
		pkt_spec_addrs(out, d->vip, c->client);
		out->sport = d->port;
		out->dport = c->cport;
		memcpy(out->dmac, out->family == 4 ? mac_gw4 : mac_gw6, 6);
		memcpy(out->smac, mac_if0, 6);
	}
	/* routed between VLANs: the frame leaves tagged with the egress
	 * device's VLAN id, priority kept */
	if (c->svc == S_VLAN) {
		/* one tag: VLAN 100 (clients), 200 (backend); two: 200.30
		 * and 300.40 (test_vlan_routing's map) */
		static const __u16 ids[2][2][2] = { { { 200 }, { 100 } },
						    { { 300, 40 },
						      { 200, 30 } } };
		const __u16 *want = ids[out->n_vlans == 2][dir == B2C];

		for (int i = 0; i < out->n_vlans && i < 2; i++)
			out->vlans[i].tci = (in->vlans[i].tci & 0xf000) |
					    want[i];
		if (dir == B2C) {
			pkt_mac(VLAN_CLIENT_MAC, out->dmac);
			pkt_mac(IF4_MAC, out->smac);
		}
	}
}

/*
 * Send `in` for c in direction dir and expect it forwarded (XDP_TX, or
 * XDP_REDIRECT for a backend on the other interface).  F_NEW: learn the
 * backend and NAT port from the new half-open pair (backend of the
 * service and equal to want_be if >= 0, port in range, both entries
 * right, in xlb_embryos); otherwise they must be unchanged.  Whether the
 * packet promotes the pair follows the model (will_promote): promoted +1,
 * two entries moved from xlb_embryos to xlb_flows.
 */
static bool do_fwd(const char *name, struct conn *c, enum dir dir,
		   const struct pkt_spec *in, unsigned flags, int want_be,
		   char *why, size_t n)
{
	static struct xrun r;
	static __u8 exp_buf[PKT_MAX_FRAME];
	struct xexp e = { .verdict = XDP_TX };
	struct pkt_spec out;
	struct xlb_flow_key k;
	struct xlb_flow f;
	int old_be = c->be, svc;
	__u16 old_nat = c->nat_port;
	bool was_established = c->established;
	const struct be_def *b;
	bool promote = !(flags & F_NEW) && will_promote(c, dir, in);
	__u64 old_created = 0;

	r.in_len = pkt_build(in, r.in, sizeof(r.in));
	if (!r.in_len) {
		snprintf(why, n, "cannot build the input frame");
		return false;
	}
	if (dir == C2B && (flags & F_NEW)) {
		bool est;

		key_c2b(c, &k);
		if (!find_entry(&k, &f, &est))
			old_created = f.created_ns;
	}
	if (xrun(&r, if0, why, n))
		return false;

	if (dir == C2B) {
		bool est;

		key_c2b(c, &k);
		if (find_entry(&k, &f, &est)) {
			snprintf(why, n, "no flow for %s; verdict %s (counters: %s)",
				 key_str(&k), fx_verdict_name(r.verdict),
				 stat_changes(&r));
			return false;
		}
		if ((flags & F_NEW) && old_created &&
		    f.created_ns == old_created) {
			snprintf(why, n, "no new connection: the packet "
				 "followed the existing pair in %s (backend "
				 "%u, NAT port %u; counters: %s)",
				 est ? "xlb_flows" : "xlb_embryos",
				 f.backend_id, ntohs(f.rewritten.sport),
				 stat_changes(&r));
			return false;
		}
		if (flags & F_NEW) {
			c->established = false; /* half-open until promoted */
			c->answered = false;
			c->synack_seen = false;
			c->be = (int)f.backend_id;
			c->nat_port = ntohs(f.rewritten.sport);
			if (!be_of(f.backend_id, &svc) || svc != c->svc) {
				snprintf(why, n, "backend id %u is not one of "
					 "service %d's", f.backend_id, c->svc);
				return false;
			}
			if (want_be >= 0 && c->be != want_be) {
				snprintf(why, n, "scheduled to backend %d (%s), "
					 "expected %d (%s)", c->be,
					 be_of(c->be, NULL)->addr, want_be,
					 be_of(want_be, NULL)->addr);
				return false;
			}
			if (c->nat_port < nat_min || c->nat_port > nat_max) {
				snprintf(why, n, "NAT port %u outside %u-%u",
					 c->nat_port, nat_min, nat_max);
				return false;
			}
		} else if (f.backend_id != (__u32)c->be ||
			   ntohs(f.rewritten.sport) != c->nat_port) {
			snprintf(why, n, "flow moved: backend %d port %u -> "
				 "backend %u port %u", c->be, c->nat_port,
				 f.backend_id, ntohs(f.rewritten.sport));
			return false;
		}
		if (promote)
			c->established = true;
		if (!check_pair(c, why, n))
			return false;
		if (flags & F_RESCHED) {
			struct xlb_flow_key old;

			key_b2c(c, old_be, old_nat, &old);
			if ((old_be != c->be || old_nat != c->nat_port) &&
			    !find_entry(&old, &f, &est)) {
				snprintf(why, n, "old reverse entry %s left "
					 "behind", key_str(&old));
				return false;
			}
		}
	}
	if (dir == B2C) {
		/* the backend's packets mark the pair answered, never move
		 * it */
		mark_answered(c, in);
		if (!check_pair(c, why, n))
			return false;
	}
	b = be_of(c->be, NULL);
	if (dir == C2B && b->egress == EG_IF2 && c->svc != S_VLAN)
		e.verdict = XDP_REDIRECT;
	if (promote) {
		d_stat(&e.delta, XLB_STAT_PROMOTED);
		e.flows_delta += 2;
		e.embryos_delta -= 2;
	}
	expect_spec(c, dir, in, &out);
	e.udp6_zero = in->udp_no_csum && in->family == 6;
	e.len = pkt_build(&out, exp_buf, sizeof(exp_buf));
	e.pkt = exp_buf;
	d_stat(&e.delta, dir == C2B ? XLB_STAT_FWD_TO_BACKEND :
				      XLB_STAT_FWD_TO_CLIENT);
	if (flags & F_NEW)
		d_stat(&e.delta, XLB_STAT_NEW_FLOW);
	if (flags & F_NEW)
		e.embryos_delta += 2;
	if (flags & F_TAKEOVER) {
		/* the stale pair that held the port is removed */
		d_stat(&e.delta, XLB_STAT_PORT_TAKEOVER);
		e.embryos_delta -= 2;
	}
	if (flags & F_TAKEOVER_CLOSED) {
		d_stat(&e.delta, XLB_STAT_PORT_TAKEOVER);
		e.flows_delta -= 2;
	}
	if (flags & F_RST_IGNORED)
		d_stat(&e.delta, XLB_STAT_RST_IGNORED);
	if (flags & F_RESCHED) {
		/* the finished pair goes from the table that held it */
		d_stat(&e.delta, XLB_STAT_SYN_RESCHEDULED);
		if (was_established)
			e.flows_delta -= 2;
		else
			e.embryos_delta -= 2;
	}
	d_traffic(&e.delta, c->svc, c->be, r.in_len, true, flags & F_NEW);
	return xcheck(name, &r, &e, why, n);
}

static bool fwd(const char *name, struct conn *c, enum dir dir,
		const struct pkt_spec *in, unsigned flags, int want_be)
{
	char why[WHY_LEN];
	bool ok = do_fwd(name, c, dir, in, flags, want_be, why, sizeof(why));

	report(name, ok, why);
	return ok;
}

/* Shorthands: a plain packet of c. */
static bool fwd_c2b(const char *name, struct conn *c, __u8 flags,
		    size_t payload, unsigned fl, int want_be)
{
	struct pkt_spec s;

	c2b_spec(c, &s, flags, payload);
	return fwd(name, c, C2B, &s, fl, want_be);
}

static bool fwd_b2c(const char *name, struct conn *c, __u8 flags,
		    size_t payload)
{
	struct pkt_spec s;

	b2c_spec(c, &s, flags, payload);
	return fwd(name, c, B2C, &s, 0, -1);
}

/* A full handshake: SYN (new), SYN-ACK (answered), ACK (promotes). */
static bool handshake(const char *prefix, struct conn *c, int want_be)
{
	char name[96];

	snprintf(name, sizeof(name), "%s_syn", prefix);
	if (!fwd_c2b(name, c, PKT_TCP_SYN, 0, F_NEW, want_be))
		return false;
	snprintf(name, sizeof(name), "%s_synack", prefix);
	if (!fwd_b2c(name, c, PKT_TCP_SYN | PKT_TCP_ACK, 0))
		return false;
	snprintf(name, sizeof(name), "%s_ack_promotes", prefix);
	return fwd_c2b(name, c, PKT_TCP_ACK, 0, 0, -1);
}

#define F_ANY_BYTES 4u /* not_fwd: output not compared (dropped late) */

/* A packet of c in direction dir that must not be forwarded: untouched
 * (unless F_ANY_BYTES), `verdict`, `stat` + 1.  F_NEW: a SYN that creates
 * the (half-open) connection first, counting new_flow, conns and two
 * entries of xlb_embryos.  On an existing pair, the model applies: a
 * packet dropped after the flow lookup (TTL, FIB, redirect) still marks
 * the pair answered (backend) or promotes it (client), and a promotion
 * that finds xlb_flows full (drop_table_full) leaves it half-open. */
static bool not_fwd(const char *name, struct conn *c, enum dir dir,
		    const struct pkt_spec *s, __u32 verdict, __u32 stat,
		    unsigned flags)
{
	static struct xrun r;
	struct xexp e = { .verdict = verdict,
			  .any_bytes = (flags & F_ANY_BYTES) != 0 };
	bool after_lookup = stat >= XLB_STAT_DROP_TTL &&
			    stat < XLB_STAT_VERDICT_MAX;
	bool promote = !(flags & F_NEW) && after_lookup &&
		       will_promote(c, dir, s);
	bool known = c->be >= 0 && !(flags & F_NEW);
	char why[WHY_LEN];
	bool ok;

	r.in_len = pkt_build(s, r.in, sizeof(r.in));
	d_stat(&e.delta, stat);
	ok = !xrun(&r, if0, why, sizeof(why));
	if (ok && (flags & F_NEW)) {
		struct xlb_flow_key k;
		struct xlb_flow f;
		bool est;

		key_c2b(c, &k);
		if (find_entry(&k, &f, &est)) {
			snprintf(why, sizeof(why), "no flow for %s (counters: %s)",
				 key_str(&k), stat_changes(&r));
			ok = false;
		} else {
			c->be = (int)f.backend_id;
			c->nat_port = ntohs(f.rewritten.sport);
			c->established = false;
			c->answered = false;
			c->synack_seen = false;
			d_stat(&e.delta, XLB_STAT_NEW_FLOW);
			d_traffic(&e.delta, c->svc, c->be, 0, false, true);
			e.embryos_delta = 2;
			ok = check_pair(c, why, sizeof(why));
		}
	}
	if (ok && known) {
		if (promote) {
			c->established = true;
			d_stat(&e.delta, XLB_STAT_PROMOTED);
			e.flows_delta = 2;
			e.embryos_delta = -2;
		}
		if (dir == B2C && after_lookup)
			mark_answered(c, s);
		ok = check_pair(c, why, sizeof(why));
	}
	if (ok)
		ok = xcheck(name, &r, &e, why, sizeof(why));
	report(name, ok, why);
	return ok;
}

/* ------------------------------------------------------------------ */
/* Self-tests of the reference (the assertions can fail)               */
/* ------------------------------------------------------------------ */

static void test_reference(void)
{
	/* RFC 1071-style known vector: IPv4 header with checksum 0xb861 */
	static const __u8 known[] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0x45, 0x00,
		0x00, 0x14, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
		0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
	};
	__u8 a[256], b[256], k[sizeof(known)];
	struct pkt_spec s;
	char why[WHY_LEN] = "";
	size_t n;
	long off;
	bool ok = true;

	/* known vector: our sum gives the published checksum */
	memcpy(k, known, sizeof(k));
	k[14 + 3] = 0x73; /* tot_len 0x73 as in the published example */
	pkt_ipv4_fix_csum(k, sizeof(k));
	if (k[24] != 0xb8 || k[25] != 0x61) {
		snprintf(why, sizeof(why), "IPv4 header checksum 0x%02x%02x, "
			 "published 0xb861", k[24], k[25]);
		ok = false;
	}
	report("reference_ipv4_known_vector", ok, why);

	pkt_spec_init(&s);
	pkt_spec_addrs(&s, "203.0.113.1", VIP4);
	s.proto = IPPROTO_TCP;
	s.sport = 1;
	s.dport = 2;
	s.payload_len = 33;
	n = pkt_build(&s, a, sizeof(a));
	memcpy(b, a, n);
	ok = pkt_first_diff(a, n, b, n, false) == -1 &&
	     !pkt_csum_verify(a, n, why, sizeof(why));
	b[60] ^= 0x40;
	off = pkt_first_diff(a, n, b, n, true);
	ok = ok && off == 60 && pkt_csum_verify(b, n, why, sizeof(why)) != 0;
	ok = ok && pkt_first_diff(a, n, b, n - 1, false) == 60;
	ok = ok && pkt_first_diff(a, n, a, n - 1, false) == (long)n - 1;
	report("reference_detects_changed_byte_and_bad_tcp_csum", ok,
	       "a flipped payload byte or a length change went unnoticed");

	/* 0x0000 vs 0xffff: equal for TCP (incremental), not for UDP */
	memcpy(b, a, n);
	a[14 + 20 + 16] = a[14 + 20 + 17] = 0;
	b[14 + 20 + 16] = b[14 + 20 + 17] = 0xff;
	ok = pkt_first_diff(a, n, b, n, true) == -1 &&
	     pkt_first_diff(a, n, b, n, false) == 14 + 20 + 16;
	s.proto = IPPROTO_UDP;
	n = pkt_build(&s, a, sizeof(a));
	memcpy(b, a, n);
	a[14 + 20 + 6] = a[14 + 20 + 7] = 0;
	b[14 + 20 + 6] = b[14 + 20 + 7] = 0xff;
	ok = ok && pkt_first_diff(a, n, b, n, true) == 14 + 20 + 6;
	/* UDP/IPv4 0 = none (valid); UDP/IPv6 0 invalid */
	ok = ok && !pkt_csum_verify(a, n, why, sizeof(why));
	pkt_spec_addrs(&s, "2001:db8:200::1", VIP6);
	n = pkt_build(&s, a, sizeof(a));
	ok = ok && !pkt_csum_verify(a, n, why, sizeof(why));
	a[14 + 40 + 6] = a[14 + 40 + 7] = 0;
	ok = ok && pkt_csum_verify(a, n, why, sizeof(why)) != 0;
	report("reference_csum_zero_rules", ok,
	       "0x0000/0xffff equivalence or UDP zero rule not applied");
}

/* /proc/net/snmp (Name: fields / Name: values) or snmp6 (name value). */
static long long snmp_get(const char *file, const char *group,
			  const char *field)
{
	char line1[2048], line2[2048];
	FILE *f = fopen(file, "r");
	long long v = -1;

	if (!f)
		return -1;
	if (strstr(file, "snmp6")) {
		char name[128];
		long long val;

		while (fscanf(f, "%127s %lld", name, &val) == 2)
			if (!strcmp(name, field))
				v = val;
		fclose(f);
		return v;
	}
	while (fgets(line1, sizeof(line1), f) && fgets(line2, sizeof(line2), f)) {
		char *s1, *s2, *t1, *t2;
		size_t gl = strlen(group);

		if (strncmp(line1, group, gl) || line1[gl] != ':')
			continue;
		t1 = strtok_r(line1, " \n", &s1);
		t2 = strtok_r(line2, " \n", &s2);
		while ((t1 = strtok_r(NULL, " \n", &s1)) &&
		       (t2 = strtok_r(NULL, " \n", &s2)))
			if (!strcmp(t1, field))
				v = atoll(t2);
	}
	fclose(f);
	return v;
}

/*
 * The kernel as an independent checksum oracle: frames from the builder
 * are sent through the peer (xlbt1, AF_PACKET) to xlbt0, where the stack
 * (no XDP attached) verifies them: to a closed port, a good TCP segment
 * is answered with a RST (OutRsts) and a good UDP datagram counts NoPorts;
 * a bad one counts InCsumErrors.  A corrupted frame must be refused, so
 * the oracle is shown to be able to fail.
 */
struct oracle_case {
	const char *name;
	const char *src, *dst;
	__u8 proto;
	size_t payload;
	__u8 ip_opt_len;
	bool corrupt;
};

static bool oracle_send(int fd, const __u8 *frame, size_t len)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_ifindex = fx_ifindex(FX_PEER),
		.sll_halen = 6,
	};

	memcpy(sll.sll_addr, mac_if0, 6);
	return sendto(fd, frame, len, 0, (struct sockaddr *)&sll,
		      sizeof(sll)) == (ssize_t)len;
}

static void test_oracle(void)
{
	static const struct oracle_case cases[] = {
		{ "oracle_kernel_accepts_tcp4_odd", "203.0.113.200", VIP4,
		  IPPROTO_TCP, 1001, 0, false },
		{ "oracle_kernel_accepts_tcp4_options_big", "203.0.113.200",
		  VIP4, IPPROTO_TCP, 2999, 8, false },
		{ "oracle_kernel_accepts_udp4_odd", "203.0.113.200", VIP4,
		  IPPROTO_UDP, 777, 0, false },
		{ "oracle_kernel_accepts_tcp6_odd", "2001:db8:200::200", VIP6,
		  IPPROTO_TCP, 1501, 0, false },
		{ "oracle_kernel_accepts_udp6_odd", "2001:db8:200::200", VIP6,
		  IPPROTO_UDP, 3001, 0, false },
		{ "oracle_kernel_rejects_corrupted_udp4", "203.0.113.200", VIP4,
		  IPPROTO_UDP, 100, 0, true },
		{ "oracle_kernel_rejects_corrupted_tcp6", "2001:db8:200::200",
		  VIP6, IPPROTO_TCP, 100, 0, true },
	};
	int fd = socket(AF_PACKET, SOCK_RAW, 0);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct oracle_case *c = &cases[i];
		bool v6 = strchr(c->src, ':') != NULL;
		/* TCP counts both families in /proc/net/snmp */
		const char *file = v6 && c->proto == IPPROTO_UDP ?
					   "/proc/net/snmp6" :
					   "/proc/net/snmp";
		const char *grp = c->proto == IPPROTO_TCP ? "Tcp" : "Udp";
		const char *good = c->proto == IPPROTO_TCP ? "OutRsts" :
				   v6			   ? "Udp6NoPorts" :
							     "NoPorts";
		const char *bad = c->proto == IPPROTO_TCP ? "InCsumErrors" :
				  v6			  ? "Udp6InCsumErrors" :
							    "InCsumErrors";
		const char *gfile;
		char why[WHY_LEN] = "";
		long long g0, b0, g1 = 0, b1 = 0, h0, h1;

		gfile = file;
		__u8 frame[PKT_MAX_FRAME];
		struct pkt_spec s;
		size_t n;

		if (fd < 0) {
			xtest_skip(c->name, "AF_PACKET socket: %s",
				   strerror(errno));
			continue;
		}
		pkt_spec_init(&s);
		memcpy(s.dmac, mac_if0, 6);
		memcpy(s.smac, mac_client, 6);
		pkt_spec_addrs(&s, c->src, c->dst);
		s.proto = c->proto;
		s.sport = 33000 + i;
		s.dport = 9; /* discard: nothing listens */
		s.tcp_flags = PKT_TCP_ACK | PKT_TCP_PSH;
		s.ack = 1;
		s.payload_len = c->payload;
		s.payload_seed = (__u8)i;
		s.ip_opt_len = c->ip_opt_len;
		n = pkt_build(&s, frame, sizeof(frame));
		if (c->corrupt)
			frame[n - 1] ^= 0x01;
		g0 = snmp_get(gfile, grp, good);
		b0 = snmp_get(file, grp, bad);
		h0 = snmp_get("/proc/net/snmp", "Ip", "InHdrErrors");
		if (g0 < 0 || b0 < 0 || !oracle_send(fd, frame, n)) {
			xtest_skip(c->name, "cannot read SNMP counters or send");
			continue;
		}
		for (int t = 0; t < 200; t++) {
			g1 = snmp_get(gfile, grp, good);
			b1 = snmp_get(file, grp, bad);
			if (g1 != g0 || b1 != b0)
				break;
			usleep(1000);
		}
		h1 = snmp_get("/proc/net/snmp", "Ip", "InHdrErrors");
		if (c->corrupt ? (b1 != b0 + 1 || g1 != g0) :
				 (g1 != g0 + 1 || b1 != b0 || h1 != h0))
			snprintf(why, sizeof(why),
				 "%s %+lld, %s %+lld, Ip InHdrErrors %+lld",
				 good, g1 - g0, bad, b1 - b0, h1 - h0);
		report(c->name, !why[0], why);
	}
	if (fd >= 0)
		close(fd);
}

/* ------------------------------------------------------------------ */
/* Cases                                                               */
/* ------------------------------------------------------------------ */

static void vlan_tags(struct pkt_spec *s, int n)
{
	static const struct pkt_vlan one[] = { { PKT_ETH_P_8021Q, 100 } };
	static const struct pkt_vlan two[] = { { PKT_ETH_P_8021AD, 200 },
					       { PKT_ETH_P_8021Q, 0x2000 | 300 } };
	static const struct pkt_vlan three[] = { { PKT_ETH_P_8021AD, 200 },
						 { PKT_ETH_P_8021Q, 300 },
						 { PKT_ETH_P_8021Q, 400 } };

	s->n_vlans = n;
	memcpy(s->vlans, n == 1 ? one : n == 2 ? two : three,
	       n * sizeof(struct pkt_vlan));
}

static void test_tcp4_flow(void)
{
	static const size_t sizes[] = { 1,    2,    3,	  511,	1000, 1459,
					1460, 1461, 1501, 2047, 2999, 3400 };
	struct conn a = CONN(S_TCP, "203.0.113.1", 40001);
	struct conn b = CONN(S_TCP, "203.0.113.2", 40001);
	struct conn p = CONN(S_TCP, "203.0.113.3", 40002);
	__u32 be0 = first_be[S_TCP];
	struct pkt_spec s;
	char name[64];

	if (!fwd_c2b("tcp4_syn_new_flow", &a, PKT_TCP_SYN, 0, F_NEW, be0))
		return;
	fwd_c2b("tcp4_syn_retransmit_same_flow", &a, PKT_TCP_SYN, 0, 0, -1);
	fwd_b2c("tcp4_reply_synack_stays_half_open", &a,
		PKT_TCP_SYN | PKT_TCP_ACK, 0);
	fwd_c2b("tcp4_syn_retransmit_after_synack_not_promoted", &a,
		PKT_TCP_SYN, 0, 0, -1);
	fwd_c2b("tcp4_handshake_ack_promotes", &a, PKT_TCP_ACK, 0, 0, -1);
	fwd_c2b("tcp4_syn_retransmit_established_same_flow", &a, PKT_TCP_SYN,
		0, 0, -1);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(name, sizeof(name), "tcp4_data_%zu", sizes[i]);
		fwd_c2b(name, &a, PKT_TCP_ACK | PKT_TCP_PSH, sizes[i], 0, -1);
	}
	fwd_b2c("tcp4_reply_data_1", &a, PKT_TCP_ACK | PKT_TCP_PSH, 1);
	fwd_b2c("tcp4_reply_data_1447", &a, PKT_TCP_ACK | PKT_TCP_PSH, 1447);
	fwd_b2c("tcp4_reply_data_3001", &a, PKT_TCP_ACK | PKT_TCP_PSH, 3001);

	c2b_spec(&a, &s, PKT_TCP_ACK, 99);
	s.tcp_opt_len = 12;
	fwd("tcp4_tcp_options_kept", &a, C2B, &s, 0, -1);
	c2b_spec(&a, &s, PKT_TCP_ACK, 64);
	s.frag = PKT_IP_DF;
	s.tos = 0xb8;
	s.ip_id = 0xfedc;
	fwd("tcp4_df_tos_id_kept_not_a_fragment", &a, C2B, &s, 0, -1);
	c2b_spec(&a, &s, PKT_TCP_ACK, 0);
	s.ttl = 2;
	fwd("tcp4_ttl2_leaves_with_ttl1", &a, C2B, &s, 0, -1);

	/* rr: second client goes to the second backend, 8000 -> 8080 */
	fwd_c2b("tcp4_second_client_port_translated", &b, PKT_TCP_SYN, 0,
		F_NEW, be0 + 1);
	fwd_b2c("tcp4_second_client_reply_from_8080", &b,
		PKT_TCP_SYN | PKT_TCP_ACK, 0);
	fwd_c2b("tcp4_first_client_unaffected", &a, PKT_TCP_ACK, 5, 0, -1);

	/* Ethernet padding after the IP packet: kept, not counted in csum */
	c2b_spec(&p, &s, PKT_TCP_SYN, 0);
	s.trailer_len = 6;
	fwd("tcp4_ethernet_padding_kept", &p, C2B, &s, F_NEW, be0);
	b2c_spec(&p, &s, PKT_TCP_SYN | PKT_TCP_ACK, 0);
	s.trailer_len = 6;
	fwd("tcp4_reply_ethernet_padding_kept", &p, B2C, &s, 0, -1);
	/* the promoting packet is forwarded from a copy: same rewrite */
	c2b_spec(&p, &s, PKT_TCP_ACK, 0);
	s.trailer_len = 6;
	fwd("tcp4_promoting_ack_ethernet_padding_kept", &p, C2B, &s, 0, -1);
}

/* The established entry k still holds the next hop the SYN's lookup
 * cached (syn): no FIB lookup since. */
static bool nh_kept(const char *name, const struct xlb_flow_key *k,
		    const struct xlb_flow *syn)
{
	char why[WHY_LEN] = "";
	struct xlb_flow est;

	if (fx_flow_get(lb->m.flows, k, &est))
		snprintf(why, sizeof(why), "%s: no client entry in xlb_flows",
			 key_str(k));
	else if (est.nh_at_ns != syn->nh_at_ns ||
		 memcmp(est.nh.dmac, syn->nh.dmac, 6))
		snprintf(why, sizeof(why),
			 "nh_at_ns %llu, the SYN's %llu: a new FIB lookup",
			 (unsigned long long)est.nh_at_ns,
			 (unsigned long long)syn->nh_at_ns);
	report(name, !why[0], why);
	return !why[0];
}

/*
 * A new connection's SYN is forwarded from its stored client entry, as a
 * retransmission of it is: the next hop it looked up stays cached there
 * and moves into xlb_flows with the handshake's last ACK.  The FIB was
 * asked about a packet of XLB_NEXT_HOP_CHECK_BYTES, so the answer holds
 * for the connection's larger packets too: neither the ACK nor the first
 * request asks the FIB again.  Shown on the wire: after the SYN the
 * backend's neighbour entry moves to another MAC, and the ACK and a
 * full-size request still leave with the one the SYN's lookup found
 * (fwd_c2b expects the backend's configured MAC); and in the entry,
 * which keeps the SYN's lookup time (20 ms and several clock ticks
 * earlier).  test_fib: a path with a smaller MTU.
 */
static void test_next_hop_carried(void)
{
	struct conn c = CONN(S_TCP, "203.0.113.4", 40004);
	char why[WHY_LEN] = "";
	const struct be_def *b;
	struct xlb_flow_key k;
	struct xlb_flow syn;
	__u8 mac[6];

	if (!fwd_c2b("nh_carried_syn", &c, PKT_TCP_SYN, 0, F_NEW, -1))
		return;
	key_c2b(&c, &k);
	b = be_of(c.be, NULL);
	pkt_mac(b->mac, mac);
	if (fx_flow_get(lb->m.embryos, &k, &syn))
		snprintf(why, sizeof(why), "%s: no client entry in xlb_embryos",
			 key_str(&k));
	else if (!syn.nh_at_ns || memcmp(syn.nh.dmac, mac, 6) ||
		 syn.nh.ifindex != (__u32)if0 ||
		 syn.nh_max_bytes != XLB_NEXT_HOP_CHECK_BYTES)
		snprintf(why, sizeof(why),
			 "client entry: nh_at_ns %llu ifindex %u dmac %s "
			 "nh_max_bytes %u",
			 (unsigned long long)syn.nh_at_ns, syn.nh.ifindex,
			 memcmp(syn.nh.dmac, mac, 6) ? "other" : "the backend's",
			 syn.nh_max_bytes);
	report("nh_carried_syn_caches_next_hop", !why[0], why);
	if (why[0])
		return;
	usleep(20000);
	if (fx_sh("ip neigh replace %s lladdr 02:00:00:00:00:99 dev " FX_IF
		  " nud permanent", b->addr)) {
		xtest_fail("nh_carried_neighbour_moved", "ip neigh replace failed");
		return;
	}
	fwd_b2c("nh_carried_synack", &c, PKT_TCP_SYN | PKT_TCP_ACK, 0);
	if (fwd_c2b("nh_carried_ack_leaves_with_cached_mac", &c, PKT_TCP_ACK, 0,
		    0, -1) &&
	    nh_kept("nh_carried_into_xlb_flows_no_fib_lookup", &k, &syn) &&
	    fwd_c2b("nh_carried_full_size_request_leaves_with_cached_mac", &c,
		    PKT_TCP_ACK | PKT_TCP_PSH, 1460, 0, -1))
		nh_kept("nh_carried_full_size_request_no_fib_lookup", &k, &syn);
	if (fx_sh("ip neigh replace %s lladdr %s dev " FX_IF " nud permanent",
		  b->addr, b->mac))
		xtest_fail("nh_carried_neighbour_restored",
			   "ip neigh replace failed");
}

static void test_ttl(void)
{
	struct conn a = CONN(S_TCP, "203.0.113.5", 40005);
	struct conn n = CONN(S_TCP, "203.0.113.6", 40006);
	struct conn v6 = CONN(S_TCP6, "2001:db8:200::5", 40005);
	struct pkt_spec s;

	if (!handshake("ttl_setup", &a, -1))
		return;
	c2b_spec(&a, &s, PKT_TCP_ACK, 10);
	s.ttl = 1;
	not_fwd("ttl1_existing_flow_dropped", &a, C2B, &s, XDP_DROP,
		XLB_STAT_DROP_TTL, 0);
	s.ttl = 0;
	not_fwd("ttl0_existing_flow_dropped", &a, C2B, &s, XDP_DROP,
		XLB_STAT_DROP_TTL, 0);
	b2c_spec(&a, &s, PKT_TCP_ACK, 10);
	s.ttl = 1;
	not_fwd("ttl1_reply_dropped", &a, B2C, &s, XDP_DROP,
		XLB_STAT_DROP_TTL, 0);
	/* a SYN with TTL 1 creates the connection, then is dropped */
	c2b_spec(&n, &s, PKT_TCP_SYN, 0);
	s.ttl = 1;
	not_fwd("ttl1_syn_dropped", &n, C2B, &s, XDP_DROP, XLB_STAT_DROP_TTL,
		F_NEW);
	/* a SYN-ACK with TTL 1 is dropped, but the backend has answered;
	 * the handshake ACK with TTL 1 promotes (at the lookup), then is
	 * dropped */
	b2c_spec(&n, &s, PKT_TCP_SYN | PKT_TCP_ACK, 0);
	s.ttl = 1;
	not_fwd("ttl1_synack_dropped_marks_answered", &n, B2C, &s, XDP_DROP,
		XLB_STAT_DROP_TTL, 0);
	c2b_spec(&n, &s, PKT_TCP_ACK, 0);
	s.ttl = 1;
	not_fwd("ttl1_handshake_ack_promotes_then_dropped", &n, C2B, &s,
		XDP_DROP, XLB_STAT_DROP_TTL, 0);
	fwd_c2b("ttl_promoted_flow_forwards", &n, PKT_TCP_ACK, 3, 0, -1);
	c2b_spec(&v6, &s, PKT_TCP_SYN, 0);
	s.ttl = 1;
	not_fwd("hoplimit1_ipv6_syn_dropped", &v6, C2B, &s, XDP_DROP,
		XLB_STAT_DROP_TTL, F_NEW);
}

/* Frames that are not ours, or not allowed: a table. */
struct raw_case {
	const char *name;
	const char *src, *dst; /* src NULL: ARP request */
	__u8 proto;
	__u16 sport, dport;
	__u8 flags;
	int vlans;
	__u16 frag;
	const char *ext; /* IPv6: "hbh", "frag", "frag_later" */
	size_t payload;
	__u32 verdict, stat;
};

static size_t raw_build(const struct raw_case *c, __u8 *buf, size_t cap)
{
	struct pkt_spec s;
	__u8 arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1 };

	pkt_spec_init(&s);
	memcpy(s.dmac, mac_if0, 6);
	memcpy(s.smac, mac_client, 6);
	if (!c->src) {
		memset(s.dmac, 0xff, 6);
		memcpy(arp + 8, mac_client, 6);
		__u8 ip[16];

		pkt_addr(FX_GW4, ip);
		memcpy(arp + 14, ip, 4);
		pkt_addr(VIP4, ip);
		memcpy(arp + 24, ip, 4);
		s.ethertype = PKT_ETH_P_ARP;
		s.payload = arp;
		s.payload_len = sizeof(arp);
		return pkt_build(&s, buf, cap);
	}
	pkt_spec_addrs(&s, c->src, c->dst);
	s.proto = c->proto;
	s.sport = c->sport;
	s.dport = c->dport;
	s.tcp_flags = c->flags;
	if (c->flags & PKT_TCP_ACK)
		s.ack = 1;
	s.frag = c->frag;
	s.payload_len = c->payload;
	if (c->vlans)
		vlan_tags(&s, c->vlans);
	if (c->ext) {
		s.ip6_ext = true;
		s.ip6_ext_type = strcmp(c->ext, "hbh") ? 44 : 0;
		s.ip6_frag = !strcmp(c->ext, "frag") ? 1 : 0x5a8;
	}
	return pkt_build(&s, buf, cap);
}

static void test_raw_table(void)
{
	static const struct raw_case cases[] = {
		/* not for a service: passed untouched */
		{ "pass_vip_other_port", "203.0.113.50", VIP4, IPPROTO_TCP,
		  40000, 8001, PKT_TCP_SYN, 0, 0, NULL, 0, XDP_PASS,
		  XLB_STAT_PASS_NO_SERVICE },
		{ "pass_other_address_service_port", "203.0.113.50",
		  "198.51.100.99", IPPROTO_TCP, 40000, 8000, PKT_TCP_SYN, 0, 0,
		  NULL, 0, XDP_PASS, XLB_STAT_PASS_NO_SERVICE },
		{ "pass_udp_to_tcp_service_port", "203.0.113.50", VIP4,
		  IPPROTO_UDP, 40000, 8000, 0, 0, 0, NULL, 20, XDP_PASS,
		  XLB_STAT_PASS_NO_SERVICE },
		{ "pass_tcp_to_udp_service_port", "203.0.113.50", VIP4,
		  IPPROTO_TCP, 40000, 5353, PKT_TCP_SYN, 0, 0, NULL, 0,
		  XDP_PASS, XLB_STAT_PASS_NO_SERVICE },
		{ "pass_ipv4_to_ipv6_service_port", "203.0.113.50", VIP4,
		  IPPROTO_TCP, 40000, 80, PKT_TCP_SYN, 0, 0, NULL, 0, XDP_PASS,
		  XLB_STAT_PASS_NO_SERVICE },
		{ "pass_ipv6_vip_other_port", "2001:db8:200::50", VIP6,
		  IPPROTO_TCP, 40000, 81, PKT_TCP_SYN, 0, 0, NULL, 0, XDP_PASS,
		  XLB_STAT_PASS_NO_SERVICE },
		{ "pass_source_port_8000_not_hijacked", "198.51.100.50",
		  "203.0.113.9", IPPROTO_TCP, 8000, 5555,
		  PKT_TCP_SYN | PKT_TCP_ACK, 0, 0, NULL, 0, XDP_PASS,
		  XLB_STAT_PASS_NO_SERVICE },
		{ "pass_backend_to_nat_port_no_flow", "198.51.100.11", VIP4,
		  IPPROTO_TCP, 8000, 20000, PKT_TCP_SYN | PKT_TCP_ACK, 0, 0,
		  NULL, 0, XDP_PASS, XLB_STAT_PASS_NO_SERVICE },
		{ "pass_backend_syn_to_nat_port_no_flow", "198.51.100.11", VIP4,
		  IPPROTO_TCP, 8000, 20001, PKT_TCP_SYN, 0, 0, NULL, 0,
		  XDP_PASS, XLB_STAT_PASS_NO_SERVICE },
		{ "pass_vlan_vip_other_port", "203.0.113.50", VIP4, IPPROTO_TCP,
		  40000, 8001, PKT_TCP_SYN, 1, 0, NULL, 0, XDP_PASS,
		  XLB_STAT_PASS_NO_SERVICE },
		{ "pass_icmp_echo_to_vip", "203.0.113.50", VIP4, IPPROTO_ICMP,
		  7, 0, 0, 0, 0, NULL, 56, XDP_PASS, XLB_STAT_PASS_ICMP },
		{ "pass_icmpv6_echo_to_vip", "2001:db8:200::50", VIP6,
		  IPPROTO_ICMPV6, 7, 0, 0, 0, 0, NULL, 56, XDP_PASS,
		  XLB_STAT_PASS_ICMP },
		{ "pass_gre_to_vip", "203.0.113.50", VIP4, IPPROTO_GRE, 0, 0,
		  0, 0, 0, NULL, 24, XDP_PASS, XLB_STAT_PASS_NOT_L4 },
		{ "pass_arp_request", NULL, NULL, 0, 0, 0, 0, 0, 0, NULL, 0,
		  XDP_PASS, XLB_STAT_PASS_NOT_IP },
		{ "pass_three_vlan_tags", "203.0.113.50", VIP4, IPPROTO_TCP,
		  40000, 8000, PKT_TCP_SYN, 3, 0, NULL, 0, XDP_PASS,
		  XLB_STAT_PASS_NOT_IP },
		{ "pass_ipv6_hop_by_hop_to_vip", "2001:db8:200::50", VIP6,
		  IPPROTO_TCP, 40000, 80, PKT_TCP_SYN, 0, 0, "hbh", 0, XDP_PASS,
		  XLB_STAT_PASS_IPV6_EXT },
		/* fragments of no tracked flow: passed untouched (later
		 * fragments whose first was never forwarded; ICMP) */
		{ "frag_udp_last_offset", "203.0.113.50", VIP4, IPPROTO_UDP,
		  40000, 5353, 0, 0, 185, NULL, 64, XDP_PASS,
		  XLB_STAT_PASS_FRAGMENT },
		{ "frag_tcp_middle_mf_offset", "203.0.113.50", VIP4,
		  IPPROTO_TCP, 40000, 8000, PKT_TCP_ACK, 0, PKT_IP_MF | 10,
		  NULL, 8, XDP_PASS, XLB_STAT_PASS_FRAGMENT },
		{ "frag_later_df_and_mf_vlan", "203.0.113.50", VIP4,
		  IPPROTO_TCP, 40000, 8000, PKT_TCP_ACK, 2,
		  PKT_IP_DF | PKT_IP_MF | 3, NULL, 8, XDP_PASS,
		  XLB_STAT_PASS_FRAGMENT },
		{ "frag_ipv6_later", "2001:db8:200::50", VIP6, IPPROTO_UDP,
		  40000, 5353, 0, 0, 0, "frag_later", 64, XDP_PASS,
		  XLB_STAT_PASS_FRAGMENT },
		{ "frag_icmp_first_mf", "203.0.113.50", VIP4, IPPROTO_ICMP, 7,
		  0, 0, 0, PKT_IP_MF, NULL, 56, XDP_PASS,
		  XLB_STAT_PASS_FRAGMENT },
		{ "frag_ipv6_icmp_first", "2001:db8:200::50", VIP6,
		  IPPROTO_ICMPV6, 7, 0, 0, 0, 0, "frag", 56, XDP_PASS,
		  XLB_STAT_PASS_FRAGMENT },
		/* a first fragment to no service: passed as a whole one is */
		{ "frag_udp_first_other_port", "203.0.113.50", VIP4,
		  IPPROTO_UDP, 40000, 5354, 0, 0, PKT_IP_MF, NULL, 64,
		  XDP_PASS, XLB_STAT_PASS_NO_SERVICE },
		/* TCP that does not open a connection, without state */
		{ "drop_ack_no_flow", "203.0.113.51", VIP4, IPPROTO_TCP, 40000,
		  8000, PKT_TCP_ACK, 0, 0, NULL, 0, XDP_DROP,
		  XLB_STAT_DROP_NO_FLOW },
		{ "drop_synack_no_flow", "203.0.113.51", VIP4, IPPROTO_TCP,
		  40000, 8000, PKT_TCP_SYN | PKT_TCP_ACK, 0, 0, NULL, 0,
		  XDP_DROP, XLB_STAT_DROP_NO_FLOW },
		{ "drop_rst_no_flow", "203.0.113.51", VIP4, IPPROTO_TCP, 40000,
		  8000, PKT_TCP_RST, 0, 0, NULL, 0, XDP_DROP,
		  XLB_STAT_DROP_NO_FLOW },
		{ "drop_syn_rst_no_flow", "203.0.113.51", VIP4, IPPROTO_TCP,
		  40000, 8000, PKT_TCP_SYN | PKT_TCP_RST, 0, 0, NULL, 0,
		  XDP_DROP, XLB_STAT_DROP_NO_FLOW },
		{ "drop_fin_ack_no_flow", "203.0.113.51", VIP4, IPPROTO_TCP,
		  40000, 8000, PKT_TCP_FIN | PKT_TCP_ACK, 0, 0, NULL, 0,
		  XDP_DROP, XLB_STAT_DROP_NO_FLOW },
		{ "drop_data_no_flow", "203.0.113.51", VIP4, IPPROTO_TCP, 40000,
		  8000, PKT_TCP_ACK | PKT_TCP_PSH, 0, 0, NULL, 100, XDP_DROP,
		  XLB_STAT_DROP_NO_FLOW },
		{ "drop_vlan_ack_no_flow", "203.0.113.51", VIP4, IPPROTO_TCP,
		  40000, 8000, PKT_TCP_ACK, 2, 0, NULL, 0, XDP_DROP,
		  XLB_STAT_DROP_NO_FLOW },
		{ "drop_ipv6_ack_no_flow", "2001:db8:200::51", VIP6,
		  IPPROTO_TCP, 40000, 80, PKT_TCP_ACK, 0, 0, NULL, 0, XDP_DROP,
		  XLB_STAT_DROP_NO_FLOW },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct raw_case *c = &cases[i];
		__u8 buf[PKT_MAX_FRAME];
		char why[WHY_LEN];
		size_t n = raw_build(c, buf, sizeof(buf));
		bool ok = n && same_frame(c->name, buf, n, c->verdict, c->stat,
					  NULL, 0, why, sizeof(why));

		if (!n)
			snprintf(why, sizeof(why), "cannot build frame");
		report(c->name, ok, why);
	}
}

/* Every truncation of a frame (14 bytes and more) is passed untouched as
 * malformed, creating nothing. */
static void truncations(const char *name, const struct pkt_spec *s)
{
	__u8 full[PKT_MAX_FRAME];
	size_t n = pkt_build(s, full, sizeof(full));
	char why[WHY_LEN] = "cannot build frame";
	bool ok = n > 14;

	for (size_t cut = 14; ok && cut < n; cut++) {
		char w[WHY_LEN / 2];

		ok = same_frame(name, full, cut, XDP_PASS,
				XLB_STAT_PASS_MALFORMED, NULL, 0, w, sizeof(w));
		if (!ok)
			snprintf(why, sizeof(why), "cut at %zu of %zu: %s", cut,
				 n, w);
	}
	report(name, ok, why);
}

static void test_malformed(void)
{
	struct conn a = CONN(S_TCP, "203.0.113.80", 40080);
	struct conn u = CONN(S_UDP, "203.0.113.80", 40080);
	struct conn t6 = CONN(S_TCP6, "2001:db8:200::80", 40080);
	struct conn u6 = CONN(S_UDP6, "2001:db8:200::80", 40080);
	struct conn live = CONN(S_TCP, "203.0.113.81", 40081);
	__u8 buf[PKT_MAX_FRAME];
	char why[WHY_LEN], name[64];
	struct pkt_spec s;
	size_t n, l3;
	bool ok;

	c2b_spec(&a, &s, PKT_TCP_SYN, 0);
	truncations("truncated_tcp4_syn_every_offset", &s);
	s.ip_opt_len = 40;
	s.tcp_opt_len = 40;
	s.payload_len = 3;
	truncations("truncated_tcp4_options_every_offset", &s);
	c2b_spec(&u, &s, 0, 5);
	truncations("truncated_udp4_every_offset", &s);
	c2b_spec(&t6, &s, PKT_TCP_SYN, 0);
	truncations("truncated_tcp6_syn_every_offset", &s);
	c2b_spec(&u6, &s, 0, 3);
	truncations("truncated_udp6_every_offset", &s);
	c2b_spec(&a, &s, PKT_TCP_SYN, 0);
	vlan_tags(&s, 1);
	truncations("truncated_vlan1_tcp4_every_offset", &s);
	c2b_spec(&t6, &s, PKT_TCP_SYN, 0);
	vlan_tags(&s, 2);
	truncations("truncated_vlan2_tcp6_every_offset", &s);
	/* a truncated packet of a live flow is not forwarded either */
	if (fwd_c2b("truncated_live_flow_setup", &live, PKT_TCP_SYN, 0, F_NEW,
		    -1)) {
		c2b_spec(&live, &s, PKT_TCP_ACK, 40);
		truncations("truncated_live_flow_every_offset", &s);
		b2c_spec(&live, &s, PKT_TCP_ACK, 40);
		truncations("truncated_live_reply_every_offset", &s);
	}

	/* consistent lengths, bad header fields */
	c2b_spec(&a, &s, PKT_TCP_SYN, 0);
	n = pkt_build(&s, buf, sizeof(buf));
	l3 = 14;
	for (int ihl = 0; ihl < 5; ihl++) {
		__u8 f[PKT_MAX_FRAME];

		memcpy(f, buf, n);
		f[l3] = 0x40 | ihl;
		pkt_ipv4_fix_csum(f, n);
		snprintf(name, sizeof(name), "malformed_ipv4_ihl_%d", ihl);
		ok = same_frame(name, f, n, XDP_PASS, XLB_STAT_PASS_MALFORMED,
				NULL, 0, why, sizeof(why));
		report(name, ok, why);
	}
	for (int doff = 0; doff < 5; doff++) {
		__u8 f[PKT_MAX_FRAME];

		memcpy(f, buf, n);
		f[l3 + 20 + 12] = (__u8)(doff << 4);
		snprintf(name, sizeof(name), "malformed_tcp_doff_%d", doff);
		ok = same_frame(name, f, n, XDP_PASS, XLB_STAT_PASS_MALFORMED,
				NULL, 0, why, sizeof(why));
		report(name, ok, why);
	}
	{
		static const struct {
			const char *name;
			size_t off;  /* byte offset from l3 */
			__u8 value;
			bool fix;
		} pokes[] = {
			{ "malformed_ipv4_version_5", 0, 0x55, true },
			{ "malformed_ipv4_version_6_in_ipv4_frame", 0, 0x65,
			  true },
			{ "malformed_ipv4_tot_len_beyond_frame", 3, 41, true },
			{ "malformed_ipv4_tot_len_below_ihl", 3, 19, true },
			{ "malformed_ipv4_tot_len_zero", 3, 0, true },
			{ "malformed_tcp_doff_15_beyond_frame", 32, 0xf0,
			  false },
		};

		for (size_t i = 0; i < sizeof(pokes) / sizeof(pokes[0]); i++) {
			__u8 f[PKT_MAX_FRAME];

			memcpy(f, buf, n);
			f[l3 + pokes[i].off] = pokes[i].value;
			if (pokes[i].fix)
				pkt_ipv4_fix_csum(f, n);
			ok = same_frame(pokes[i].name, f, n, XDP_PASS,
					XLB_STAT_PASS_MALFORMED, NULL, 0, why,
					sizeof(why));
			report(pokes[i].name, ok, why);
		}
	}
	/* IHL 15 claimed, only 20 header bytes + TCP in the packet */
	{
		__u8 f[PKT_MAX_FRAME];

		memcpy(f, buf, n);
		f[l3] = 0x4f;
		pkt_ipv4_fix_csum(f, n);
		ok = same_frame("malformed_ipv4_ihl_15_beyond_tot_len", f, n,
				XDP_PASS, XLB_STAT_PASS_MALFORMED, NULL, 0, why,
				sizeof(why));
		report("malformed_ipv4_ihl_15_beyond_tot_len", ok, why);
	}
	/* L4 header cut, IP length consistent with the cut */
	{
		__u8 f[PKT_MAX_FRAME];

		memcpy(f, buf, n);
		f[l3 + 3] = 20 + 19;
		pkt_ipv4_fix_csum(f, n);
		ok = same_frame("malformed_tcp_header_cut_ip_consistent", f,
				14 + 39, XDP_PASS, XLB_STAT_PASS_MALFORMED,
				NULL, 0, why, sizeof(why));
		report("malformed_tcp_header_cut_ip_consistent", ok, why);
	}
	c2b_spec(&u, &s, 0, 0);
	n = pkt_build(&s, buf, sizeof(buf));
	buf[l3 + 3] = 20 + 7;
	pkt_ipv4_fix_csum(buf, n);
	ok = same_frame("malformed_udp_header_cut_ip_consistent", buf, 14 + 27,
			XDP_PASS, XLB_STAT_PASS_MALFORMED, NULL, 0, why,
			sizeof(why));
	report("malformed_udp_header_cut_ip_consistent", ok, why);

	c2b_spec(&t6, &s, PKT_TCP_SYN, 0);
	n = pkt_build(&s, buf, sizeof(buf));
	buf[l3 + 5] = 21; /* payload_len 21 > 20 present */
	ok = same_frame("malformed_ipv6_payload_len_beyond_frame", buf, n,
			XDP_PASS, XLB_STAT_PASS_MALFORMED, NULL, 0, why,
			sizeof(why));
	report("malformed_ipv6_payload_len_beyond_frame", ok, why);
	buf[l3 + 5] = 20;
	buf[l3] = 0x45; /* version 4 in an IPv6 frame */
	ok = same_frame("malformed_ipv6_version_4_in_ipv6_frame", buf, n,
			XDP_PASS, XLB_STAT_PASS_MALFORMED, NULL, 0, why,
			sizeof(why));
	report("malformed_ipv6_version_4_in_ipv6_frame", ok, why);
	buf[l3] = 0x60;
	buf[l3 + 5] = 19;
	ok = same_frame("malformed_ipv6_tcp_header_cut_consistent", buf, n - 1,
			XDP_PASS, XLB_STAT_PASS_MALFORMED, NULL, 0, why,
			sizeof(why));
	report("malformed_ipv6_tcp_header_cut_consistent", ok, why);

	/*
	 * The IP length says there is no L4 header, but the frame carries
	 * one in its Ethernet padding: the L4 header lies outside the IP
	 * packet, so the packet is inconsistent and must not open a flow.
	 */
	c2b_spec(&a, &s, PKT_TCP_SYN, 0);
	n = pkt_build(&s, buf, sizeof(buf));
	buf[l3 + 3] = 20;
	pkt_ipv4_fix_csum(buf, n);
	ok = same_frame("malformed_tcp_header_outside_ipv4_tot_len", buf, n,
			XDP_PASS, XLB_STAT_PASS_MALFORMED, NULL, 0, why,
			sizeof(why));
	report("malformed_tcp_header_outside_ipv4_tot_len", ok, why);
	c2b_spec(&t6, &s, PKT_TCP_SYN, 0);
	n = pkt_build(&s, buf, sizeof(buf));
	buf[l3 + 5] = 0;
	ok = same_frame("malformed_tcp_header_outside_ipv6_payload_len", buf,
			n, XDP_PASS, XLB_STAT_PASS_MALFORMED, NULL, 0, why,
			sizeof(why));
	report("malformed_tcp_header_outside_ipv6_payload_len", ok, why);
}

/* Make the last two payload bytes (len even) such that a full
 * recomputation of the translated datagram's UDP checksum gives 0: the
 * program must then send 0xffff.  Returns false if that failed. */
static bool udp_payload_to_zero(const struct conn *c, enum dir dir,
				struct pkt_spec *in, __u8 *payload, size_t len)
{
	static __u8 f[PKT_MAX_FRAME];
	struct pkt_spec out;
	size_t n;
	int sum;

	for (size_t i = 0; i < len; i++)
		payload[i] = (__u8)(i * 13 + 5);
	payload[len - 2] = payload[len - 1] = 0;
	in->payload = payload;
	in->payload_len = len;
	expect_spec(c, dir, in, &out);
	n = pkt_build(&out, f, sizeof(f));
	sum = pkt_l4_csum_compute(f, n);
	if (sum < 0)
		return false;
	payload[len - 2] = (__u8)(sum >> 8);
	payload[len - 1] = (__u8)sum;
	n = pkt_build(&out, f, sizeof(f));
	/* full recomputation 0; the builder (like the program) writes 0xffff */
	return pkt_l4_csum_compute(f, n) == 0 && f[n - len - 2] == 0xff &&
	       f[n - len - 1] == 0xff;
}

static void udp_zero_case(const char *name, struct conn *c, enum dir dir)
{
	__u8 payload[64];
	struct pkt_spec s;

	if (dir == C2B)
		c2b_spec(c, &s, 0, 0);
	else
		b2c_spec(c, &s, 0, 0);
	if (!udp_payload_to_zero(c, dir, &s, payload, sizeof(payload))) {
		xtest_fail(name, "could not construct a datagram whose "
			   "translated checksum computes to 0");
		return;
	}
	fwd(name, c, dir, &s, 0, -1);
}

/* A SYN to a service from a source no client can have: passed to the
 * kernel (which drops martians), untouched, counted pass_malformed, and
 * no connection (its replies would go to a multicast, broadcast or
 * loopback address).  BPF_PROG_TEST_RUN only: nothing is sent. */
static void test_martian_sources(void)
{
	static const struct {
		const char *name, *src;
		int svc;
	} cases[] = {
		{ "martian_source_multicast4_passed", "224.0.0.5", S_TCP },
		{ "martian_source_broadcast4_passed", "255.255.255.255", S_TCP },
		{ "martian_source_class_e_passed", "240.0.0.1", S_TCP },
		{ "martian_source_loopback4_passed", "127.0.0.1", S_TCP },
		{ "martian_source_this_network_passed", "0.0.0.1", S_TCP },
		{ "martian_source_multicast6_passed", "ff02::1", S_TCP6 },
		{ "martian_source_loopback6_passed", "::1", S_TCP6 },
		{ "martian_source_unspecified6_passed", "::", S_TCP6 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conn c = CONN(cases[i].svc, cases[i].src, 47000);
		struct pkt_spec s;

		c2b_spec(&c, &s, PKT_TCP_SYN, 0);
		not_fwd(cases[i].name, &c, C2B, &s, XDP_PASS,
			XLB_STAT_PASS_MALFORMED, 0);
	}
}

static void test_udp(void)
{
	struct conn u1 = CONN(S_UDP, "203.0.113.60", 33001);
	struct conn u2 = CONN(S_UDP, "203.0.113.61", 33002);
	struct conn u6 = CONN(S_UDP6, "2001:db8:200::60", 33003);
	struct conn u6z = CONN(S_UDP6, "2001:db8:200::61", 33004);
	struct pkt_spec s;

	if (fwd_c2b("udp4_new_flow", &u1, 0, 30, F_NEW, first_be[S_UDP])) {
		fwd_c2b("udp4_second_datagram_same_flow", &u1, 0, 1473, 0, -1);
		fwd_b2c("udp4_reply", &u1, 0, 100);
		fwd_b2c("udp4_reply_odd_2001", &u1, 0, 2001);
		udp_zero_case("udp4_csum_computing_to_zero_sent_as_ffff", &u1,
			      C2B);
		udp_zero_case("udp4_reply_csum_computing_to_zero_sent_as_ffff",
			      &u1, B2C);
	}
	c2b_spec(&u2, &s, 0, 41);
	s.udp_no_csum = true;
	if (fwd("udp4_csum_zero_new_flow_stays_zero", &u2, C2B, &s, F_NEW,
		first_be[S_UDP] + 1)) {
		b2c_spec(&u2, &s, 0, 41);
		s.udp_no_csum = true;
		fwd("udp4_csum_zero_reply_stays_zero", &u2, B2C, &s, 0, -1);
		c2b_spec(&u2, &s, 0, 0);
		s.udp_no_csum = true;
		fwd("udp4_csum_zero_empty_payload", &u2, C2B, &s, 0, -1);
	}
	if (fwd_c2b("udp6_new_flow", &u6, 0, 30, F_NEW, first_be[S_UDP6])) {
		fwd_c2b("udp6_datagram_3001", &u6, 0, 3001, 0, -1);
		fwd_b2c("udp6_reply", &u6, 0, 511);
		udp_zero_case("udp6_csum_computing_to_zero_sent_as_ffff", &u6,
			      C2B);
		udp_zero_case("udp6_reply_csum_computing_to_zero_sent_as_ffff",
			      &u6, B2C);
	}
	/* IPv6 zero-checksum UDP (RFC 6935/6936 tunnels): stays 0, where
	 * an update would make it a wrong sum */
	c2b_spec(&u6z, &s, 0, 50);
	s.udp_no_csum = true;
	if (fwd("udp6_csum_zero_new_flow_stays_zero", &u6z, C2B, &s, F_NEW,
		-1)) {
		b2c_spec(&u6z, &s, 0, 50);
		s.udp_no_csum = true;
		fwd("udp6_csum_zero_reply_stays_zero", &u6z, B2C, &s, 0, -1);
	}
}

/* ------------------------------------------------------------------ */
/* IP fragments of tracked flows                                       */
/* ------------------------------------------------------------------ */

/* Learn c's new connection from its client entry (as do_fwd does). */
static bool learn_new(struct conn *c, char *why, size_t n)
{
	struct xlb_flow_key k;
	struct xlb_flow f;
	bool est;

	key_c2b(c, &k);
	if (find_entry(&k, &f, &est)) {
		snprintf(why, n, "no flow for %s", key_str(&k));
		return false;
	}
	c->be = (int)f.backend_id;
	c->nat_port = ntohs(f.rewritten.sport);
	c->established = c->answered = c->synack_seen = false;
	return true;
}

/*
 * The datagram s of c in direction dir, sent as two fragments (split at
 * byte `at` of its IP payload, identification id): each must come out as
 * the same split of the whole datagram's expected rewrite (so the first
 * fragment's L4 checksum is the whole datagram's, updated), counted as
 * forwarded, the later one as frag_forwarded too.  F_NEW: the first
 * fragment opens the connection.  A client datagram on an answered
 * half-open pair promotes it, as a whole one does.
 */
static bool do_frag_fwd(const char *name, struct conn *c, enum dir dir,
			const struct pkt_spec *s, size_t at, __u32 id,
			unsigned flags, char *why, size_t n)
{
	static __u8 whole[PKT_MAX_FRAME], exp_whole[PKT_MAX_FRAME];
	static __u8 exp1[PKT_MAX_FRAME], exp2[PKT_MAX_FRAME];
	static struct xrun r1, r2;
	struct xexp e1 = { 0 }, e2 = { 0 };
	bool promote = !(flags & F_NEW) && will_promote(c, dir, s);
	struct pkt_spec out;
	size_t len;

	len = pkt_build(s, whole, sizeof(whole));
	if (!len || pkt_fragment(whole, len, at, id, r1.in, &r1.in_len, r2.in,
				 &r2.in_len)) {
		snprintf(why, n, "cannot build the fragments");
		return false;
	}
	if (xrun(&r1, if0, why, n))
		return false;
	if ((flags & F_NEW) && !learn_new(c, why, n))
		return false;
	if (xrun(&r2, if0, why, n))
		return false;
	if (promote)
		c->established = true;
	if (dir == B2C)
		mark_answered(c, s);
	if (!check_pair(c, why, n))
		return false;
	expect_spec(c, dir, s, &out);
	len = pkt_build(&out, exp_whole, sizeof(exp_whole));
	if (pkt_fragment(exp_whole, len, at, id, exp1, &e1.len, exp2,
			 &e2.len)) {
		snprintf(why, n, "cannot build the expected fragments");
		return false;
	}
	e1.pkt = exp1;
	e2.pkt = exp2;
	e1.verdict = e2.verdict =
		dir == C2B && be_of(c->be, NULL)->egress == EG_IF2 ?
			XDP_REDIRECT :
			XDP_TX;
	d_stat(&e1.delta, dir == C2B ? XLB_STAT_FWD_TO_BACKEND :
				       XLB_STAT_FWD_TO_CLIENT);
	e2.delta = e1.delta;
	d_stat(&e2.delta, XLB_STAT_FRAG_FORWARDED);
	d_traffic(&e1.delta, c->svc, c->be, r1.in_len, true, flags & F_NEW);
	d_traffic(&e2.delta, c->svc, c->be, r2.in_len, true, false);
	if (flags & F_NEW) {
		d_stat(&e1.delta, XLB_STAT_NEW_FLOW);
		e1.embryos_delta = 2;
	}
	if (promote) {
		d_stat(&e1.delta, XLB_STAT_PROMOTED);
		e1.flows_delta = 2;
		e1.embryos_delta = -2;
	}
	if (!xcheck(name, &r1, &e1, why, n)) {
		strncat(why, " (first fragment)", n - strlen(why) - 1);
		return false;
	}
	if (!xcheck(name, &r2, &e2, why, n)) {
		strncat(why, " (later fragment)", n - strlen(why) - 1);
		return false;
	}
	return true;
}

static bool frag_fwd_spec(const char *name, struct conn *c, enum dir dir,
			  const struct pkt_spec *s, size_t at, __u32 id,
			  unsigned flags)
{
	char why[WHY_LEN];
	bool ok = do_frag_fwd(name, c, dir, s, at, id, flags, why, sizeof(why));

	report(name, ok, why);
	return ok;
}

static bool frag_fwd(const char *name, struct conn *c, enum dir dir,
		     __u8 tcp_flags, size_t payload, size_t at, __u32 id,
		     unsigned flags)
{
	struct pkt_spec s;

	if (dir == C2B)
		c2b_spec(c, &s, tcp_flags, payload);
	else
		b2c_spec(c, &s, tcp_flags, payload);
	return frag_fwd_spec(name, c, dir, &s, at, id, flags);
}

/* The two fragments of the datagram s, split at 1480 (IPv4) or 1448
 * (IPv6) bytes of its IP payload. */
static bool frag_split(const struct pkt_spec *s, __u32 id, __u8 *a,
		       size_t *alen, __u8 *b, size_t *blen)
{
	static __u8 whole[PKT_MAX_FRAME];
	size_t len = pkt_build(s, whole, sizeof(whole));

	return len && !pkt_fragment(whole, len, s->family == 4 ? 1480 : 1448,
				    id, a, alen, b, blen);
}

/* ... of c's client datagram of `payload` bytes. */
static bool frag_pair(const struct conn *c, size_t payload, __u32 id,
		      __u8 *a, size_t *alen, __u8 *b, size_t *blen)
{
	struct pkt_spec s;

	c2b_spec(c, &s, 0, payload);
	return frag_split(&s, id, a, alen, b, blen);
}

/* A later fragment that is not followed: passed untouched. */
static void frag_passed(const char *name, const __u8 *f, size_t len)
{
	char why[WHY_LEN] = "";
	bool ok = same_frame(name, f, len, XDP_PASS, XLB_STAT_PASS_FRAGMENT,
			     NULL, 0, why, sizeof(why));

	report(name, ok, why);
}

/* The datagram s (split at 1480) whose first fragment is not forwarded
 * (verdict, stat: untouched): its later fragment is passed. */
static void frag_first_stopped(const char *first_name, const char *later_name,
			       const struct pkt_spec *s, __u32 id,
			       __u32 verdict, __u32 stat)
{
	static __u8 a[PKT_MAX_FRAME], b[PKT_MAX_FRAME];
	char why[WHY_LEN] = "cannot build the fragments";
	size_t alen, blen;
	bool ok = frag_split(s, id, a, &alen, b, &blen) &&
		  same_frame(first_name, a, alen, verdict, stat, NULL, 0, why,
			     sizeof(why));

	report(first_name, ok, why);
	if (ok)
		frag_passed(later_name, b, blen);
}

/* Age the xlb_frags record of c's client datagram id by ns. */
static int frag_age(const struct conn *c, __u32 id, __u64 ns)
{
	int fd = bpf_map__fd(lb->skel->maps.xlb_frags);
	struct xlb_flow_key k;
	struct xlb_frag_key fk = { 0 };
	struct xlb_frag v;

	key_c2b(c, &k);
	fk.src = k.src;
	fk.dst = k.dst;
	fk.proto = k.proto;
	fk.family = k.family;
	/* as it lies in the packet: IPv4's 16 bits, IPv6's 32 */
	fk.id = k.family == XLB_FAMILY_V4 ? (__be32)htons((__u16)id) : htonl(id);
	if (bpf_map_lookup_elem(fd, &fk, &v))
		return -errno;
	v.seen_ns -= ns;
	return bpf_map_update_elem(fd, &fk, &v, BPF_EXIST) ? -errno : 0;
}

static void test_fragments(void)
{
	struct conn u = CONN(S_UDP, "203.0.113.90", 34001);
	struct conn u2 = CONN(S_UDP, "203.0.113.90", 34011);
	struct conn u6 = CONN(S_UDP6, "2001:db8:200::90", 34002);
	struct conn t = CONN(S_TCP, "203.0.113.91", 34003);
	struct conn late = CONN(S_UDP, "203.0.113.92", 34004);
	/* the same source port as late's: only the address tells them
	 * apart */
	struct conn other = CONN(S_UDP, "203.0.113.93", 34004);
	static __u8 a[PKT_MAX_FRAME], b[PKT_MAX_FRAME];
	size_t alen, blen;
	struct pkt_spec s;

	/* a datagram's first fragment opens the connection, the later
	 * one follows; the backend's large answer; the client again
	 * (promotes the pair) */
	if (frag_fwd("frag4_udp_first_fragment_opens_flow", &u, C2B, 0, 2000,
		     1480, 0x1234, F_NEW)) {
		frag_fwd("frag4_udp_reply_fragments", &u, B2C, 0, 3000, 1480,
			 0x4321, 0);
		frag_fwd("frag4_udp_fragments_promote", &u, C2B, 0, 1600, 1480,
			 0x1235, 0);
		frag_fwd("frag4_udp_established_reply", &u, B2C, 0, 1500, 1480,
			 0x4322, 0);
	}
	/* another flow of the same client reuses the identification: its
	 * record replaces the first one's, and its later fragment goes to
	 * its own flow */
	if (u.be >= 0 && fwd_c2b("frag4_same_client_flow", &u2, 0, 20, F_NEW,
				 -1))
		frag_fwd("frag4_udp_id_reused_other_flow", &u2, C2B, 0, 2500,
			 1480, 0x1234, 0);
	if (frag_fwd("frag6_udp_first_fragment_opens_flow", &u6, C2B, 0, 3000,
		     1448, 0x89abcdef, F_NEW)) {
		frag_fwd("frag6_udp_reply_fragments", &u6, B2C, 0, 2000, 1448,
			 0x1020304, 0);
		frag_fwd("frag6_udp_fragments_promote", &u6, C2B, 0, 1600,
			 1448, 0x89abcdf0, 0);
	}
	/* a TCP segment fragmented on the way (a router, no DF) */
	if (handshake("frag4_tcp_setup", &t, -1)) {
		frag_fwd("frag4_tcp_segment_fragments", &t, C2B, PKT_TCP_ACK,
			 2000, 1480, 0x777, 0);
		frag_fwd("frag4_tcp_reply_fragments", &t, B2C, PKT_TCP_ACK,
			 2000, 1480, 0x778, 0);
	}

	/* a later fragment before its first one: passed (xlb does not
	 * reassemble); then the datagram in order goes */
	fwd_c2b("frag4_late_flow", &late, 0, 20, F_NEW, -1);
	if (frag_pair(&late, 2000, 0x99, a, &alen, b, &blen)) {
		frag_passed("frag4_later_before_first_passed", b, blen);
		frag_fwd("frag4_then_in_order", &late, C2B, 0, 2000, 1480, 0x99,
			 0);
	}
	/* not the recorded datagram: another identification, another
	 * client with the same one */
	if (frag_pair(&late, 2000, 0x9a, a, &alen, b, &blen))
		frag_passed("frag4_other_id_passed", b, blen);
	fwd_c2b("frag4_other_client_flow", &other, 0, 20, F_NEW, -1);
	if (frag_pair(&other, 2000, 0x99, a, &alen, b, &blen))
		frag_passed("frag4_other_client_same_id_passed", b, blen);
	/* a first fragment not forwarded (to no service; dropped) removes
	 * the record of an earlier datagram with the same identification:
	 * its later fragment does not follow that datagram's flow */
	if (frag_fwd("frag4_recorded", &late, C2B, 0, 2000, 1480, 0x9c, 0)) {
		c2b_spec(&late, &s, 0, 2000);
		s.dport = 5354; /* no service */
		frag_first_stopped("frag4_first_to_no_service_passed",
				   "frag4_its_later_fragment_passed", &s, 0x9c,
				   XDP_PASS, XLB_STAT_PASS_NO_SERVICE);
	}
	if (frag_fwd("frag4_recorded_again", &late, C2B, 0, 2000, 1480, 0x9d,
		     0)) {
		c2b_spec(&late, &s, 0, 2000);
		s.ttl = 1;
		frag_first_stopped("frag4_first_dropped_ttl",
				   "frag4_later_of_dropped_first_passed", &s,
				   0x9d, XDP_DROP, XLB_STAT_DROP_TTL);
	}
	/* tagged frames; a UDP checksum 0 (none) stays 0 */
	c2b_spec(&late, &s, 0, 2000);
	vlan_tags(&s, 1);
	frag_fwd_spec("frag4_vlan_tagged", &late, C2B, &s, 1480, 0xa0, 0);
	c2b_spec(&late, &s, 0, 2000);
	s.udp_no_csum = true;
	frag_fwd_spec("frag4_udp_no_checksum_kept", &late, C2B, &s, 1480, 0xa1,
		      0);
	/* the connection gone (expired), its record not: passed */
	if (frag_fwd("frag4_other_client_datagram", &other, C2B, 0, 2000, 1480,
		     0xa2, 0) &&
	    frag_pair(&other, 2000, 0xa2, a, &alen, b, &blen)) {
		struct xlb_flow_key k;

		key_c2b(&other, &k);
		bpf_map_delete_elem(lb->m.embryos, &k);
		bpf_map_delete_elem(lb->m.flows, &k);
		key_b2c(&other, other.be, other.nat_port, &k);
		bpf_map_delete_elem(lb->m.embryos, &k);
		bpf_map_delete_elem(lb->m.flows, &k);
		frag_passed("frag4_flow_gone_passed", b, blen);
	}
	/* a later fragment XLB_FRAG_TIMEOUT_NS after its first one: passed */
	if (frag_fwd("frag4_before_timeout", &late, C2B, 0, 2000, 1480, 0x9b,
		     0) &&
	    frag_pair(&late, 2000, 0x9b, a, &alen, b, &blen)) {
		char why[WHY_LEN] = "";
		int err = frag_age(&late, 0x9b, XLB_FRAG_TIMEOUT_NS);

		if (err) {
			snprintf(why, sizeof(why), "xlb_frags record: %s",
				 strerror(-err));
			report("frag4_after_timeout_passed", false, why);
		} else {
			frag_passed("frag4_after_timeout_passed", b, blen);
		}
	}
	/* an established reply's record, then its NAT port taken by
	 * another client's connection (emulated: the reverse entry
	 * rewritten to that client, as a closed pair's takeover leaves
	 * it): the reply's later fragment does not go to that client */
	{
		static struct xrun r;
		char why[WHY_LEN] = "cannot build the fragments";
		struct xlb_flow_key k;
		struct xlb_flow f;
		bool est, ok;

		b2c_spec(&u, &s, 0, 2000);
		ok = frag_split(&s, 0xb0, r.in, &r.in_len, b, &blen) &&
		     !xrun(&r, if0, why, sizeof(why));
		if (ok && r.verdict != XDP_TX) {
			snprintf(why, sizeof(why), "first fragment: verdict %s "
				 "(counters: %s)", fx_verdict_name(r.verdict),
				 stat_changes(&r));
			ok = false;
		}
		key_b2c(&u, u.be, u.nat_port, &k);
		if (ok && find_entry(&k, &f, &est)) {
			snprintf(why, sizeof(why), "no entry %s", key_str(&k));
			ok = false;
		}
		if (ok) {
			pkt_addr("203.0.113.99", f.rewritten.dst.bytes);
			ok = !bpf_map_update_elem(est ? lb->m.flows :
							lb->m.embryos,
						  &k, &f, BPF_EXIST);
			snprintf(why, sizeof(why), "rewriting %s: %s",
				 key_str(&k), strerror(errno));
		}
		if (!ok)
			report("frag4_reply_port_taken_over_passed", false, why);
		else
			frag_passed("frag4_reply_port_taken_over_passed", b,
				    blen);
	}
	/* an IPv6 atomic fragment (RFC 6946: offset 0, no more) is a whole
	 * datagram, its fragment header kept */
	c2b_spec(&u6, &s, 0, 100);
	s.ip6_ext = true;
	s.ip6_ext_type = 44;
	s.ip6_frag = 0;
	fwd("frag6_atomic_fragment_whole", &u6, C2B, &s, 0, -1);
}

static void test_vlan(void)
{
	struct conn v1 = CONN(S_TCP, "203.0.113.30", 41000);
	struct conn v2 = CONN(S_TCP, "203.0.113.31", 41001);
	struct conn v6 = CONN(S_TCP6, "2001:db8:200::31", 41002);
	struct conn vu = CONN(S_UDP, "203.0.113.32", 41003);
	struct pkt_spec s;

	c2b_spec(&v1, &s, PKT_TCP_SYN, 0);
	vlan_tags(&s, 1);
	if (fwd("vlan1_tcp4_syn_new_flow", &v1, C2B, &s, F_NEW, -1)) {
		c2b_spec(&v1, &s, PKT_TCP_ACK, 1333);
		vlan_tags(&s, 1);
		fwd("vlan1_tcp4_data_1333", &v1, C2B, &s, 0, -1);
		b2c_spec(&v1, &s, PKT_TCP_SYN | PKT_TCP_ACK, 0);
		vlan_tags(&s, 1);
		fwd("vlan1_tcp4_reply", &v1, B2C, &s, 0, -1);
		c2b_spec(&v1, &s, PKT_TCP_ACK, 0);
		vlan_tags(&s, 1);
		fwd("vlan1_tcp4_ack_promotes", &v1, C2B, &s, 0, -1);
	}
	c2b_spec(&v2, &s, PKT_TCP_SYN, 0);
	vlan_tags(&s, 2);
	if (fwd("vlan2_tcp4_syn_new_flow", &v2, C2B, &s, F_NEW, -1)) {
		c2b_spec(&v2, &s, PKT_TCP_ACK, 77);
		vlan_tags(&s, 2);
		fwd("vlan2_tcp4_data_77", &v2, C2B, &s, 0, -1);
		b2c_spec(&v2, &s, PKT_TCP_ACK, 1999);
		vlan_tags(&s, 2);
		fwd("vlan2_tcp4_reply_1999", &v2, B2C, &s, 0, -1);
		c2b_spec(&v2, &s, PKT_TCP_ACK | PKT_TCP_PSH, 1501);
		vlan_tags(&s, 2);
		fwd("vlan2_tcp4_data_1501_promotes", &v2, C2B, &s, 0, -1);
	}
	c2b_spec(&v6, &s, PKT_TCP_SYN, 0);
	vlan_tags(&s, 2);
	if (fwd("vlan2_tcp6_syn_new_flow", &v6, C2B, &s, F_NEW, -1)) {
		b2c_spec(&v6, &s, PKT_TCP_SYN | PKT_TCP_ACK, 0);
		vlan_tags(&s, 2);
		fwd("vlan2_tcp6_reply", &v6, B2C, &s, 0, -1);
		c2b_spec(&v6, &s, PKT_TCP_ACK, 0);
		vlan_tags(&s, 2);
		fwd("vlan2_tcp6_ack_promotes", &v6, C2B, &s, 0, -1);
	}
	c2b_spec(&vu, &s, 0, 99);
	vlan_tags(&s, 1);
	if (fwd("vlan1_udp4_new_flow", &vu, C2B, &s, F_NEW, -1)) {
		b2c_spec(&vu, &s, 0, 99);
		vlan_tags(&s, 1);
		fwd("vlan1_udp4_reply", &vu, B2C, &s, 0, -1);
		c2b_spec(&vu, &s, 0, 7);
		vlan_tags(&s, 1);
		fwd("vlan1_udp4_second_datagram_promotes", &vu, C2B, &s, 0,
		    -1);
	}
}

/* One tag, VLAN id vid, priority 3 (kept on the way out). */
static void vlan_tag(struct pkt_spec *s, __u16 vid)
{
	vlan_tags(s, 1);
	s->vlans[0].tci = (3 << 13) | vid;
}

/* xlb_vlans: the client's "VLAN device" (xlbt4) and the backend's
 * (xlbt2) with these ids. */
static bool vlan_map_set(const char *name, const struct xlb_vlan *client,
			 const struct xlb_vlan *backend)
{
	__u32 c = fx_ifindex(IF4), b = fx_ifindex(IF2);

	if (bpf_map_update_elem(lb->m.vlans, &c, client, BPF_ANY) ||
	    bpf_map_update_elem(lb->m.vlans, &b, backend, BPF_ANY)) {
		xtest_fail(name, "xlb_vlans: %s", strerror(errno));
		return false;
	}
	return true;
}

/* xlb run's reading of /proc/net/vlan/config: devices on the interface,
 * and on those (QinQ); others, and devices that are gone, left out. */
static void test_vlan_read(void)
{
	static const char config[] =
		"VLAN Dev name\t | VLAN ID\n"
		"Name-Type: VLAN_NAME_TYPE_RAW_PLUS_VID_NO_PAD\n"
		IF4 "          | 100  | " FX_IF "\n"
		IF2 "          | 200  | " FX_IF "\n"
		PEER4 "          | 30  | " IF4 "\n"
		PEER2 "          | 7  | lo\n"
		"gone0          | 9  | " FX_IF "\n";
	struct xlb_vlan_dev d[8];
	char buf[sizeof(config)], why[WHY_LEN] = "";
	size_t n = 0;
	FILE *f;
	int err;

	memcpy(buf, config, sizeof(config));
	f = fmemopen(buf, sizeof(config) - 1, "r");
	if (!f) {
		xtest_fail("vlan_config_read", "fmemopen: %s", strerror(errno));
		return;
	}
	err = xlb_vlans_read(f, FX_IF, d, 8, &n);
	fclose(f);
	if (err)
		snprintf(why, sizeof(why), "%s", strerror(-err));
	else if (n != 3 || d[0].ifindex != (__u32)fx_ifindex(IF4) ||
		 d[0].ids.outer_vid != 100 || d[0].ids.inner_vid ||
		 d[1].ifindex != (__u32)fx_ifindex(IF2) ||
		 d[1].ids.outer_vid != 200 ||
		 d[2].ifindex != (__u32)fx_ifindex(PEER4) ||
		 d[2].ids.outer_vid != 100 || d[2].ids.inner_vid != 30)
		snprintf(why, sizeof(why), "%zu devices: %u %u/%u, %u %u/%u, "
			 "%u %u/%u", n, d[0].ifindex, d[0].ids.outer_vid,
			 d[0].ids.inner_vid, d[1].ifindex, d[1].ids.outer_vid,
			 d[1].ids.inner_vid, d[2].ifindex, d[2].ids.outer_vid,
			 d[2].ids.inner_vid);
	report("vlan_config_read", !why[0], why);
}

/*
 * Routing between VLANs on the one interface, xlb_vlans filled by hand
 * (xlbt4: VLAN 100, the client's; xlbt2: VLAN 200, the backend's): a
 * tagged frame whose next hop is on a VLAN device leaves on the ingress
 * port tagged with that device's VLAN id, both ways, priority kept.  One
 * whose next hop is on an interface the map does not know (another
 * port), or with another number of tags, is dropped (drop_redirect): it
 * used to leave on the ingress port tagged for the wrong VLAN.  xlb run's
 * sync empties the map in a namespace without VLAN devices.
 */
static void test_vlan_routing(void)
{
	struct conn v1 = CONN(S_VLAN, VLAN_CLIENT, 42000);
	struct conn v2 = CONN(S_VLAN, VLAN_CLIENT, 42001);
	struct conn v3 = CONN(S_VLAN, VLAN_CLIENT, 42002);
	__u32 if100 = fx_ifindex(IF4), if200 = fx_ifindex(IF2);
	struct xlb_vlan vlan100 = { .outer_vid = 100 };
	struct xlb_vlan vlan200 = { .outer_vid = 200 };
	struct xlb_vlan qinq_client = { .outer_vid = 200, .inner_vid = 30 };
	struct xlb_vlan qinq_backend = { .outer_vid = 300, .inner_vid = 40 };
	struct conn v4 = CONN(S_VLAN, VLAN_CLIENT, 42004);
	struct conn v5 = CONN(S_VLAN, VLAN_CLIENT, 42005);
	struct pkt_spec s;
	size_t n = 1;
	int err;

	test_vlan_read();
	err = bpf_map_update_elem(lb->m.vlans, &if200, &vlan200, BPF_ANY);
	if (!err)
		err = xlb_vlans_sync(lb->m.vlans, FX_IF, &n);
	report("vlan_sync_without_devices_empties_map",
	       !err && !n && fx_map_count(lb->m.vlans) == 0,
	       err ? strerror(errno) : "entries left");
	if (!vlan_map_set("vlan_map_filled", &vlan100, &vlan200))
		return;
	c2b_spec(&v1, &s, PKT_TCP_SYN, 0);
	vlan_tag(&s, 100);
	if (fwd("vlan_routed_syn_leaves_on_backend_vlan", &v1, C2B, &s, F_NEW,
		-1)) {
		b2c_spec(&v1, &s, PKT_TCP_SYN | PKT_TCP_ACK, 0);
		vlan_tag(&s, 200);
		fwd("vlan_routed_reply_leaves_on_client_vlan", &v1, B2C, &s, 0,
		    -1);
		c2b_spec(&v1, &s, PKT_TCP_ACK, 100);
		vlan_tag(&s, 100);
		fwd("vlan_routed_ack_promotes", &v1, C2B, &s, 0, -1);
	}
	/* two tags, the next hop's device has one */
	c2b_spec(&v2, &s, PKT_TCP_SYN, 0);
	vlan_tags(&s, 2);
	not_fwd("vlan_tag_count_differs_dropped", &v2, C2B, &s, XDP_DROP,
		XLB_STAT_DROP_REDIRECT, F_NEW | F_ANY_BYTES);
	/* QinQ devices (outer.inner 200.30 for the client, 300.40 for the
	 * backend): both ids rewritten, priorities kept */
	if (!vlan_map_set("vlan_qinq_map_filled", &qinq_client, &qinq_backend))
		return;
	c2b_spec(&v4, &s, PKT_TCP_SYN, 0);
	vlan_tags(&s, 2);
	if (fwd("vlan_qinq_syn_leaves_with_both_ids", &v4, C2B, &s, F_NEW,
		-1)) {
		b2c_spec(&v4, &s, PKT_TCP_SYN | PKT_TCP_ACK, 0);
		vlan_tags(&s, 2);
		fwd("vlan_qinq_reply_leaves_with_both_ids", &v4, B2C, &s, 0, -1);
	}
	if (!vlan_map_set("vlan_map_filled_again", &vlan100, &vlan200))
		return;
	/* the next hop on a port the map does not know */
	if (bpf_map_delete_elem(lb->m.vlans, &if200)) {
		xtest_fail("vlan_next_hop_other_port_dropped", "map: %s",
			   strerror(errno));
		return;
	}
	c2b_spec(&v3, &s, PKT_TCP_SYN, 0);
	vlan_tag(&s, 100);
	not_fwd("vlan_next_hop_other_port_dropped", &v3, C2B, &s, XDP_DROP,
		XLB_STAT_DROP_REDIRECT, F_NEW | F_ANY_BYTES);
	/* ... also while its neighbour is unknown: not handed over to xlb
	 * run (which would send it, the later packets being dropped) */
	if (fx_sh("ip neigh del 192.0.2.21 dev " IF2)) {
		xtest_fail("vlan_other_port_no_neigh_not_handed_over",
			   "ip neigh del failed");
	} else {
		c2b_spec(&v5, &s, PKT_TCP_SYN, 0);
		vlan_tag(&s, 100);
		not_fwd("vlan_other_port_no_neigh_not_handed_over", &v5, C2B,
			&s, XDP_DROP, XLB_STAT_DROP_REDIRECT,
			F_NEW | F_ANY_BYTES);
		if (fx_sh("ip neigh replace 192.0.2.21 lladdr " VLAN_BE_MAC
			  " dev " IF2 " nud permanent"))
			xtest_fail("vlan_neighbour_restored", "ip neigh failed");
	}
	bpf_map_delete_elem(lb->m.vlans, &if100);
}

static void test_ip_options(void)
{
	char name[64];

	for (int ihl = 6; ihl <= 15; ihl++) {
		struct conn o = CONN(S_TCP, "203.0.113.40", 42000 + ihl);
		struct pkt_spec s;

		c2b_spec(&o, &s, PKT_TCP_SYN, 0);
		s.ip_opt_len = (ihl - 5) * 4;
		snprintf(name, sizeof(name), "ipv4_options_ihl_%d_syn", ihl);
		if (!fwd(name, &o, C2B, &s, F_NEW, -1))
			continue;
		c2b_spec(&o, &s, PKT_TCP_ACK, 100 + ihl);
		s.ip_opt_len = (ihl - 5) * 4;
		snprintf(name, sizeof(name), "ipv4_options_ihl_%d_data_%d", ihl,
			 100 + ihl);
		fwd(name, &o, C2B, &s, 0, -1);
		b2c_spec(&o, &s, PKT_TCP_ACK, 777);
		s.ip_opt_len = (ihl - 5) * 4;
		snprintf(name, sizeof(name), "ipv4_options_ihl_%d_reply_777",
			 ihl);
		fwd(name, &o, B2C, &s, 0, -1);
		c2b_spec(&o, &s, PKT_TCP_ACK, 0);
		s.ip_opt_len = (ihl - 5) * 4;
		snprintf(name, sizeof(name), "ipv4_options_ihl_%d_ack_promotes",
			 ihl);
		fwd(name, &o, C2B, &s, 0, -1);
	}
}

static void test_same_source_port(void)
{
	struct conn p1 = CONN(S_ONE, "203.0.113.70", 5555);
	struct conn p2 = CONN(S_ONE, "203.0.113.71", 5555);
	char why[WHY_LEN] = "";

	if (!fwd_c2b("same_sport_client1_syn", &p1, PKT_TCP_SYN, 0, F_NEW,
		     first_be[S_ONE]) ||
	    !fwd_c2b("same_sport_client2_syn", &p2, PKT_TCP_SYN, 0, F_NEW,
		     first_be[S_ONE]))
		return;
	if (p1.nat_port == p2.nat_port)
		snprintf(why, sizeof(why), "both got NAT port %u", p1.nat_port);
	report("same_sport_distinct_nat_ports", !why[0], why);
	fwd_b2c("same_sport_reply_reaches_client2", &p2,
		PKT_TCP_SYN | PKT_TCP_ACK, 0);
	fwd_b2c("same_sport_reply_reaches_client1", &p1,
		PKT_TCP_SYN | PKT_TCP_ACK, 0);
	fwd_c2b("same_sport_client1_data", &p1, PKT_TCP_ACK, 11, 0, -1);
	fwd_c2b("same_sport_client2_data", &p2, PKT_TCP_ACK, 22, 0, -1);
	fwd_b2c("same_sport_reply_data_client1", &p1, PKT_TCP_ACK, 333);
	fwd_b2c("same_sport_reply_data_client2", &p2, PKT_TCP_ACK, 444);
}

/* The pre-filter asks the flow table about a packet to a NAT port only
 * when it comes from a port marked as a backend's: without the mark, an
 * established connection's reply is passed untouched; with it, it is
 * translated again. */
static void test_backend_port_filter(void)
{
	struct conn c = CONN(S_ONE, "203.0.113.72", 5556);
	const struct be_def *b;
	struct pkt_spec s;
	__u8 bits, cleared;
	__u32 port;

	if (!handshake("backend_port_filter", &c, first_be[S_ONE]))
		return;
	b = be_of((__u32)c.be, NULL);
	port = b ? b->port : 0;
	if (!b || bpf_map_lookup_elem(lb->m.service_ports, &port, &bits) ||
	    !(bits & XLB_PORT_BACKEND_TCP)) {
		xtest_fail("backend_port_marked", "port %u not marked", port);
		return;
	}
	report("backend_port_marked", true, "");
	cleared = bits & ~XLB_PORT_BACKEND_TCP;
	if (bpf_map_update_elem(lb->m.service_ports, &port, &cleared,
				BPF_ANY)) {
		xtest_fail("backend_port_unmarked_reply_passed", "setup: %s",
			   strerror(errno));
		return;
	}
	b2c_spec(&c, &s, PKT_TCP_ACK, 100);
	not_fwd("backend_port_unmarked_reply_passed", &c, B2C, &s, XDP_PASS,
		XLB_STAT_PASS_NO_SERVICE, 0);
	if (bpf_map_update_elem(lb->m.service_ports, &port, &bits, BPF_ANY)) {
		xtest_fail("backend_port_marked_reply_forwarded", "restore: %s",
			   strerror(errno));
		return;
	}
	fwd_b2c("backend_port_marked_reply_forwarded", &c, PKT_TCP_ACK, 100);
}

/* ------------------------------------------------------------------ */
/* Half-open pairs: promotion, SYN-flood defence, NAT port takeover     */
/* ------------------------------------------------------------------ */

/* A copy of every entry of xlb_flows, to show that it was not touched. */
struct flows_snap {
	long n;
	struct xlb_flow_key *k;
	struct xlb_flow *v;
};

static int snap_take(struct flows_snap *s)
{
	struct xlb_flow_key k, next;
	long cap = fx_map_count(lb->m.flows);
	void *prev = NULL;

	s->n = 0;
	s->k = calloc(cap > 0 ? cap : 1, sizeof(*s->k));
	s->v = calloc(cap > 0 ? cap : 1, sizeof(*s->v));
	if (cap < 0 || !s->k || !s->v)
		return -ENOMEM;
	while (s->n < cap && !bpf_map_get_next_key(lb->m.flows, prev, &next)) {
		k = next;
		prev = &k;
		if (fx_flow_get(lb->m.flows, &k, &s->v[s->n]))
			return -EIO;
		s->k[s->n++] = k;
	}
	return s->n == cap ? 0 : -EIO;
}

/* xlb_flows holds exactly the snapshot's entries, byte for byte. */
static bool snap_same(const struct flows_snap *s, char *why, size_t n)
{
	long now = fx_map_count(lb->m.flows);
	struct xlb_flow v;

	if (now != s->n) {
		snprintf(why, n, "xlb_flows had %ld entries, now %ld", s->n,
			 now);
		return false;
	}
	for (long i = 0; i < s->n; i++) {
		if (fx_flow_get(lb->m.flows, &s->k[i], &v) ||
		    memcmp(&v, &s->v[i], sizeof(v))) {
			snprintf(why, n, "xlb_flows entry %s removed or changed",
				 key_str(&s->k[i]));
			return false;
		}
	}
	return true;
}

static void snap_free(struct flows_snap *s)
{
	free(s->k);
	free(s->v);
}

/* Make c's pair look `ns` older (created_ns of both entries, in the table
 * that holds them): bpf_ktime_get_ns() is monotonic, so this is how a
 * test ages a pair.  0 or -errno. */
static int age_pair(const struct conn *c, __u64 ns)
{
	int fd = c->established ? lb->m.flows : lb->m.embryos;
	struct xlb_flow_key k[2];
	struct xlb_flow v;

	key_c2b(c, &k[0]);
	key_b2c(c, c->be, c->nat_port, &k[1]);
	for (int i = 0; i < 2; i++) {
		if (bpf_map_lookup_elem(fd, &k[i], &v))
			return -errno;
		v.created_ns = v.created_ns > ns ? v.created_ns - ns : 0;
		if (v.last_seen_ns) /* 0: no packet yet, stays so */
			v.last_seen_ns = v.last_seen_ns > ns ?
						 v.last_seen_ns - ns : 1;
		if (bpf_map_update_elem(fd, &k[i], &v, BPF_EXIST))
			return -errno;
	}
	return 0;
}

static void age(const char *name, const struct conn *c, __u64 ns)
{
	int err = age_pair(c, ns);

	if (err)
		xtest_fail(name, "ageing the pair: %s", strerror(-err));
}

static __u64 stat_now(__u32 stat)
{
	struct fx_counters c;

	return fx_counters_read(&lb->m, &c) ? ~0ull : c.stats[stat];
}

#define SEC_NS 1000000000ull

/* The flags of c's entries in xlb_flows, and the ACK numbers recorded. */
static bool est_pair(const struct conn *c, struct xlb_flow *fc,
		     struct xlb_flow *fb)
{
	struct xlb_flow_key kc, kb;

	key_c2b(c, &kc);
	key_b2c(c, c->be, c->nat_port, &kb);
	return !fx_flow_get(lb->m.flows, &kc, fc) &&
	       !fx_flow_get(lb->m.flows, &kb, fb);
}

/*
 * A client's RST of an established connection counts (RST seen: the
 * pair is closed) only within XLB_SEQ_WINDOW of what the backend last
 * acknowledged; further off it is forwarded all the same, counted
 * (rst_ignored), and the pair stays open.  The backend's ACK number is
 * recorded from the handshake on, and only moves forward; the backend's
 * side is trusted.
 */
static void test_fin_window(void);

static void test_rst_window(void)
{
	struct conn w = CONN(S_TCP, "203.0.113.160", 46000);
	struct conn v = CONN(S_TCP, "203.0.113.161", 46001);
	struct xlb_flow fc, fb;
	struct pkt_spec s;
	char why[WHY_LEN] = "";

	if (!handshake("rstwin", &w, -1) || !handshake("rstwin_b", &v, -1))
		return;
	/* the backend's ACK number from the handshake: the promoting
	 * ACK's sequence number (pkt.c's default seq, 1000), which the
	 * backend's SYN-ACK acknowledged */
	if (!est_pair(&w, &fc, &fb))
		snprintf(why, sizeof(why), "pair not in xlb_flows");
	else if (ntohl(fb.ack_seq) != 1000)
		snprintf(why, sizeof(why), "backend's ACK number %u, expected "
			 "1000 (the promoting ACK's seq)", ntohl(fb.ack_seq));
	report("rst_window_ack_number_from_handshake", !why[0], why);

	/* the backend acknowledges up to 3,000,000 */
	b2c_spec(&w, &s, PKT_TCP_ACK, 0);
	s.ack = 3000000;
	fwd("rst_window_backend_ack", &w, B2C, &s, 0, -1);
	/* an older ACK (reordered) does not take it back */
	b2c_spec(&w, &s, PKT_TCP_ACK, 0);
	s.ack = 2000000;
	fwd("rst_window_backend_older_ack", &w, B2C, &s, 0, -1);
	why[0] = 0;
	if (!est_pair(&w, &fc, &fb) || ntohl(fb.ack_seq) != 3000000)
		snprintf(why, sizeof(why), "backend's ACK number %u, expected "
			 "3000000", ntohl(fb.ack_seq));
	report("rst_window_ack_number_only_forward", !why[0], why);

	/* a client RST far from it (a blind guess): forwarded, ignored */
	c2b_spec(&w, &s, PKT_TCP_RST, 0);
	s.seq = 3000000u + 0x40000000u;
	fwd("rst_window_blind_rst_forwarded", &w, C2B, &s, F_RST_IGNORED, -1);
	c2b_spec(&w, &s, PKT_TCP_RST, 0);
	s.seq = 1001; /* 3 MB behind what the backend acknowledged */
	fwd("rst_window_stale_rst_forwarded", &w, C2B, &s, F_RST_IGNORED, -1);
	why[0] = 0;
	if (!est_pair(&w, &fc, &fb) || ((fc.flags | fb.flags) &
					XLB_FLOW_RST_SEEN))
		snprintf(why, sizeof(why), "RST seen recorded (flags 0x%x / "
			 "0x%x)", fc.flags, fb.flags);
	report("rst_window_ignored_rst_leaves_pair_open", !why[0], why);
	/* the connection goes on */
	fwd_c2b("rst_window_data_after_ignored_rst", &w, PKT_TCP_ACK, 10, 0,
		-1);
	/* a RST within the window (the sender 100 bytes ahead of the
	 * backend's ACK) counts */
	c2b_spec(&w, &s, PKT_TCP_RST, 0);
	s.seq = 3000100;
	fwd("rst_window_rst_in_window", &w, C2B, &s, 0, -1);
	why[0] = 0;
	if (!est_pair(&w, &fc, &fb) || !(fc.flags & XLB_FLOW_RST_SEEN))
		snprintf(why, sizeof(why), "client entry flags 0x%x, expected "
			 "RST seen", fc.flags);
	report("rst_window_rst_in_window_closes", !why[0], why);

	/* the backend's side is trusted: a client ACK number (a spoofed
	 * one could be anything) is not recorded, and the backend's RST
	 * counts wherever it is */
	c2b_spec(&v, &s, PKT_TCP_ACK, 0);
	s.ack = 0x70000000u;
	fwd("rst_window_client_ack", &v, C2B, &s, 0, -1);
	why[0] = 0;
	if (!est_pair(&v, &fc, &fb) || ntohl(fc.ack_seq) == 0x70000000u)
		snprintf(why, sizeof(why), "client entry recorded ACK number "
			 "0x%x", ntohl(fc.ack_seq));
	report("rst_window_client_ack_number_not_recorded", !why[0], why);
	b2c_spec(&v, &s, PKT_TCP_RST | PKT_TCP_ACK, 0);
	s.seq = 0x40000000u;
	fwd("rst_window_backend_rst_anywhere", &v, B2C, &s, 0, -1);
	why[0] = 0;
	if (!est_pair(&v, &fc, &fb) || !(fb.flags & XLB_FLOW_RST_SEEN))
		snprintf(why, sizeof(why), "reverse entry flags 0x%x, expected "
			 "RST seen", fb.flags);
	report("rst_window_backend_rst_counts", !why[0], why);
	test_fin_window();
}

/*
 * FINs of an established connection, judged like RSTs: within the window
 * a FIN counts; far behind it is ignored; far ahead it is kept pending
 * (XLB_FLOW_FIN_PENDING, fin_seq = the FIN's own sequence number) and
 * counts at the sender's next packet once the other side acknowledged
 * it, or is dropped from the entry when the sender sends data past it.
 */
static void test_fin_window(void)
{
	struct conn a = CONN(S_TCP, "203.0.113.162", 46002);
	struct conn b = CONN(S_TCP, "203.0.113.163", 46003);
	const __u32 ahead = 1001 + (2u << 20); /* 2 MiB past the ACK */
	struct xlb_flow fc, fb;
	struct pkt_spec s;
	char why[WHY_LEN] = "";

	if (!handshake("finwin", &a, -1) || !handshake("finwin_b", &b, -1))
		return;
	/* a: a FIN far behind what the backend acknowledged (1001) */
	c2b_spec(&a, &s, PKT_TCP_FIN | PKT_TCP_ACK, 0);
	s.seq = 1001u - 0x40000000u;
	fwd("fin_window_fin_far_behind_forwarded", &a, C2B, &s, 0, -1);
	if (!est_pair(&a, &fc, &fb) ||
	    (fc.flags & (XLB_FLOW_FIN_SEEN | XLB_FLOW_FIN_PENDING)))
		snprintf(why, sizeof(why), "client entry flags 0x%x, expected "
			 "no FIN", fc.flags);
	report("fin_window_fin_far_behind_ignored", !why[0], why);
	/* a FIN 2 MiB ahead, 100 bytes of data with it: pending */
	c2b_spec(&a, &s, PKT_TCP_FIN | PKT_TCP_ACK, 100);
	s.seq = ahead;
	fwd("fin_window_fin_ahead_forwarded", &a, C2B, &s, 0, -1);
	why[0] = 0;
	if (!est_pair(&a, &fc, &fb) || (fc.flags & XLB_FLOW_FIN_SEEN) ||
	    !(fc.flags & XLB_FLOW_FIN_PENDING) || ntohl(fc.fin_seq) != ahead + 100)
		snprintf(why, sizeof(why), "client entry flags 0x%x fin_seq %u, "
			 "expected pending at %u", fc.flags, ntohl(fc.fin_seq),
			 ahead + 100);
	report("fin_window_fin_ahead_pending", !why[0], why);
	/* the backend acknowledges it (fin_seq + 1), then the client's
	 * last ACK: the FIN counts */
	b2c_spec(&a, &s, PKT_TCP_FIN | PKT_TCP_ACK, 0);
	s.ack = ahead + 101;
	fwd("fin_window_backend_acks_fin", &a, B2C, &s, 0, -1);
	c2b_spec(&a, &s, PKT_TCP_ACK, 0);
	s.seq = ahead + 101;
	fwd("fin_window_client_last_ack", &a, C2B, &s, 0, -1);
	why[0] = 0;
	if (!est_pair(&a, &fc, &fb) || !(fc.flags & XLB_FLOW_FIN_SEEN) ||
	    (fc.flags & XLB_FLOW_FIN_PENDING))
		snprintf(why, sizeof(why), "client entry flags 0x%x, expected "
			 "FIN seen, not pending", fc.flags);
	report("fin_window_pending_fin_counts_once_acked", !why[0], why);

	/* b: a FIN ahead that was not the client's: the client then sends
	 * data past it, and the pending FIN goes */
	c2b_spec(&b, &s, PKT_TCP_FIN | PKT_TCP_ACK, 0);
	s.seq = ahead;
	fwd("fin_window_spoofed_fin_ahead", &b, C2B, &s, 0, -1);
	c2b_spec(&b, &s, PKT_TCP_ACK, 10);
	s.seq = ahead + 5;
	fwd("fin_window_data_past_pending_fin", &b, C2B, &s, 0, -1);
	why[0] = 0;
	if (!est_pair(&b, &fc, &fb) ||
	    (fc.flags & (XLB_FLOW_FIN_SEEN | XLB_FLOW_FIN_PENDING)))
		snprintf(why, sizeof(why), "client entry flags 0x%x, expected "
			 "no FIN", fc.flags);
	report("fin_window_data_past_fin_clears_it", !why[0], why);
}

static void test_half_open(void)
{
	struct conn sp = CONN(S_TCP, "203.0.113.100", 44000);
	struct conn h = CONN(S_TCP, "203.0.113.101", 44001);
	struct conn u = CONN(S_UDP, "203.0.113.102", 44002);
	struct conn u6 = CONN(S_UDP6, "2001:db8:200::102", 44002);
	struct conn rs = CONN(S_TCP, "203.0.113.103", 44003);
	struct conn bl = CONN(S_TCP, "203.0.113.105", 44005);
	struct pkt_spec bs;
	struct conn rb = CONN(S_TCP, "203.0.113.104", 44004);
	struct conn sa = CONN(S_TCP, "203.0.113.106", 44006);
	struct flows_snap snap = { 0 };
	struct xlb_flow_key kc, kb;
	struct xlb_flow fc0, fb0, fc, fb;
	char why[WHY_LEN] = "";
	__u64 promoted0;
	bool ok;

	/* (a) a spoofed SYN: the backend answers, the client never speaks
	 * again.  The pair stays half-open; xlb_flows is not touched. */
	promoted0 = stat_now(XLB_STAT_PROMOTED);
	if (snap_take(&snap)) {
		xtest_fail("halfopen_spoofed_setup", "cannot read xlb_flows");
	} else if (fwd_c2b("halfopen_spoofed_syn_new_flow", &sp, PKT_TCP_SYN,
			   0, F_NEW, -1)) {
		fwd_b2c("halfopen_spoofed_synack_translated", &sp,
			PKT_TCP_SYN | PKT_TCP_ACK, 0);
		fwd_b2c("halfopen_spoofed_synack_retransmit_translated", &sp,
			PKT_TCP_SYN | PKT_TCP_ACK, 0);
		fwd_c2b("halfopen_spoofed_syn_retransmit_not_promoted", &sp,
			PKT_TCP_SYN, 0, 0, -1);
		ok = check_pair(&sp, why, sizeof(why)) &&
		     snap_same(&snap, why, sizeof(why));
		if (ok && stat_now(XLB_STAT_PROMOTED) != promoted0) {
			snprintf(why, sizeof(why), "promoted %llu -> %llu",
				 (unsigned long long)promoted0,
				 (unsigned long long)stat_now(XLB_STAT_PROMOTED));
			ok = false;
		}
		report("halfopen_spoofed_pair_stays_in_embryos_flows_untouched",
		       ok, why);
	}
	snap_free(&snap);

	/* (b) the handshake's ACK promotes; client packets before the
	 * backend's answer do not */
	if (fwd_c2b("halfopen_syn_new_flow", &h, PKT_TCP_SYN, 0, F_NEW, -1)) {
		fwd_c2b("halfopen_client_ack_before_answer_not_promoted", &h,
			PKT_TCP_ACK, 0, 0, -1);
		fwd_c2b("halfopen_client_data_before_answer_not_promoted", &h,
			PKT_TCP_ACK | PKT_TCP_PSH, 100, 0, -1);
		fwd_b2c("halfopen_synack_not_promoted", &h,
			PKT_TCP_SYN | PKT_TCP_ACK, 0);
		key_c2b(&h, &kc);
		key_b2c(&h, h.be, h.nat_port, &kb);
		ok = !fx_flow_get(lb->m.embryos, &kc, &fc0) &&
		     !fx_flow_get(lb->m.embryos, &kb, &fb0);
		if (fwd_c2b("halfopen_handshake_ack_promotes", &h, PKT_TCP_ACK,
			    0, 0, -1)) {
			/* moved as they were, not rebuilt */
			ok = ok && !fx_flow_get(lb->m.flows, &kc, &fc) &&
			     !fx_flow_get(lb->m.flows, &kb, &fb);
			ok = ok &&
			     !memcmp(&fc.rewritten, &fc0.rewritten,
				     sizeof(fc.rewritten)) &&
			     !memcmp(&fb.rewritten, &fb0.rewritten,
				     sizeof(fb.rewritten)) &&
			     fc.created_ns == fc0.created_ns &&
			     fb.created_ns == fb0.created_ns &&
			     fb.last_seen_ns == fb0.last_seen_ns &&
			     fc.backend_id == fc0.backend_id &&
			     fb.backend_id == fb0.backend_id &&
			     fc.flags == fc0.flags && fb.flags == fb0.flags;
			report("halfopen_promoted_pair_moved_unchanged", ok,
			       "xlb_flows entries differ from the half-open "
			       "ones (rewritten, created, last seen, backend "
			       "or flags)");
			fwd_c2b("halfopen_data_after_promotion_not_promoted_again",
				&h, PKT_TCP_ACK | PKT_TCP_PSH, 1000, 0, -1);
			fwd_b2c("halfopen_reply_after_promotion", &h,
				PKT_TCP_ACK | PKT_TCP_PSH, 700);
		}
	}

	/* (c) UDP: request/response stays half-open; the client's second
	 * datagram after a response promotes */
	if (fwd_c2b("halfopen_udp4_request_new_flow", &u, 0, 40, F_NEW, -1)) {
		fwd_b2c("halfopen_udp4_response_stays_half_open", &u, 0, 200);
		fwd_b2c("halfopen_udp4_second_response_stays_half_open", &u, 0,
			201);
		fwd_c2b("halfopen_udp4_second_request_promotes", &u, 0, 41, 0,
			-1);
		fwd_b2c("halfopen_udp4_response_after_promotion", &u, 0, 202);
		fwd_c2b("halfopen_udp4_third_request_established", &u, 0, 42, 0,
			-1);
	}
	if (fwd_c2b("halfopen_udp6_request_new_flow", &u6, 0, 40, F_NEW, -1)) {
		fwd_b2c("halfopen_udp6_response_stays_half_open", &u6, 0, 300);
		fwd_c2b("halfopen_udp6_second_request_promotes", &u6, 0, 1, 0,
			-1);
	}

	/* A blind ACK (a spoofer guessing, one round trip after its SYN):
	 * its ACK number does not acknowledge the backend's SYN-ACK, so it
	 * is forwarded but the pair stays half-open; the real ACK promotes. */
	if (fwd_c2b("halfopen_blind_syn", &bl, PKT_TCP_SYN, 0, F_NEW, -1) &&
	    fwd_b2c("halfopen_blind_synack", &bl, PKT_TCP_SYN | PKT_TCP_ACK,
		    0)) {
		c2b_spec(&bl, &bs, PKT_TCP_ACK, 0);
		bs.ack = 12345;
		if (fwd("halfopen_blind_ack_stays_half_open", &bl, C2B, &bs, 0,
			-1))
			fwd_c2b("halfopen_blind_then_real_ack_promotes", &bl,
				PKT_TCP_ACK, 0, 0, -1);
	}
	/* A client RST right after the SYN-ACK (a SYN scan): it does not
	 * acknowledge the SYN-ACK, so the pair stays half-open; like any RST
	 * of a tracked flow it is recorded (xlb_flow.flags), so that the pair
	 * counts as closed and a new SYN on the tuple starts a new
	 * connection. */
	if (fwd_c2b("halfopen_scan_syn", &rs, PKT_TCP_SYN, 0, F_NEW, -1) &&
	    fwd_b2c("halfopen_scan_synack", &rs, PKT_TCP_SYN | PKT_TCP_ACK, 0) &&
	    fwd_c2b("halfopen_scan_client_rst_stays_half_open", &rs,
		    PKT_TCP_RST, 0, 0, -1)) {
		key_c2b(&rs, &kc);
		ok = !fx_flow_get(lb->m.embryos, &kc, &fc) &&
		     (fc.flags & XLB_FLOW_RST_SEEN);
		snprintf(why, sizeof(why), "client entry in xlb_embryos: flags "
			 "0x%x, expected RST seen (0x%x)", fc.flags,
			 XLB_FLOW_RST_SEEN);
		report("halfopen_promoting_rst_recorded", ok, why);
		/* a new attempt (another sequence number) is a new
		 * connection */
		c2b_spec(&rs, &bs, PKT_TCP_SYN, 0);
		bs.seq = 77777;
		fwd("halfopen_new_syn_after_client_rst_rescheduled", &rs, C2B,
		    &bs, F_NEW | F_RESCHED, -1);
	}
	/* Linux's answer to a stale ACK in SYN_SENT (a backend's TIME_WAIT
	 * on a reused NAT tuple answers the SYN with the old connection's
	 * ACK): a RST, then the same SYN again at once.  That SYN stays on
	 * its pair (same backend, same NAT port, no new schedule slot) and
	 * the pair forgets the client's RST. */
	/* (here the backend first sends a stale SYN-ACK, from a request it
	 * still held for the tuple: the client refuses it, so the pair must
	 * wait for the next SYN-ACK before the client's ACK can promote it) */
	if (fwd_c2b("halfopen_stale_ack_syn", &sa, PKT_TCP_SYN, 0, F_NEW, -1) &&
	    (b2c_spec(&sa, &bs, PKT_TCP_SYN | PKT_TCP_ACK, 0), bs.seq = 5555,
	     fwd("halfopen_stale_ack_stale_synack", &sa, B2C, &bs, 0, -1)) &&
	    fwd_c2b("halfopen_stale_ack_client_rst", &sa, PKT_TCP_RST, 0, 0,
		    -1)) {
		__u64 new_before = stat_now(XLB_STAT_NEW_FLOW);

		if (fwd_c2b("halfopen_same_syn_after_client_rst_stays", &sa,
			    PKT_TCP_SYN, 0, 0, -1)) {
			key_c2b(&sa, &kc);
			ok = !fx_flow_get(lb->m.embryos, &kc, &fc) &&
			     !(fc.flags & XLB_FLOW_RST_SEEN) &&
			     stat_now(XLB_STAT_NEW_FLOW) == new_before;
			snprintf(why, sizeof(why), "client entry flags 0x%x "
				 "(RST seen must be cleared), new_flow +%llu",
				 fc.flags, (unsigned long long)(stat_now(
					 XLB_STAT_NEW_FLOW) - new_before));
			report("halfopen_same_syn_after_client_rst_forgets_rst",
			       ok, why);
		}
		/* then the handshake completes on the same pair */
		if (fwd_b2c("halfopen_stale_ack_synack", &sa,
			    PKT_TCP_SYN | PKT_TCP_ACK, 0))
			fwd_c2b("halfopen_stale_ack_ack_promotes", &sa,
				PKT_TCP_ACK, 0, 0, -1);
	}
	/* The backend refuses a half-open connection (RST): the pair is
	 * over; a new SYN on the tuple starts a new connection. */
	if (fwd_c2b("halfopen_refused_syn", &rb, PKT_TCP_SYN, 0, F_NEW, -1) &&
	    fwd_b2c("halfopen_refused_backend_rst", &rb,
		    PKT_TCP_RST | PKT_TCP_ACK, 0))
		fwd_c2b("halfopen_syn_after_backend_rst_rescheduled", &rb,
			PKT_TCP_SYN, 0, F_NEW | F_RESCHED, -1);
}

/*
 * A second instance with two NAT ports and room for three established
 * connections (6 entries of xlb_flows).  Probing finds the second port; a
 * third connection to the same backend finds none while both are held
 * by young half-open pairs; another backend has ports of its own; the
 * promotion (the client's ACK) of a fourth connection finds xlb_flows
 * full and leaves the pair half-open (its SYN-ACK went through).  Then,
 * tables emptied: NAT port takeover from stale half-open pairs.
 */
static void test_port_takeover(void);
static void test_closed_takeover(struct conn *t3, struct conn *t4);
static void test_udp_takeover(void);

/* The NAT ports a new flow probes are spread over the range: a run of
 * 16 held ports after its first choice (16 consecutive probes used to
 * end there with drop_nat_ports) costs it a probe, not the connection. */
static void test_probe_spread(void)
{
	struct conn x = CONN(S_ONE, "203.0.113.95", 6100);
	const __u32 range = XLB_DEFAULT_NAT_PORT_MAX - XLB_DEFAULT_NAT_PORT_MIN + 1;
	struct xlb_flow_key kc, kb, held[16];
	struct xlb_flow v = { .dir = XLB_DIR_TO_CLIENT };
	struct timespec ts;
	char why[WHY_LEN] = "";
	__u16 p0;
	int n = 0;

	if (!fwd_c2b("probe_spread_first_syn", &x, PKT_TCP_SYN, 0, F_NEW,
		     first_be[S_ONE]))
		return;
	p0 = x.nat_port;
	key_c2b(&x, &kc);
	key_b2c(&x, (__u32)x.be, p0, &kb);
	/* forget the pair; hold its port and the 15 after it with busy
	 * connections' backend entries */
	bpf_map_delete_elem(lb->m.embryos, &kc);
	bpf_map_delete_elem(lb->m.embryos, &kb);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	v.created_ns = v.last_seen_ns = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	v.rewritten.proto = IPPROTO_TCP;
	for (; n < 16; n++) {
		__u16 port = XLB_DEFAULT_NAT_PORT_MIN +
			     (p0 - XLB_DEFAULT_NAT_PORT_MIN + n) % range;

		key_b2c(&x, (__u32)x.be, port, &held[n]);
		if (bpf_map_update_elem(lb->m.flows, &held[n], &v, BPF_NOEXIST)) {
			snprintf(why, sizeof(why), "setup: port %u: %s", port,
				 strerror(errno));
			break;
		}
	}
	if (!why[0]) {
		x.be = -1;
		if (fwd_c2b("probe_spread_syn_past_held_run", &x, PKT_TCP_SYN, 0,
			    F_NEW, first_be[S_ONE])) {
			if ((x.nat_port + range - p0) % range < 16)
				snprintf(why, sizeof(why), "port %u inside the "
					 "held run %u..+15", x.nat_port, p0);
			report("probe_spread_port_outside_held_run", !why[0],
			       why);
		}
	} else {
		xtest_fail("probe_spread_port_outside_held_run", "%s", why);
	}
	while (n-- > 0)
		bpf_map_delete_elem(lb->m.flows, &held[n]);
	key_b2c(&x, (__u32)first_be[S_ONE], x.nat_port, &kb);
	bpf_map_delete_elem(lb->m.embryos, &kc);
	bpf_map_delete_elem(lb->m.embryos, &kb);
}

static void test_nat_range(void)
{
	struct conn q1 = CONN(S_ONE, "203.0.113.90", 6000);
	struct conn q2 = CONN(S_ONE, "203.0.113.91", 6000);
	struct conn q3 = CONN(S_ONE, "203.0.113.92", 6000);
	struct conn q4 = CONN(S_ONE_B, "203.0.113.92", 6000);
	struct conn q5 = CONN(S_ONE_B, "203.0.113.93", 6000);
	struct fx_lb lb2;
	struct pkt_spec s;
	char why[WHY_LEN] = "";
	int err;

	err = fx_load(&lb2, 3, 20000, 20001);
	if (!err)
		err = svc_conf_install(&lb2, S_ONE, false);
	if (!err)
		err = svc_conf_install(&lb2, S_ONE_B, false);
	if (!err)
		err = svc_conf_install(&lb2, S_UDP_ONE, false);
	if (err) {
		xtest_fail("natports_instance_setup", "%s", strerror(-err));
		fx_unload(&lb2);
		return;
	}
	lb = &lb2;
	nat_min = 20000;
	nat_max = 20001;
	if (fwd_c2b("natports_two_port_range_first", &q1, PKT_TCP_SYN, 0,
		    F_NEW, -1) &&
	    fwd_c2b("natports_two_port_range_second_probes", &q2, PKT_TCP_SYN,
		    0, F_NEW, -1)) {
		if (q1.nat_port == q2.nat_port)
			snprintf(why, sizeof(why), "both got %u", q1.nat_port);
		report("natports_two_port_range_distinct", !why[0], why);
		c2b_spec(&q3, &s, PKT_TCP_SYN, 0);
		not_fwd("natports_exhausted_by_young_half_open_dropped", &q3,
			C2B, &s, XDP_DROP, XLB_STAT_DROP_NAT_PORTS, 0);
		fwd_c2b("natports_other_backend_has_own_ports", &q4,
			PKT_TCP_SYN, 0, F_NEW, -1);
		fwd_c2b("natports_other_backend_second", &q5, PKT_TCP_SYN, 0,
			F_NEW, -1);
		fwd_b2c("natports_synack_first_not_promoted", &q1,
			PKT_TCP_SYN | PKT_TCP_ACK, 0);
		fwd_b2c("natports_synack_second_not_promoted", &q2,
			PKT_TCP_SYN | PKT_TCP_ACK, 0);
		fwd_b2c("natports_synack_third_not_promoted", &q4,
			PKT_TCP_SYN | PKT_TCP_ACK, 0);
		fwd_b2c("natports_synack_fourth_translated_table_nearly_full",
			&q5, PKT_TCP_SYN | PKT_TCP_ACK, 0);
		fwd_c2b("natports_ack_promotes_first", &q1, PKT_TCP_ACK, 0, 0,
			-1);
		fwd_c2b("natports_ack_promotes_second", &q2, PKT_TCP_ACK, 0, 0,
			-1);
		fwd_c2b("natports_ack_promotes_third_table_now_full", &q4,
			PKT_TCP_ACK, 0, 0, -1);
		/* (e) the table is full at the promotion: the client's ACK
		 * is dropped, the pair stays half-open */
		c2b_spec(&q5, &s, PKT_TCP_ACK, 0);
		not_fwd("natports_promotion_flow_table_full_dropped", &q5, C2B,
			&s, XDP_DROP, XLB_STAT_DROP_TABLE_FULL, 0);
		fwd_b2c("natports_synack_retransmit_after_full_translated", &q5,
			PKT_TCP_SYN | PKT_TCP_ACK, 0);
		fwd_c2b("natports_established_unaffected", &q1, PKT_TCP_ACK, 9,
			0, -1);
		c2b_spec(&q3, &s, PKT_TCP_SYN, 0);
		not_fwd("natports_still_exhausted_after_promotion", &q3, C2B,
			&s, XDP_DROP, XLB_STAT_DROP_NAT_PORTS, 0);
		/* room again (as when user space expires a pair): the
		 * retransmitted ACK promotes */
		{
			struct xlb_flow_key k1, k2;

			key_c2b(&q4, &k1);
			key_b2c(&q4, q4.be, q4.nat_port, &k2);
			if (bpf_map_delete_elem(lb->m.flows, &k1) ||
			    bpf_map_delete_elem(lb->m.flows, &k2))
				xtest_fail("natports_room_freed", "delete: %s",
					   strerror(errno));
			else
				fwd_c2b("natports_promotion_after_room_freed",
					&q5, PKT_TCP_ACK, 0, 0, -1);
		}
	}
	test_port_takeover();
	test_udp_takeover();
	lb = &lb_main;
	nat_min = XLB_DEFAULT_NAT_PORT_MIN;
	nat_max = XLB_DEFAULT_NAT_PORT_MAX;
	fx_unload(&lb2);
}

/*
 * Half-open pairs and other CPUs, staged through the map on c (a
 * half-open pair the backend has answered; restored afterwards):
 * - a promotion that meets a takeover in progress (the reverse entry's
 *   created_ns swapped to XLB_CREATED_TAKEN) loses: the client's ACK is
 *   not promoted, finds no flow and is dropped, the pair is left alone;
 * - so does a client SYN that would start afresh after a RST;
 * - a backend half whose client half is missing (a connection being
 *   created: the client half is inserted after the NAT port claim) is
 *   not removed by the backend's packet.
 */
static void test_promotion_lost(const struct conn *c)
{
	struct xlb_flow_key kc, kb;
	struct xlb_flow fc, fb, v;
	struct conn lost = *c;
	struct pkt_spec s;
	char why[WHY_LEN] = "";
	bool est;

	key_c2b(c, &kc);
	key_b2c(c, c->be, c->nat_port, &kb);
	if (bpf_map_lookup_elem(lb->m.embryos, &kc, &fc) ||
	    bpf_map_lookup_elem(lb->m.embryos, &kb, &fb)) {
		xtest_fail("promotion_lost_to_takeover_setup", "pair %s not "
			   "half-open", key_str(&kc));
		return;
	}
	v = fb;
	v.created_ns = XLB_CREATED_TAKEN;
	if (bpf_map_update_elem(lb->m.embryos, &kb, &v, BPF_EXIST)) {
		xtest_fail("promotion_lost_to_takeover_setup", "%s",
			   strerror(errno));
		return;
	}
	lost.be = -1; /* no pair expected to change */
	c2b_spec(&lost, &s, PKT_TCP_ACK, 0);
	not_fwd("promotion_lost_to_takeover_ack_dropped", &lost, C2B, &s,
		XDP_DROP, XLB_STAT_DROP_NO_FLOW, 0);
	if (!find_entry(&kc, &v, &est) && est)
		snprintf(why, sizeof(why), "%s promoted", key_str(&kc));
	else if (bpf_map_lookup_elem(lb->m.embryos, &kb, &v) ||
		 v.created_ns != XLB_CREATED_TAKEN)
		snprintf(why, sizeof(why), "reverse entry %s gone or its "
			 "created_ns changed", key_str(&kb));
	report("promotion_lost_to_takeover_pair_left_alone", !why[0], why);

	/* a SYN starting afresh after the backend's RST yields to the
	 * takeover too: dropped, the pair left to the takeover */
	v = fb;
	v.created_ns = XLB_CREATED_TAKEN;
	v.flags |= XLB_FLOW_RST_SEEN;
	if (bpf_map_update_elem(lb->m.embryos, &kb, &v, BPF_EXIST)) {
		xtest_fail("syn_restart_yields_to_takeover", "setup: %s",
			   strerror(errno));
		return;
	}
	c2b_spec(&lost, &s, PKT_TCP_SYN, 0);
	s.seq += 1000; /* a new connection's SYN, not a retransmission */
	not_fwd("syn_restart_yields_to_takeover_dropped", &lost, C2B, &s,
		XDP_DROP, XLB_STAT_DROP_NO_FLOW, 0);
	why[0] = 0;
	if (bpf_map_lookup_elem(lb->m.embryos, &kc, &v) ||
	    bpf_map_lookup_elem(lb->m.embryos, &kb, &v) ||
	    v.created_ns != XLB_CREATED_TAKEN)
		snprintf(why, sizeof(why), "pair %s removed or changed",
			 key_str(&kc));
	report("syn_restart_yields_to_takeover_pair_left_alone", !why[0],
	       why);

	/* a backend half without its client half may be a connection
	 * being created on another CPU: its packet finds no flow and
	 * passes, and the half stays */
	if (bpf_map_update_elem(lb->m.embryos, &kb, &fb, BPF_EXIST) ||
	    bpf_map_delete_elem(lb->m.embryos, &kc)) {
		xtest_fail("lone_backend_half_kept", "setup: %s",
			   strerror(errno));
		return;
	}
	b2c_spec(c, &s, PKT_TCP_SYN | PKT_TCP_ACK, 0);
	not_fwd("lone_backend_half_packet_passed", &lost, B2C, &s, XDP_PASS,
		XLB_STAT_PASS_NO_SERVICE, 0);
	why[0] = 0;
	if (bpf_map_lookup_elem(lb->m.embryos, &kb, &v) ||
	    v.created_ns != fb.created_ns)
		snprintf(why, sizeof(why), "%s removed or changed",
			 key_str(&kb));
	report("lone_backend_half_kept", !why[0], why);
	if (bpf_map_update_elem(lb->m.embryos, &kc, &fc, BPF_NOEXIST))
		xtest_fail("half_open_races_restored", "%s", strerror(errno));
}

/*
 * (d) NAT port takeover, on the two-port instance (lb), tables emptied
 * first: both ports of the backend held by half-open pairs.  Pairs
 * younger than 1 s block the port (drop_nat_ports); a pair older than
 * 1 s (aged through the map) gives its port to the new connection:
 * port_takeover +1, both halves of the old pair gone, the new pair in
 * xlb_embryos.  Established pairs are never taken over, however old.
 */
static void test_port_takeover(void)
{
	struct conn t1 = CONN(S_ONE, "203.0.113.94", 6001);
	struct conn t2 = CONN(S_ONE, "203.0.113.95", 6001);
	struct conn t3 = CONN(S_ONE, "203.0.113.96", 6001);
	struct conn t4 = CONN(S_ONE, "203.0.113.97", 6001);
	struct conn t5 = CONN(S_ONE, "203.0.113.98", 6001);
	struct conn gone;
	struct xlb_flow_key k;
	struct pkt_spec s;
	char why[WHY_LEN] = "";
	__u16 port1, port2;
	int err;

	err = fx_map_clear(lb->m.flows);
	if (!err)
		err = fx_map_clear(lb->m.embryos);
	if (err) {
		xtest_fail("takeover_setup_tables_emptied", "%s",
			   strerror(-err));
		return;
	}
	/* t1: a spoofed SYN answered by the backend; t2: a plain SYN */
	if (!fwd_c2b("takeover_first_half_open_syn", &t1, PKT_TCP_SYN, 0,
		     F_NEW, -1) ||
	    !fwd_b2c("takeover_first_synack_unanswered", &t1,
		     PKT_TCP_SYN | PKT_TCP_ACK, 0) ||
	    !fwd_c2b("takeover_second_half_open_syn", &t2, PKT_TCP_SYN, 0,
		     F_NEW, -1))
		return;
	port1 = t1.nat_port;
	port2 = t2.nat_port;
	c2b_spec(&t3, &s, PKT_TCP_SYN, 0);
	not_fwd("takeover_young_half_open_pairs_block_ports", &t3, C2B, &s,
		XDP_DROP, XLB_STAT_DROP_NAT_PORTS, 0);
	age("takeover_half_a_second_old_still_blocks", &t1, SEC_NS / 2);
	age("takeover_half_a_second_old_still_blocks", &t2, SEC_NS / 2);
	not_fwd("takeover_half_a_second_old_still_blocks", &t3, C2B, &s,
		XDP_DROP, XLB_STAT_DROP_NAT_PORTS, 0);

	/* t1 older than 1 s: t3 takes its port (whatever the probe order:
	 * t2's is still young) */
	age("takeover_stale_half_open_port_taken_over", &t1, 2 * SEC_NS);
	if (!fwd_c2b("takeover_stale_half_open_port_taken_over", &t3,
		     PKT_TCP_SYN, 0, F_NEW | F_TAKEOVER, -1))
		return;
	why[0] = 0;
	key_c2b(&t1, &k);
	if (t3.nat_port != port1)
		snprintf(why, sizeof(why), "new pair got port %u, the stale "
			 "pair held %u", t3.nat_port, port1);
	else if (!key_absent(&k))
		snprintf(why, sizeof(why), "old client entry %s left behind",
			 key_str(&k));
	else if (!check_pair(&t2, why, sizeof(why)))
		strncat(why, " (young pair t2)", sizeof(why) - strlen(why) - 1);
	report("takeover_old_pair_both_halves_gone_young_pair_kept", !why[0],
	       why);
	/* the reverse tuple now belongs to t3: the backend's answer goes
	 * to the new client, the old client's ACK finds nothing */
	fwd_b2c("takeover_backend_reply_reaches_new_client", &t3,
		PKT_TCP_SYN | PKT_TCP_ACK, 0);
	gone = t1;
	gone.be = -1;
	c2b_spec(&gone, &s, PKT_TCP_ACK, 0);
	not_fwd("takeover_old_client_ack_dropped_no_flow", &gone, C2B, &s,
		XDP_DROP, XLB_STAT_DROP_NO_FLOW, 0);

	/* t4: t2 is half a second old, t3 brand new: both block */
	c2b_spec(&t4, &s, PKT_TCP_SYN, 0);
	not_fwd("takeover_new_pair_not_taken_over", &t4, C2B, &s, XDP_DROP,
		XLB_STAT_DROP_NAT_PORTS, 0);
	age("takeover_second_stale_port_taken_over", &t2, SEC_NS);
	if (fwd_c2b("takeover_second_stale_port_taken_over", &t4, PKT_TCP_SYN,
		    0, F_NEW | F_TAKEOVER, -1)) {
		key_c2b(&t2, &k);
		why[0] = 0;
		if (t4.nat_port != port2)
			snprintf(why, sizeof(why), "new pair got port %u, the "
				 "stale pair held %u", t4.nat_port, port2);
		else if (!key_absent(&k))
			snprintf(why, sizeof(why), "old client entry %s left "
				 "behind", key_str(&k));
		report("takeover_second_old_pair_gone", !why[0], why);
	}

	test_promotion_lost(&t3);
	/* established pairs are never taken over, however old */
	if (fwd_c2b("takeover_new_client_ack_promotes", &t3, PKT_TCP_ACK, 0, 0,
		    -1)) {
		age("takeover_old_established_pair_never_taken_over", &t3,
		    10 * SEC_NS);
		c2b_spec(&t5, &s, PKT_TCP_SYN, 0);
		not_fwd("takeover_old_established_pair_never_taken_over", &t5,
			C2B, &s, XDP_DROP, XLB_STAT_DROP_NAT_PORTS, 0);
		fwd_c2b("takeover_old_established_pair_still_forwards", &t3,
			PKT_TCP_ACK, 5, 0, -1);
	}
	test_closed_takeover(&t3, &t4);
}

/* After new flow n got a free port: it is not kept's, and kept's pair
 * is intact. */
static bool udp_kept(const char *name, const struct conn *kept,
		     const struct conn *n)
{
	char why[WHY_LEN] = "";

	if (n->nat_port == kept->nat_port)
		snprintf(why, sizeof(why), "new pair got port %u, held by "
			 "%s", n->nat_port, kept->client);
	else
		check_pair(kept, why, sizeof(why));
	report(name, !why[0], why);
	return !why[0];
}

/* New flow n took the port of pair gone, whose client entry went with
 * it; pair kept is intact. */
static bool udp_taken(const char *name, const struct conn *n,
		      const struct conn *gone, const struct conn *kept)
{
	struct xlb_flow_key k;
	char why[WHY_LEN] = "";

	key_c2b(gone, &k);
	if (n->nat_port != gone->nat_port)
		snprintf(why, sizeof(why), "new pair got port %u, the pair "
			 "to give held %u", n->nat_port, gone->nat_port);
	else if (!key_absent(&k))
		snprintf(why, sizeof(why), "client entry %s of the pair that "
			 "gave its port left behind", key_str(&k));
	else if (!check_pair(kept, why, sizeof(why)))
		strncat(why, " (the pair to keep)",
			sizeof(why) - strlen(why) - 1);
	report(name, !why[0], why);
	return !why[0];
}

/*
 * (f) A UDP pair stays half-open while the client alone speaks (syslog)
 * or until the backend's answer (DNS).  Its NAT port goes to a new flow
 * that probes it once the pair has been silent both ways for 5 s; or,
 * when every port the new flow probes is held (the pool exhausted: a
 * flood), for 2 s.  On the two-port instance (a new flow probes both
 * ports), tables emptied:
 * - one port held by a pair silent 3 s, the other free: the free one;
 * - both held by 3 s old pairs, one whose client spoke and one whose
 *   backend answered just now: refused (drop_nat_ports); and once both
 *   have been silent 1.5 s;
 * - both held, by pairs silent 2.5 s and 5.5 s: the 5.5 s one gives;
 * - both held, by a pair silent 2.5 s and a fresh one: the 2.5 s one
 *   gives, and the fresh pair still gets its backend's answer.
 */
static void test_udp_takeover(void)
{
	struct conn a1 = CONN(S_UDP_ONE, "203.0.113.100", 5000);
	struct conn a2 = CONN(S_UDP_ONE, "203.0.113.101", 5000);
	struct conn b = CONN(S_UDP_ONE, "203.0.113.102", 6000);
	struct conn c = CONN(S_UDP_ONE, "203.0.113.103", 6000);
	struct pkt_spec s;
	int err;

	err = fx_map_clear(lb->m.flows);
	if (!err)
		err = fx_map_clear(lb->m.embryos);
	if (err) {
		xtest_fail("udp_takeover_setup_tables_emptied", "%s",
			   strerror(-err));
		return;
	}
	if (!fwd_c2b("udp_takeover_first_pair", &a1, 0, 20, F_NEW, -1))
		return;
	age("udp_takeover_pair_3s_silent", &a1, 3 * SEC_NS);
	if (!fwd_c2b("udp_takeover_free_port_before_a_silent_pair", &a2, 0,
		     20, F_NEW, -1) ||
	    !udp_kept("udp_takeover_free_port_before_a_silent_pair", &a1, &a2))
		return;
	/* both ports held, both pairs 3 s old; a1's client speaks again
	 * (one-way stream), a2's backend answers */
	age("udp_takeover_pairs_3s_old", &a1, 3 * SEC_NS);
	age("udp_takeover_pairs_3s_old", &a2, 3 * SEC_NS);
	if (!fwd_c2b("udp_takeover_one_way_datagram", &a1, 0, 20, 0, -1) ||
	    !fwd_b2c("udp_takeover_backend_answers", &a2, 0, 20))
		return;
	c2b_spec(&b, &s, 0, 20);
	not_fwd("udp_takeover_pairs_that_spoke_keep_ports", &b, C2B, &s,
		XDP_DROP, XLB_STAT_DROP_NAT_PORTS, 0);
	/* both silent 1.5 s: still theirs (2 s when pressed) */
	age("udp_takeover_pairs_silent", &a1, SEC_NS + SEC_NS / 2);
	age("udp_takeover_pairs_silent", &a2, SEC_NS + SEC_NS / 2);
	not_fwd("udp_takeover_pairs_silent_1_5s_keep_ports", &b, C2B, &s,
		XDP_DROP, XLB_STAT_DROP_NAT_PORTS, 0);
	/* silent 2.5 s (a1) and 5.5 s (a2): a2's port, whichever b probes
	 * first */
	age("udp_takeover_pairs_silent", &a1, SEC_NS);
	age("udp_takeover_pairs_silent", &a2, 4 * SEC_NS);
	if (!fwd_c2b("udp_takeover_5s_silent_pair_first", &b, 0, 20,
		     F_NEW | F_TAKEOVER, -1) ||
	    !udp_taken("udp_takeover_5s_silent_pair_first", &b, &a2, &a1))
		return;
	/* every port held, by b (fresh) and a1 (silent 2.5 s): a1's */
	if (!fwd_c2b("udp_takeover_2s_silent_pair_when_pressed", &c, 0, 20,
		     F_NEW | F_TAKEOVER, -1) ||
	    !udp_taken("udp_takeover_2s_silent_pair_when_pressed", &c, &a1, &b))
		return;
	fwd_b2c("udp_takeover_answer_reaches_the_pair_kept", &b, 0, 20);
}

/*
 * (e) NAT port takeover from closed established pairs (RST either way or
 * FIN both ways) whose entries both saw their last packet 2 s ago or
 * more; on the two-port instance, after (d): t3 (established) holds one
 * port, t4 (half-open) the other.
 */
static void test_closed_takeover(struct conn *t3, struct conn *t4)
{
	struct conn t5 = CONN(S_ONE, "203.0.113.98", 6001);
	struct conn t6 = CONN(S_ONE, "203.0.113.99", 6001);
	struct conn gone;
	struct xlb_flow_key k;
	struct pkt_spec s;
	char why[WHY_LEN] = "";
	__u16 port3 = t3->nat_port, port4 = t4->nat_port;

	if (!t3->established || t4->established) {
		xtest_fail("closed_takeover_setup", "t3 not established or t4 "
			   "not half-open after the takeover tests");
		return;
	}
	c2b_spec(&t5, &s, PKT_TCP_SYN, 0);
	/* FIN one way: closing, not closed, however quiet */
	if (!fwd_b2c("closed_takeover_backend_fin", t3,
		     PKT_TCP_FIN | PKT_TCP_ACK, 0))
		return;
	age("closed_takeover_half_closed_never_taken_over", t3, 10 * SEC_NS);
	not_fwd("closed_takeover_half_closed_never_taken_over", &t5, C2B, &s,
		XDP_DROP, XLB_STAT_DROP_NAT_PORTS, 0);
	/* FIN both ways: closed, but the client's FIN is fresh */
	if (!fwd_c2b("closed_takeover_client_fin", t3,
		     PKT_TCP_FIN | PKT_TCP_ACK, 0, 0, -1))
		return;
	not_fwd("closed_takeover_fresh_close_blocks", &t5, C2B, &s, XDP_DROP,
		XLB_STAT_DROP_NAT_PORTS, 0);
	age("closed_takeover_quiet_1s_blocks", t3, SEC_NS);
	not_fwd("closed_takeover_quiet_1s_blocks", &t5, C2B, &s, XDP_DROP,
		XLB_STAT_DROP_NAT_PORTS, 0);
	age("closed_takeover_quiet_2s_taken_over", t3, SEC_NS);
	if (!fwd_c2b("closed_takeover_quiet_2s_taken_over", &t5, PKT_TCP_SYN,
		     0, F_NEW | F_TAKEOVER_CLOSED, -1))
		return;
	key_c2b(t3, &k);
	if (t5.nat_port != port3)
		snprintf(why, sizeof(why), "new pair got port %u, the closed "
			 "pair held %u", t5.nat_port, port3);
	else if (!key_absent(&k))
		snprintf(why, sizeof(why), "old client entry %s left behind",
			 key_str(&k));
	else if (!check_pair(t4, why, sizeof(why)))
		strncat(why, " (half-open t4)", sizeof(why) - strlen(why) - 1);
	report("closed_takeover_old_pair_gone_others_kept", !why[0], why);
	fwd_b2c("closed_takeover_backend_reply_reaches_new_client", &t5,
		PKT_TCP_SYN | PKT_TCP_ACK, 0);
	gone = *t3;
	gone.be = -1;
	c2b_spec(&gone, &s, PKT_TCP_ACK, 0);
	not_fwd("closed_takeover_old_client_ack_dropped_no_flow", &gone, C2B,
		&s, XDP_DROP, XLB_STAT_DROP_NO_FLOW, 0);

	/* RST one way closes too: t4 established, then reset by its
	 * backend; its port goes to t6 once quiet */
	if (!fwd_b2c("closed_takeover_t4_synack", t4,
		     PKT_TCP_SYN | PKT_TCP_ACK, 0) ||
	    !fwd_c2b("closed_takeover_t4_ack_promotes", t4, PKT_TCP_ACK, 0, 0,
		     -1) ||
	    !fwd_b2c("closed_takeover_t4_backend_rst", t4, PKT_TCP_RST, 0))
		return;
	c2b_spec(&t6, &s, PKT_TCP_SYN, 0);
	not_fwd("closed_takeover_fresh_reset_blocks", &t6, C2B, &s, XDP_DROP,
		XLB_STAT_DROP_NAT_PORTS, 0);
	age("closed_takeover_reset_quiet_taken_over", t4, 2 * SEC_NS);
	if (fwd_c2b("closed_takeover_reset_quiet_taken_over", &t6, PKT_TCP_SYN,
		    0, F_NEW | F_TAKEOVER_CLOSED, -1)) {
		key_c2b(t4, &k);
		why[0] = 0;
		if (t6.nat_port != port4)
			snprintf(why, sizeof(why), "new pair got port %u, the "
				 "reset pair held %u", t6.nat_port, port4);
		else if (!key_absent(&k))
			snprintf(why, sizeof(why), "old client entry %s left "
				 "behind", key_str(&k));
		report("closed_takeover_reset_pair_gone", !why[0], why);
	}
}

/* n new connections of service svc from 203.0.113.<base+i>:port; the
 * backend of each (relative to the service's first) into seq. */
static bool new_flows(int svc, int base, __u16 port, int n, int *seq,
		      const int *want, char *why, size_t len)
{
	for (int i = 0; i < n; i++) {
		static char addr[32];
		struct conn c = CONN(svc, addr, port);
		struct pkt_spec s;

		snprintf(addr, sizeof(addr), "203.0.113.%d", base + i);
		c2b_spec(&c, &s, PKT_TCP_SYN, 0);
		if (!do_fwd("new_flows", &c, C2B, &s, F_NEW,
			    want ? (int)first_be[svc] + want[i] : -1, why,
			    len)) {
			size_t u = strlen(why);

			snprintf(why + u, len - u, " (flow %d)", i);
			return false;
		}
		seq[i] = c.be - (int)first_be[svc];
	}
	return true;
}

static const char *seq_str(const int *seq, int n)
{
	static char buf[64];

	for (int i = 0; i < n && i < 63; i++)
		buf[i] = (char)('a' + seq[i]);
	buf[n < 63 ? n : 63] = 0;
	return buf;
}

static void test_scheduling(void)
{
	static const int rr3[] = { 0, 1, 2, 0, 1, 2 };
	static const int to_b[] = { 1, 1, 1, 1 };
	static const int to_a[] = { 0, 0, 0, 0 };
	struct conn d1 = CONN(S_DRAIN, "203.0.113.140", 47000);
	struct conn d2 = CONN(S_DRAIN, "203.0.113.141", 47000);
	char why[WHY_LEN] = "";
	int seq[8];
	bool ok;
	int err;

	/* rr: a b c a b c */
	ok = new_flows(S_RR3, 150, 48000, 6, seq, rr3, why, sizeof(why));
	report("rr_three_backends_in_turn", ok, why);

	/* wrr 1,2: every period of 3 new flows has exactly 1 a and 2 b */
	ok = new_flows(S_WRR, 160, 48000, 6, seq, NULL, why, sizeof(why));
	for (int p = 0; ok && p < 2; p++) {
		int a = 0, b = 0;

		for (int i = 3 * p; i < 3 * p + 3; i++)
			if (seq[i] == 0)
				a++;
			else
				b++;
		if (a != 1 || b != 2) {
			snprintf(why, sizeof(why),
				 "period %d has %d a and %d b (sequence %s)",
				 p, a, b, seq_str(seq, 6));
			ok = false;
		}
	}
	report("wrr_weights_1_2_per_period", ok, why);

	/* weight 0 from the start: never picked */
	ok = new_flows(S_W0, 170, 48000, 4, seq, to_b, why, sizeof(why));
	report("weight0_backend_never_picked", ok, why);

	/* no backend with weight > 0: drop, no state */
	{
		struct conn c = CONN(S_NOBE, "203.0.113.175", 48000);
		struct pkt_spec s;

		c2b_spec(&c, &s, PKT_TCP_SYN, 0);
		not_fwd("no_live_backend_dropped", &c, C2B, &s, XDP_DROP,
			XLB_STAT_DROP_NO_BACKEND, 0);
	}

	/* drain: weight set to 0 and the schedule reinstalled */
	if (!fwd_c2b("drain_first_flow_backend_a", &d1, PKT_TCP_SYN, 0, F_NEW,
		     first_be[S_DRAIN]) ||
	    !fwd_c2b("drain_second_flow_backend_b", &d2, PKT_TCP_SYN, 0, F_NEW,
		     first_be[S_DRAIN] + 1))
		return;
	fwd_b2c("drain_second_flow_established", &d2,
		PKT_TCP_SYN | PKT_TCP_ACK, 0);
	svcs[S_DRAIN].be[1].weight = 0;
	err = svc_conf_install(lb, S_DRAIN, true);
	report("drain_schedule_reinstalled_weight0", !err,
	       err ? strerror(-err) : "");
	fwd_c2b("drain_existing_flow_keeps_backend", &d2, PKT_TCP_ACK, 100, 0,
		-1);
	fwd_b2c("drain_existing_flow_reply", &d2, PKT_TCP_ACK, 50);
	ok = new_flows(S_DRAIN, 180, 48000, 4, seq, to_a, why, sizeof(why));
	report("drain_new_flows_avoid_weight0_backend", ok, why);
	fwd_c2b("drain_existing_flow_still_flowing", &d2, PKT_TCP_ACK, 7, 0,
		-1);
	svcs[S_DRAIN].be[1].weight = 1;
}

/* The backend (index into svcs[svc].be) that service svc's mh table, as
 * user space builds it from the definition (weight 0: not scheduled),
 * gives client: slot xlb_client_hash(client) % len; -1 on error. */
static int mh_expect(int svc, const char *client)
{
	static __u32 slots[XLB_SCHED_MAX_SLOTS];
	const struct svc_def *d = &svcs[svc];
	struct xlb_sched_backend in[3] = {};
	struct xlb_addr a = {}, ba;
	int len;

	for (int i = 0; i < d->n; i++) {
		memset(&ba, 0, sizeof(ba));
		pkt_addr(d->be[i].addr, ba.bytes);
		in[i].id = (__u32)i;
		in[i].weight = d->be[i].weight;
		in[i].live = true;
		in[i].ident = xlb_sched_ident(&ba, d->be[i].port);
	}
	len = xlb_sched_build(XLB_ALGO_MH, in, d->n, slots,
			      XLB_SCHED_MAX_SLOTS, NULL);
	if (len <= 0)
		return -1;
	pkt_addr(client, a.bytes);
	return (int)slots[xlb_client_hash(&a) % (__u32)len];
}

/* New flows from clients 203.0.113.BASE.. (n of them, port cport): each
 * goes to the backend mh_expect() names; their backends in seq. */
static bool mh_clients(int svc, int base, int n, __u16 cport, int *seq,
		       char *why, size_t len)
{
	int want[32];

	for (int i = 0; i < n && i < 32; i++) {
		char addr[32];

		snprintf(addr, sizeof(addr), "203.0.113.%d", base + i);
		want[i] = mh_expect(svc, addr);
	}
	return new_flows(svc, base, cport, n, seq, want, why, len);
}

static void test_mh(void)
{
	static const char *const c6[] = { "2001:db8:203::50",
					  "2001:db8:203::51",
					  "2001:db8:203::52",
					  "2001:db8:203::53" };
	int seq[32], again[32], count[3] = { 0 };
	char why[WHY_LEN] = "";
	bool ok;
	int err;

	/* 24 clients: each on the backend its hash picks in the table */
	ok = mh_clients(S_MH, 200, 24, 50000, seq, why, sizeof(why));
	report("mh_client_takes_its_hash_slot", ok, why);
	if (!ok)
		return;
	for (int i = 0; i < 24; i++)
		count[seq[i]]++;
	report("mh_clients_on_every_backend",
	       count[0] && count[1] && count[2], seq_str(seq, 24));

	/* the same clients from other ports: the same backends */
	ok = new_flows(S_MH, 200, 50001, 24, again, seq, why, sizeof(why));
	report("mh_other_port_same_backend", ok, why);

	/* backend c (weight 2) out: its clients move, the others stay */
	svcs[S_MH].be[2].weight = 0;
	err = svc_conf_install(lb, S_MH, true);
	ok = !err && mh_clients(S_MH, 200, 24, 50002, again, why, sizeof(why));
	for (int i = 0; ok && i < 24; i++) {
		if ((seq[i] != 2 && again[i] != seq[i]) || again[i] == 2) {
			snprintf(why, sizeof(why),
				 "client %d: backend %c, then %c without c", i,
				 'a' + seq[i], 'a' + again[i]);
			ok = false;
		}
	}
	report("mh_backend_out_only_its_clients_move", ok,
	       err ? strerror(-err) : why);

	/* back in: every client on its first backend again */
	svcs[S_MH].be[2].weight = 2;
	err = svc_conf_install(lb, S_MH, true);
	ok = !err && new_flows(S_MH, 200, 50003, 24, again, seq, why,
			       sizeof(why));
	report("mh_backend_back_clients_return", ok,
	       err ? strerror(-err) : why);

	/* UDP over IPv6: a client's datagrams from new ports, one backend */
	for (int i = 0; i < 4; i++) {
		struct conn u1 = CONN(S_MH6, c6[i], 41000);
		struct conn u2 = CONN(S_MH6, c6[i], 41001);
		char name[64];
		int want = mh_expect(S_MH6, c6[i]);

		snprintf(name, sizeof(name), "mh6_udp_client_%d_hash_slot", i);
		if (!fwd_c2b(name, &u1, 0, 20, F_NEW, first_be[S_MH6] + want))
			continue;
		snprintf(name, sizeof(name), "mh6_udp_client_%d_other_port", i);
		fwd_c2b(name, &u2, 0, 20, F_NEW, u1.be);
	}
}

static void test_resched(void)
{
	struct conn r = CONN(S_RESCHED, "203.0.113.120", 45000);
	__u32 a = first_be[S_RESCHED], b = a + 1;

	if (!fwd_c2b("resched_syn_new_flow", &r, PKT_TCP_SYN, 0, F_NEW, a))
		return;
	fwd_b2c("resched_synack", &r, PKT_TCP_SYN | PKT_TCP_ACK, 0);
	fwd_c2b("resched_client_ack_promotes", &r, PKT_TCP_ACK, 0, 0, -1);
	fwd_c2b("resched_client_fin", &r, PKT_TCP_FIN | PKT_TCP_ACK, 0, 0, -1);
	fwd_b2c("resched_backend_fin", &r, PKT_TCP_FIN | PKT_TCP_ACK, 0);
	fwd_c2b("resched_client_last_ack", &r, PKT_TCP_ACK, 0, 0, -1);
	fwd_c2b("resched_syn_after_fin_rescheduled", &r, PKT_TCP_SYN, 0,
		F_NEW | F_RESCHED, b);
	fwd_c2b("resched_syn_retransmit_not_rescheduled", &r, PKT_TCP_SYN, 0,
		0, -1);
	fwd_b2c("resched_new_backend_reply", &r, PKT_TCP_SYN | PKT_TCP_ACK, 0);
	fwd_c2b("resched_syn_retransmit_after_reply_not_rescheduled", &r,
		PKT_TCP_SYN, 0, 0, -1);
	fwd_c2b("resched_new_client_ack_promotes", &r, PKT_TCP_ACK, 0, 0, -1);
	fwd_c2b("resched_syn_retransmit_established_not_rescheduled", &r,
		PKT_TCP_SYN, 0, 0, -1);
	fwd_b2c("resched_backend_rst", &r, PKT_TCP_RST | PKT_TCP_ACK, 0);
	fwd_c2b("resched_syn_after_backend_rst_rescheduled", &r, PKT_TCP_SYN,
		0, F_NEW | F_RESCHED, a);
	fwd_b2c("resched_third_backend_reply", &r, PKT_TCP_SYN | PKT_TCP_ACK,
		0);
	fwd_c2b("resched_third_client_ack_promotes", &r, PKT_TCP_ACK, 0, 0,
		-1);
	fwd_c2b("resched_client_rst", &r, PKT_TCP_RST, 0, 0, -1);
	fwd_c2b("resched_syn_after_client_rst_rescheduled", &r, PKT_TCP_SYN, 0,
		F_NEW | F_RESCHED, b);
	fwd_b2c("resched_final_reply", &r, PKT_TCP_SYN | PKT_TCP_ACK, 0);
}

static void test_ipv6(void)
{
	struct conn x = CONN(S_TCP6, "2001:db8:200::1", 40000);
	struct conn y = CONN(S_TCP6, "2001:db8:200::2", 40000);

	if (!fwd_c2b("tcp6_syn_new_flow", &x, PKT_TCP_SYN, 0, F_NEW, -1))
		return;
	fwd_b2c("tcp6_reply_synack", &x, PKT_TCP_SYN | PKT_TCP_ACK, 0);
	fwd_c2b("tcp6_ack", &x, PKT_TCP_ACK, 0, 0, -1);
	fwd_c2b("tcp6_data_1", &x, PKT_TCP_ACK | PKT_TCP_PSH, 1, 0, -1);
	fwd_c2b("tcp6_data_1001", &x, PKT_TCP_ACK | PKT_TCP_PSH, 1001, 0, -1);
	fwd_c2b("tcp6_data_3001", &x, PKT_TCP_ACK | PKT_TCP_PSH, 3001, 0, -1);
	fwd_b2c("tcp6_reply_data_999", &x, PKT_TCP_ACK | PKT_TCP_PSH, 999);
	fwd_b2c("tcp6_reply_data_2500", &x, PKT_TCP_ACK | PKT_TCP_PSH, 2500);
	/* rr: the next new flow goes to the other backend */
	fwd_c2b("tcp6_next_client_other_backend", &y, PKT_TCP_SYN, 0, F_NEW,
		(int)(2 * first_be[S_TCP6] + 1) - x.be);
	fwd_b2c("tcp6_next_client_reply", &y, PKT_TCP_SYN | PKT_TCP_ACK, 0);
}

/*
 * ICMP errors quoting a packet of a tracked connection.  leg C2B: the
 * quoted packet is one the balancer sent to the backend (SNAT:nat ->
 * backend); a router on the backend side reports it to the SNAT address,
 * and the client must get it from the VIP, quoting its own packet.  leg
 * B2C: the quoted packet went to the client (VIP -> client); the error
 * must reach the backend from the SNAT address, quoting the backend's
 * packet.  Everything but addresses, ports and checksums stays as it is,
 * including the quoted L4 checksum.
 */
struct icmp_err {
	__u8 type, code;
	__u32 rest;
	__u8 ttl;     /* of the error packet */
	int quote_l4; /* L4 bytes quoted (8 normally) */
	int frag;     /* the quoted packet: 1 a first fragment, 2 a later one */
};

static size_t icmp_quote(const struct pkt_spec *sp, int l4_bytes, __u8 *out,
			 __u8 *ports_out)
{
	__u8 f[PKT_MAX_FRAME];
	struct pkt_layout lo;
	size_t n = pkt_build(sp, f, sizeof(f)), len;

	if (!n || pkt_parse(f, n, &lo, NULL, 0))
		return 0;
	/* a later fragment has no L4 header: as many bytes after the IP
	 * header and its fragment header */
	if (!lo.l4_off)
		lo.l4_off = lo.l3_off + (lo.family == 6 ? 48 :
					 (f[lo.l3_off] & 0xfu) * 4);
	len = lo.l4_off - lo.l3_off + l4_bytes;
	memcpy(out, f + lo.l3_off, len);
	if (ports_out)
		memcpy(ports_out, f + lo.l4_off, 8);
	return len;
}

static bool do_icmp(const char *name, struct conn *c, enum dir leg,
		    const struct icmp_err *ie, __u32 verdict, __u32 stat,
		    char *why, size_t n)
{
	static struct xrun r;
	static __u8 exp_buf[PKT_MAX_FRAME];
	const struct svc_def *d = &svcs[c->svc];
	const struct be_def *b = be_of(c->be, NULL);
	__u8 quote[128], quote_exp[128], l4_sent[8];
	struct pkt_spec orig, sent, back, err, out;
	struct xexp e = { .verdict = verdict };
	size_t qlen;
	bool v6;

	/* the packet as its sender made it, and as the balancer sent it */
	if (leg == C2B)
		c2b_spec(c, &orig, PKT_TCP_ACK, 0);
	else
		b2c_spec(c, &orig, PKT_TCP_ACK, 0);
	orig.seq = 0x01020304;
	if (ie->frag && orig.family == 4) {
		orig.frag = ie->frag == 1 ? PKT_IP_MF : 185;
	} else if (ie->frag) {
		orig.ip6_ext = true;
		orig.ip6_ext_type = 44;
		orig.ip6_frag = ie->frag == 1 ? 1 : 185 << 3;
	}
	expect_spec(c, leg, &orig, &sent);
	v6 = sent.family == 6;
	qlen = icmp_quote(&sent, ie->quote_l4, quote, l4_sent);
	/* quoted back as its sender sent it (TTL as quoted) */
	back = orig;
	back.ttl = sent.ttl;
	icmp_quote(&back, 8, quote_exp, NULL);
	if (d->proto == IPPROTO_UDP) /* quoted UDP checksum left alone */
		memcpy(quote_exp + qlen - ie->quote_l4 + 6, l4_sent + 6, 2);

	pkt_spec_init(&err);
	err.ttl = ie->ttl;
	err.proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	err.icmp_custom = true;
	err.icmp_type = ie->type;
	err.icmp_code = ie->code;
	err.icmp_rest = ie->rest;
	err.payload = quote;
	err.payload_len = qlen;
	memcpy(err.dmac, mac_if0, 6);
	if (leg == C2B) { /* from a router next to the backend */
		pkt_mac(b->mac, err.smac);
		pkt_spec_addrs(&err, v6 ? "2001:db8:100::1" : "198.51.100.1",
			       d->vip);
	} else {	  /* from a router on the client's side */
		memcpy(err.smac, v6 ? mac_gw6 : mac_gw4, 6);
		pkt_spec_addrs(&err, v6 ? "2001:db8:200::fe" : "203.0.113.254",
			       d->vip);
	}
	r.in_len = pkt_build(&err, r.in, sizeof(r.in));
	if (xrun(&r, if0, why, n))
		return false;

	out = err;
	out.ttl = err.ttl - 1;
	out.payload = quote_exp;
	memcpy(out.smac, mac_if0, 6);
	if (leg == C2B) {
		pkt_spec_addrs(&out, d->vip, c->client);
		memcpy(out.dmac, v6 ? mac_gw6 : mac_gw4, 6);
	} else {
		pkt_spec_addrs(&out, d->vip, b->addr);
		pkt_mac(b->mac, out.dmac);
	}
	if (verdict == XDP_TX) {
		e.len = pkt_build(&out, exp_buf, sizeof(exp_buf));
		e.pkt = exp_buf;
	}
	d_stat(&e.delta, stat);
	return xcheck(name, &r, &e, why, n);
}

static void icmp(const char *name, struct conn *c, enum dir leg,
		 const struct icmp_err *ie, __u32 verdict, __u32 stat)
{
	char why[WHY_LEN];

	report(name, do_icmp(name, c, leg, ie, verdict, stat, why, sizeof(why)),
	       why);
}

static void test_icmp(void)
{
	static const struct icmp_err frag4 = { 3, 4, 1400, 64, 8, 0 };
	static const struct icmp_err port4 = { 3, 3, 0, 64, 8, 0 };
	static const struct icmp_err time4 = { 11, 0, 0, 64, 8, 0 };
	static const struct icmp_err ptb6 = { 2, 0, 1280, 64, 8, 0 };
	static const struct icmp_err unr6 = { 1, 4, 0, 64, 8, 0 };
	static const struct icmp_err frag4_ttl1 = { 3, 4, 1400, 1, 8, 0 };
	static const struct icmp_err frag4_short = { 3, 4, 1400, 64, 2, 0 };
	static const struct icmp_err ptb6_first = { 2, 0, 1280, 64, 8, 1 };
	static const struct icmp_err ptb6_later = { 2, 0, 1280, 64, 8, 2 };
	static const struct icmp_err time4_first = { 11, 1, 0, 64, 8, 1 };
	static const struct icmp_err time4_later = { 11, 1, 0, 64, 8, 2 };
	struct conn u6 = CONN(S_UDP6, "2001:db8:200::191", 49001);
	struct conn t = CONN(S_TCP, "203.0.113.190", 49000);
	struct conn u = CONN(S_UDP, "203.0.113.191", 49001);
	struct conn h = CONN(S_TCP, "203.0.113.192", 49002);
	struct conn t6 = CONN(S_TCP6, "2001:db8:200::190", 49000);
	struct conn ghost = CONN(S_TCP, "203.0.113.193", 49003);

	if (handshake("icmp_setup_tcp4", &t, -1)) {
		icmp("icmp4_frag_needed_backend_side_to_client", &t, C2B,
		     &frag4, XDP_TX, XLB_STAT_FWD_ICMP);
		icmp("icmp4_port_unreach_client_side_to_backend", &t, B2C,
		     &port4, XDP_TX, XLB_STAT_FWD_ICMP);
		icmp("icmp4_error_ttl1_dropped", &t, C2B, &frag4_ttl1,
		     XDP_DROP, XLB_STAT_DROP_TTL);
		icmp("icmp4_error_quote_without_ports_passed", &t, C2B,
		     &frag4_short, XDP_PASS, XLB_STAT_PASS_ICMP);
	}
	if (fwd_c2b("icmp_setup_udp4", &u, 0, 10, F_NEW, -1) &&
	    fwd_b2c("icmp_setup_udp4_reply", &u, 0, 10) &&
	    fwd_c2b("icmp_setup_udp4_second_request_promotes", &u, 0, 10, 0,
		    -1)) {
		icmp("icmp4_time_exceeded_udp_backend_side_to_client", &u, C2B,
		     &time4, XDP_TX, XLB_STAT_FWD_ICMP);
		icmp("icmp4_port_unreach_udp_client_side_to_backend", &u, B2C,
		     &port4, XDP_TX, XLB_STAT_FWD_ICMP);
	}
	if (fwd_c2b("icmp_setup_half_open", &h, PKT_TCP_SYN, 0, F_NEW, -1))
		icmp("icmp4_port_unreach_half_open_to_client", &h, C2B, &port4,
		     XDP_TX, XLB_STAT_FWD_ICMP);
	if (handshake("icmp_setup_tcp6", &t6, -1)) {
		icmp("icmp6_packet_too_big_backend_side_to_client", &t6, C2B,
		     &ptb6, XDP_TX, XLB_STAT_FWD_ICMP);
		icmp("icmp6_unreach_client_side_to_backend", &t6, B2C, &unr6,
		     XDP_TX, XLB_STAT_FWD_ICMP);
	}
	/* quoting a fragment: the first one has the ports, a later one
	 * none (untouched) */
	if (fwd_c2b("icmp_setup_udp6", &u6, 0, 10, F_NEW, -1)) {
		icmp("icmp6_packet_too_big_quoting_first_fragment", &u6, C2B,
		     &ptb6_first, XDP_TX, XLB_STAT_FWD_ICMP);
		icmp("icmp6_packet_too_big_quoting_later_fragment_passed", &u6,
		     C2B, &ptb6_later, XDP_PASS, XLB_STAT_PASS_ICMP);
	}
	if (u.be >= 0) {
		icmp("icmp4_time_exceeded_quoting_first_fragment", &u, C2B,
		     &time4_first, XDP_TX, XLB_STAT_FWD_ICMP);
		icmp("icmp4_time_exceeded_quoting_later_fragment_passed", &u,
		     C2B, &time4_later, XDP_PASS, XLB_STAT_PASS_ICMP);
	}
	/* quoting a connection that does not exist: untouched */
	ghost.be = (int)first_be[S_TCP];
	ghost.nat_port = 30001;
	icmp("icmp4_error_unknown_flow_passed", &ghost, C2B, &frag4, XDP_PASS,
	     XLB_STAT_PASS_ICMP);
}

struct ev_seen {
	int n, packets;
	size_t pkt_record; /* bytes of the last packet record */
	struct xlb_event last;
	struct xlb_packet_event pkt;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct ev_seen *seen = ctx;
	const struct xlb_event *ev = data;

	if (size >= offsetof(struct xlb_packet_event, data) &&
	    ev->type == XLB_EVENT_PACKET) {
		memcpy(&seen->pkt, data,
		       size < sizeof(seen->pkt) ? size : sizeof(seen->pkt));
		seen->packets++;
		seen->pkt_record = size;
	} else if (size >= sizeof(struct xlb_event)) {
		memcpy(&seen->last, data, sizeof(seen->last));
		seen->n++;
	}
	return 0;
}

/* The packet handed to the daemon is the one the program would have
 * sent, from its IP header on (checksums as built from scratch). */
static void check_handed_over(const char *name, const struct ev_seen *seen,
			      const struct conn *c, const struct pkt_spec *in)
{
	static __u8 exp[PKT_MAX_FRAME];
	struct pkt_spec out;
	char why[WHY_LEN] = "";
	size_t len;

	expect_spec(c, C2B, in, &out);
	out.trailer_len = 0; /* link-layer padding is not the packet's */
	len = pkt_build(&out, exp, sizeof(exp));
	if (seen->packets != 1)
		snprintf(why, sizeof(why), "%d packets handed over, expected 1",
			 seen->packets);
	else if (seen->pkt.len != len - 14 ||
		 seen->pkt.family != (out.family == 6 ? XLB_FAMILY_V6 :
							XLB_FAMILY_V4) ||
		 seen->pkt.ifindex != (__u32)if0)
		snprintf(why, sizeof(why), "%u bytes of family %u out of "
			 "ifindex %u, expected %zu of IPv%u out of %d",
			 seen->pkt.len, seen->pkt.family, seen->pkt.ifindex,
			 len - 14, out.family, if0);
	else if (seen->pkt_record !=
		 offsetof(struct xlb_packet_event, data) +
			 (len - 14 <= XLB_PACKET_EVENT_SMALL ?
				  XLB_PACKET_EVENT_SMALL :
				  XLB_PACKET_EVENT_BYTES))
		snprintf(why, sizeof(why), "a record of %zu bytes for a "
			 "packet of %zu", seen->pkt_record, len - 14);
	else
		for (size_t i = 0; i < len - 14 && !why[0]; i++)
			if (seen->pkt.data[i] != exp[14 + i])
				snprintf(why, sizeof(why), "IP packet differs "
					 "at byte %zu: %02x, expected %02x", i,
					 seen->pkt.data[i], exp[14 + i]);
	report(name, !why[0], why);
}

/* A burst of packets for an unresolved next hop, the ring not read
 * meanwhile: hand-overs stop once it is half full (event_lost counts the
 * rest), and the NO_NEIGH records that get the next hop resolved still
 * fit. */
static void ring_headroom(struct ring_buffer *rb, struct ev_seen *seen,
			  struct conn *c)
{
	const char *name = "fib_no_neigh_hand_over_leaves_half_the_ring";
	const int burst = 40;
	static __u8 in[PKT_MAX_FRAME], out[PKT_MAX_FRAME];
	__u64 lost = stat_now(XLB_STAT_EVENT_LOST);
	struct pkt_spec s;
	size_t in_len, out_len;
	__u32 verdict;
	int dropped = 0;

	seen->n = seen->packets = 0;
	c2b_spec(c, &s, 0, 1200);
	in_len = pkt_build(&s, in, sizeof(in));
	for (int i = 0; i < burst; i++)
		dropped += !fx_run(lb->prog_fd, if0, in, in_len, out,
				   sizeof(out), &out_len, &verdict) &&
			   verdict == XDP_DROP;
	lost = stat_now(XLB_STAT_EVENT_LOST) - lost;
	ring_buffer__consume(rb);
	if (dropped != burst || seen->n != burst || seen->packets < 10 ||
	    seen->packets + (int)lost != burst ||
	    seen->packets * (1536 + 32) > 64 * 1024 / 2 + 1536 + 32)
		xtest_fail(name, "%d of %d dropped; %d NO_NEIGH records, %d "
			   "packets handed over, event_lost +%llu",
			   dropped, burst, seen->n, seen->packets,
			   (unsigned long long)lost);
	else
		xtest_pass(name);
}

/*
 * A packet s of c larger than its path's MTU mtu, DF set (or IPv6): the
 * frame comes back (XDP_TX) as ICMP "fragmentation needed" / ICMPv6
 * "packet too big" with the MTU, from the address the packet was sent to,
 * to its sender, by the hop that delivered it (MACs swapped), quoting the
 * first 64 bytes of the packet as it arrived; drop_fib_frag and
 * too_big_sent count it.  The expected frame is built from scratch.
 */
static void too_big(const char *name, const struct pkt_spec *s, __u32 mtu)
{
	static struct xrun r;
	static __u8 want[256];
	struct xexp e = { .verdict = XDP_TX, .pkt = want };
	size_t l3 = 14 + 4 * (size_t)s->n_vlans;
	char why[WHY_LEN] = "";
	struct pkt_spec w;
	bool ok;

	r.in_len = pkt_build(s, r.in, sizeof(r.in));
	pkt_spec_init(&w);
	memcpy(w.dmac, s->smac, 6);
	memcpy(w.smac, s->dmac, 6);
	w.n_vlans = s->n_vlans;
	memcpy(w.vlans, s->vlans, sizeof(w.vlans));
	w.family = s->family;
	memcpy(w.src, s->dst, 16);
	memcpy(w.dst, s->src, 16);
	w.tos = s->family == 4 ? 0xc0 : 0;
	w.ip_id = 0;
	w.ttl = 64;
	w.proto = s->family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	w.icmp_custom = true;
	w.icmp_type = s->family == 4 ? 3 : 2;
	w.icmp_code = s->family == 4 ? 4 : 0;
	w.icmp_rest = mtu; /* IPv4: 16 bits unused, then the MTU */
	w.payload = r.in + l3;
	w.payload_len = 64;
	e.len = pkt_build(&w, want, sizeof(want));
	if (s->family == 6) /* no flow label (the builder sets one) */
		memset(want + l3 + 1, 0, 3);
	d_stat(&e.delta, XLB_STAT_DROP_FIB_FRAG);
	d_stat(&e.delta, XLB_STAT_TOO_BIG_SENT);
	ok = r.in_len && e.len && !xrun(&r, if0, why, sizeof(why));
	if (ok)
		ok = xcheck(name, &r, &e, why, sizeof(why));
	else if (!why[0])
		snprintf(why, sizeof(why), "cannot build the frames");
	report(name, ok, why);
}

/* Path-MTU discovery through a balancer whose own egress is the narrow
 * link: both directions, both families, IPv4 with and without DF. */
static void test_too_big(void)
{
	struct conn c4 = CONN(S_MTU, "203.0.113.133", 46100);
	struct conn c6 = CONN(S_MTU6, "2001:db8:200::133", 46100);
	struct conn back = CONN(S_ONE, "203.0.113.136", 46100);
	struct pkt_spec s;

	if (fwd_c2b("too_big4_syn", &c4, PKT_TCP_SYN, 0, F_NEW, -1)) {
		c2b_spec(&c4, &s, PKT_TCP_ACK, 1400 - 40 + 1);
		s.frag = PKT_IP_DF;
		too_big("too_big4_df_answered_frag_needed", &s, 1400);
		/* without DF it would have to be fragmented: dropped */
		s.frag = 0;
		not_fwd("too_big4_no_df_dropped", &c4, C2B, &s, XDP_DROP,
			XLB_STAT_DROP_FIB_FRAG, 0);
		/* VLAN-tagged: the error goes back in the same VLAN */
		s.frag = PKT_IP_DF;
		s.n_vlans = 1;
		s.vlans[0].tpid = PKT_ETH_P_8021Q;
		s.vlans[0].tci = 0x2064; /* priority 1, VLAN 100 */
		too_big("too_big4_tagged_answered_tagged", &s, 1400);
		fwd_c2b("too_big4_fitting_still_forwarded", &c4, PKT_TCP_ACK,
			1400 - 40, 0, -1);
	}
	if (fwd_c2b("too_big6_syn", &c6, PKT_TCP_SYN, 0, F_NEW, -1)) {
		c2b_spec(&c6, &s, PKT_TCP_ACK, 1300 - 60 + 1);
		too_big("too_big6_answered_packet_too_big", &s, 1300);
	}
	/* the rate: with 2 a second, 6 oversize packets at once get 2
	 * errors (3 or 4 if a second begins among them), the rest are
	 * dropped and counted too_big_limited */
	if (c4.be >= 0) {
		struct xlb_settings st;
		struct fx_counters before, after;
		unsigned int tx = 0, drop = 0, other = 0;
		char w[WHY_LEN] = "";
		static struct xrun r;

		static struct xlb_icmp_budget none[256]; /* every CPU: 0 */
		__u32 zero = 0;

		c2b_spec(&c4, &s, PKT_TCP_ACK, 1400 - 40 + 1);
		s.frag = PKT_IP_DF;
		/* the errors above count in this second: start afresh */
		if (libbpf_num_possible_cpus() > 256 ||
		    bpf_map_update_elem(bpf_map__fd(lb->skel->maps.xlb_icmp_budget),
					&zero, none, BPF_ANY) ||
		    xlb_settings_read(&lb->m, &st) || (st.icmp_per_sec = 2,
		    xlb_settings_write(&lb->m, &st)) ||
		    fx_counters_read(&lb->m, &before)) {
			snprintf(w, sizeof(w), "cannot set icmp_per_sec");
		} else {
			for (int i = 0; i < 6; i++) {
				r.in_len = pkt_build(&s, r.in, sizeof(r.in));
				if (fx_run(lb->prog_fd, if0, r.in, r.in_len,
					   r.out, sizeof(r.out), &r.out_len,
					   &r.verdict))
					other++;
				else if (r.verdict == XDP_TX)
					tx++;
				else if (r.verdict == XDP_DROP)
					drop++;
				else
					other++;
			}
			if (fx_counters_read(&lb->m, &after))
				other++;
			if (other || tx < 2 || tx > 4 || tx + drop != 6 ||
			    after.stats[XLB_STAT_TOO_BIG_LIMITED] -
					    before.stats[XLB_STAT_TOO_BIG_LIMITED] !=
				    drop ||
			    after.stats[XLB_STAT_DROP_FIB_FRAG] -
					    before.stats[XLB_STAT_DROP_FIB_FRAG] !=
				    6)
				snprintf(w, sizeof(w),
					 "2 a second: %u errors, %u dropped, "
					 "%u other; too_big_limited +%llu, "
					 "drop_fib_frag +%llu",
					 tx, drop, other,
					 (unsigned long long)(after.stats[XLB_STAT_TOO_BIG_LIMITED] -
							      before.stats[XLB_STAT_TOO_BIG_LIMITED]),
					 (unsigned long long)(after.stats[XLB_STAT_DROP_FIB_FRAG] -
							      before.stats[XLB_STAT_DROP_FIB_FRAG]));
			st.icmp_per_sec = 0;
			if (xlb_settings_write(&lb->m, &st))
				snprintf(w, sizeof(w), "cannot reset icmp_per_sec");
		}
		report("too_big_rate_limited", !w[0], w);
	}
	/* a backend's packet too big for the client's path: the error goes
	 * to the backend, from the SNAT address it sent to */
	if (handshake("too_big_reply", &back, -1)) {
		b2c_spec(&back, &s, PKT_TCP_ACK, 1400 - 40 + 1);
		s.frag = PKT_IP_DF;
		too_big("too_big4_reply_answered_to_backend", &s, 1400);
	}
}

static void test_fib(void)
{
	struct conn un = CONN(S_UNREACH, "203.0.113.130", 46000);
	struct conn nr = CONN(S_NOROUTE, "203.0.113.131", 46000);
	struct conn nn = CONN(S_NONEIGH, "203.0.113.132", 46000);
	struct conn nn6 = CONN(S_NONEIGH6, "2001:db8:200::132", 46000);
	struct conn mt = CONN(S_MTU, "203.0.113.133", 46000);
	struct conn mt2 = CONN(S_MTU, "203.0.113.133", 46001);
	struct conn rd = CONN(S_REDIR, "203.0.113.134", 46000);
	struct conn rd2 = CONN(S_REDIR, "203.0.113.135", 46001);
	struct ev_seen seen = { 0 };
	struct ring_buffer *rb;
	char why[WHY_LEN] = "";
	struct pkt_spec s;
	__u8 be13[16];
	__u32 key;

	c2b_spec(&un, &s, PKT_TCP_SYN, 0);
	not_fwd("fib_unreachable_route_syn_dropped", &un, C2B, &s, XDP_DROP,
		XLB_STAT_DROP_FIB_UNREACH, F_NEW);
	not_fwd("fib_unreachable_route_retransmit_dropped", &un, C2B, &s, XDP_DROP,
		XLB_STAT_DROP_FIB_UNREACH, 0);
	c2b_spec(&nr, &s, PKT_TCP_SYN, 0);
	not_fwd("fib_no_route_syn_dropped", &nr, C2B, &s, XDP_DROP,
		XLB_STAT_DROP_FIB_UNREACH, F_NEW);

	rb = ring_buffer__new(lb->m.daemon_events, on_event, &seen, NULL);
	if (rb)
		ring_buffer__consume(rb);
	seen.n = seen.packets = 0;
	c2b_spec(&nn, &s, PKT_TCP_SYN, 0);
	/* dropped rewritten: handed over (below) */
	not_fwd("fib_no_neigh_syn_dropped", &nn, C2B, &s, XDP_DROP,
		XLB_STAT_DROP_FIB_NO_NEIGH, F_NEW | F_ANY_BYTES);
	if (rb)
		ring_buffer__consume(rb);
	pkt_addr("198.51.100.13", be13);
	if (!rb)
		snprintf(why, sizeof(why), "ring_buffer__new failed");
	else if (seen.n != 1)
		snprintf(why, sizeof(why), "%d daemon events, expected 1",
			 seen.n);
	else if (seen.last.type != XLB_EVENT_NO_NEIGH ||
		 seen.last.ifindex != (__u32)if0 ||
		 seen.last.family != XLB_FAMILY_V4 ||
		 memcmp(seen.last.client.bytes, be13, 16))
		snprintf(why, sizeof(why),
			 "event type %u ifindex %u family %u addr %08x",
			 seen.last.type, seen.last.ifindex, seen.last.family,
			 ntohl(seen.last.client.ip4));
	report("fib_no_neigh_reported_to_daemon", !why[0], why);
	check_handed_over("fib_no_neigh_packet_handed_to_daemon", &seen, &nn,
			  &s);
	/* a bare ACK: the frame's padding to 60 bytes is not handed over */
	seen.packets = 0;
	c2b_spec(&nn, &s, PKT_TCP_ACK, 0);
	s.trailer_len = 6; /* 54 + 6: Ethernet's minimum */
	not_fwd("fib_no_neigh_ack_dropped", &nn, C2B, &s, XDP_DROP,
		XLB_STAT_DROP_FIB_NO_NEIGH, F_ANY_BYTES);
	if (rb)
		ring_buffer__consume(rb);
	check_handed_over("fib_no_neigh_padded_frame_handed_over_unpadded",
			  &seen, &nn, &s);
	/* UDP over IPv6, larger than the small record */
	seen.packets = 0;
	c2b_spec(&nn6, &s, 0, 300);
	not_fwd("fib_no_neigh_udp6_dropped", &nn6, C2B, &s, XDP_DROP,
		XLB_STAT_DROP_FIB_NO_NEIGH, F_NEW | F_ANY_BYTES);
	if (rb)
		ring_buffer__consume(rb);
	check_handed_over("fib_no_neigh_udp6_large_handed_over", &seen, &nn6,
			  &s);
	if (rb)
		ring_headroom(rb, &seen, &nn6);
	ring_buffer__free(rb);
	if (!fx_sh("ip neigh replace 198.51.100.13 lladdr " BE13_MAC
		   " dev " FX_IF " nud permanent"))
		fwd_c2b("fib_no_neigh_resolved_retransmit_forwarded", &nn,
			PKT_TCP_SYN, 0, 0, -1);
	else
		xtest_fail("fib_no_neigh_resolved_retransmit_forwarded",
			   "ip neigh replace failed");

	/* route mtu 1400: a 1401-byte packet cannot go; the SYN's lookup
	 * (asked for 1500 bytes, refused with the MTU, asked again for
	 * 1400) holds for packets up to the MTU */
	if (fwd_c2b("fib_mtu_route_syn", &mt, PKT_TCP_SYN, 0, F_NEW, -1)) {
		char w[WHY_LEN] = "";
		struct xlb_flow_key k;
		struct xlb_flow v;

		key_c2b(&mt, &k);
		if (fx_flow_get(lb->m.embryos, &k, &v))
			snprintf(w, sizeof(w), "no client entry");
		else if (!v.nh_at_ns || v.nh_max_bytes != 1400)
			snprintf(w, sizeof(w),
				 "nh_at_ns %llu nh_max_bytes %u, expected "
				 "the route's MTU 1400",
				 (unsigned long long)v.nh_at_ns,
				 v.nh_max_bytes);
		report("fib_mtu_route_syn_caches_path_mtu", !w[0], w);
		/* a first lookup for a packet of exactly the MTU: refused
		 * at 1500 bytes, asked again with the MTU, forwarded */
		fwd_c2b("fib_mtu_syn_exactly_fits_forwarded", &mt2,
			PKT_TCP_SYN, 1400 - 40, F_NEW, -1);
		c2b_spec(&mt, &s, PKT_TCP_ACK, 1400 - 40 + 1);
		not_fwd("fib_mtu_exceeded_no_df_dropped", &mt, C2B, &s, XDP_DROP,
			XLB_STAT_DROP_FIB_FRAG, 0);
		fwd_c2b("fib_mtu_exactly_fits_forwarded", &mt, PKT_TCP_ACK,
			1400 - 40, 0, -1);
	}

	/* backend behind another interface: redirect via xlb_tx_ports */
	c2b_spec(&rd, &s, PKT_TCP_SYN, 0);
	not_fwd("redirect_egress_not_in_tx_ports_dropped", &rd, C2B, &s, XDP_DROP,
		XLB_STAT_DROP_REDIRECT, F_NEW | F_ANY_BYTES);
	/* ... also while its neighbour is unknown: not handed over to xlb
	 * run, which would send it where the program never sends */
	if (fx_sh("ip neigh del 192.0.2.20 dev " IF2)) {
		xtest_fail("redirect_egress_no_neigh_not_handed_over",
			   "ip neigh del failed");
	} else {
		c2b_spec(&rd2, &s, PKT_TCP_SYN, 0);
		not_fwd("redirect_egress_no_neigh_not_handed_over", &rd2, C2B,
			&s, XDP_DROP, XLB_STAT_DROP_REDIRECT,
			F_NEW | F_ANY_BYTES);
		if (fx_sh("ip neigh replace 192.0.2.20 lladdr " BE20_MAC
			  " dev " IF2 " nud permanent"))
			xtest_fail("redirect_neighbour_restored",
				   "ip neigh failed");
	}
	key = (__u32)if2;
	if (bpf_map_update_elem(lb->m.tx_ports, &key, &key, BPF_ANY))
		xtest_fail("redirect_egress_in_tx_ports_redirected",
			   "xlb_tx_ports update: %s", strerror(errno));
	else
		fwd_c2b("redirect_egress_in_tx_ports_redirected", &rd,
			PKT_TCP_SYN, 0, 0, -1);
}

int main(void)
{
	static const char *const extra[] = {
		"ip route add unreachable 192.0.2.64/26",
		"ip route add 198.51.100.15/32 dev " FX_IF " mtu lock 1400",
		"ip neigh replace 198.51.100.15 lladdr " BE15_MAC " dev " FX_IF
		" nud permanent",
		"ip -6 route add 2001:db8:100::15/128 dev " FX_IF " mtu lock 1300",
		"ip -6 neigh replace 2001:db8:100::15 lladdr " BE6_15_MAC
		" dev " FX_IF " nud permanent",
		/* a client behind a 1400-byte hop (replies too big) */
		"ip route add 203.0.113.136/32 via " FX_GW4 " dev " FX_IF
		" mtu lock 1400",
		"ip link add " IF2 " type veth peer name " PEER2,
		"ip link set " IF2 " address " IF2_MAC " up",
		"ip link set " PEER2 " up",
		"ip addr add 192.0.2.1/26 dev " IF2,
		"ip neigh replace 192.0.2.20 lladdr " BE20_MAC " dev " IF2
		" nud permanent",
		"ip link add " IF4 " type veth peer name " PEER4,
		"ip link set " IF4 " address " IF4_MAC " up",
		"ip link set " PEER4 " up",
		"ip addr add 192.0.2.129/28 dev " IF4,
		"ip neigh replace " VLAN_CLIENT " lladdr " VLAN_CLIENT_MAC
		" dev " IF4 " nud permanent",
		"ip neigh replace 192.0.2.21 lladdr " VLAN_BE_MAC " dev " IF2
		" nud permanent",
	};
	char why[WHY_LEN] = "";
	__u32 next_be = 0;
	int err = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	test_reference();
	if (fx_netns_enter(why, sizeof(why))) {
		xtest_skip("xdp_data_path", "%s", why);
		return xtest_done();
	}
	err = fx_topology_setup(why, sizeof(why));
	for (size_t i = 0; !err && i < sizeof(extra) / sizeof(extra[0]); i++)
		if (fx_sh("%s", extra[i])) {
			snprintf(why, sizeof(why), "setup failed: %s", extra[i]);
			err = -1;
		}
	if (err) {
		xtest_fail("fixture_topology", "%s", why);
		return xtest_done();
	}
	if0 = fx_ifindex(FX_IF);
	if2 = fx_ifindex(IF2);
	pkt_mac(FX_IF_MAC, mac_if0);
	pkt_mac(IF2_MAC, mac_if2);
	pkt_mac(CLIENT_MAC, mac_client);
	pkt_mac(FX_GW4_MAC, mac_gw4);
	pkt_mac(FX_GW6_MAC, mac_gw6);

	err = fx_load(&lb_main, MAX_FLOWS, nat_min, nat_max);
	if (err) {
		if (err == -EPERM)
			xtest_skip("xdp_data_path", "xlb_load: %s",
				   strerror(-err));
		else
			xtest_fail("fixture_load", "xlb_load: %s",
				   strerror(-err));
		return xtest_done();
	}
	for (int i = 0; i < N_SVC && !err; i++) {
		first_be[i] = next_be;
		next_be += svcs[i].n;
		err = svc_conf_install(&lb_main, i, false);
		if (err)
			snprintf(why, sizeof(why), "service %d: %s", i,
				 strerror(-err));
	}
	report("fixture_load_and_install", !err, why);
	if (err)
		return xtest_done();

	test_oracle();
	test_tcp4_flow();
	test_next_hop_carried();
	test_ttl();
	test_raw_table();
	test_malformed();
	test_martian_sources();
	test_udp();
	test_fragments();
	test_vlan();
	test_vlan_routing();
	test_ip_options();
	test_same_source_port();
	test_backend_port_filter();
	test_probe_spread();
	test_nat_range();
	test_scheduling();
	test_mh();
	test_resched();
	test_half_open();
	test_rst_window();
	test_ipv6();
	test_icmp();
	test_fib();
	test_too_big();

	fx_unload(&lb_main);
	return xtest_done();
}
