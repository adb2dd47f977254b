// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Differential fuzzer of the xlb data path: N packets (seeded PRNG) run
 * through the real XDP program (BPF_PROG_TEST_RUN, repeat 1) and through
 * the reference model (model.c), and compared:
 *   - verdict, output bytes (0x0000/0xffff equal only in IPv4-header, TCP
 *     and ICMP checksums), the counter of the packet's reason, and every
 *     connection-table entry the packet created, changed or removed;
 *   - at the end of each epoch (a run of packets from empty tables): every
 *     counter (reasons, events, per service and per backend), both
 *     connection tables entry by entry, and the fragment records
 *     (xlb_frags: ports and time stamp of each datagram's first fragment;
 *     emptied with the tables at every epoch).
 * Invariants checked on every packet besides the model:
 *   - a forwarded packet whose input had valid checksums has valid
 *     checksums, recomputed from scratch (tests/unit/pkt.c, a third
 *     implementation), and UDP over IPv4 carries checksum 0 only if the
 *     input did; a translated ICMP error's quoted IPv4 header too;
 *   - XDP_PASS leaves the frame byte for byte as it came, and a packet
 *     that is neither for a service nor for a tracked flow is passed;
 *   - a client of an mh (Maglev) service always gets the same backend.
 *
 * Everything runs in a private network namespace (unshare) with the
 * routes and static neighbours the model knows (m_topo below), and two
 * instances of the program: "A" (large tables, default NAT range) and
 * "B" (24 connections, 8 NAT ports: table full and port exhaustion, no
 * redirect).  The environment acts too: emulated LRU evictions, expiries
 * of established pairs, pairs aged (their time stamps moved back 1.5 or
 * 2.5 s in the program and the model alike: NAT port takeovers from stale
 * half-open and closed pairs), fragment records aged past (1.1 s) or
 * just short of (0.9 s) XLB_FRAG_TIMEOUT_NS or evicted, and pauses of
 * 1.1 s (the program's 1 s timers).
 *
 * Mismatches are classified by the known bug that explains them, if any
 * (docs/reliability.md, section 6): B1 (a header past the IP length),
 * B2 (the FIN/RST of a promoting packet); --lenient tolerates B1.
 *
 * On a mismatch: seed, packet index, both outputs in hex and the first
 * differing byte are printed (the first few in full), and a reproducer
 * (the epoch's packets and table events up to that one) is written to
 * the reproducer directory; --replay FILE runs it again, verbosely.
 *
 * Before fuzzing, the reproducers in tests/fuzz/repro/ (bugs found so
 * far) are replayed as regression tests (--no-repro skips them).
 *
 * Usage: test_diff_fuzz [-n PACKETS] [-s SEED] [-t SECONDS] [-o DIR]
 *                       [-r FILE] [-v] [--lenient] [--no-repro]
 * (defaults: 2,000,000 packets, a fresh seed, 60 s, build/fuzz-repro).
 * Output: PASS/FAIL lines for tests/run.sh, and the figures.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "tables.h"
#include "sched.h"
#include "fixture.h"
#include "pkt.h"
#include "model.h"
#include "gen.h"

#define SHOW_MAX 8 /* mismatches printed in full */
#define SLEEP_EVERY 400000 /* packets between two pauses of SLEEP_MS */
#define SLEEP_MS 1100

static int ifindexes[M_MAX_IFACES]; /* model interface -> kernel ifindex */

/* CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns() */
/* Both clocks of the program (struct m_clock): the precise one, then the
 * coarse one, so that [before, after] brackets each. */
static void clock_read(uint64_t *ns, uint64_t *coarse_ns)
{
	struct timespec a, c;

	clock_gettime(CLOCK_MONOTONIC, &a);
	clock_gettime(CLOCK_MONOTONIC_COARSE, &c);
	*ns = (uint64_t)a.tv_sec * 1000000000ull + a.tv_nsec;
	*coarse_ns = (uint64_t)c.tv_sec * 1000000000ull + c.tv_nsec;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* The network: what the namespace has and what the model knows        */
/* ------------------------------------------------------------------ */

#define A4(a, b, c, d) { a, b, c, d }
/* 2001:db8:G3:G4::LAST */
#define DB8(g3, g4, last) { 0x20, 0x01, 0x0d, 0xb8, (g3) >> 8, (g3) & 0xff, (g4) >> 8, (g4) & 0xff, [15] = (last) }

static struct m_topo topo = {
	.ifaces = {
		{ .name = "xfz0", .peer = "xfz1",
		  .mac = { 0x02, 0, 0, 0, 0xf0, 0x00 }, .mtu = 1500,
		  .addr4 = A4(198, 51, 100, 10), .plen4 = 24,
		  .addr6 = DB8(0x100, 0, 0x10), .plen6 = 64 },
		{ .name = "xfz2", .peer = "xfz3",
		  .mac = { 0x02, 0, 0, 0, 0xf2, 0x00 }, .mtu = 1500,
		  .addr4 = A4(192, 0, 2, 1), .plen4 = 26,
		  .addr6 = DB8(0x300, 0, 0x1), .plen6 = 64 },
	},
	.n_ifaces = 2,
	.routes = {
		{ 4, A4(203, 0, 113, 0), 25, M_RT_UNICAST, true, A4(198, 51, 100, 2), 0, 0 },
		{ 4, A4(203, 0, 113, 128), 25, M_RT_UNICAST, true, A4(198, 51, 100, 2), 0, 1280 },
		{ 4, A4(192, 0, 2, 64), 26, M_RT_UNREACHABLE },
		{ 4, A4(192, 0, 2, 128), 27, M_RT_BLACKHOLE },
		{ 4, A4(192, 0, 2, 160), 27, M_RT_PROHIBIT },
		{ 4, A4(192, 0, 2, 192), 26, M_RT_UNICAST, true, A4(198, 51, 100, 3), 0, 0 },
		{ 6, DB8(0x200, 0, 0), 64, M_RT_UNICAST, true, DB8(0x100, 0, 2), 0, 0 },
		{ 6, DB8(0x201, 0, 0), 64, M_RT_UNICAST, true, DB8(0x100, 0, 2), 0, 1280 },
		{ 6, DB8(0xf00, 0, 0), 48, M_RT_UNREACHABLE },
		{ 6, DB8(0xf01, 0, 0), 48, M_RT_BLACKHOLE },
		{ 6, DB8(0xf02, 0, 0), 48, M_RT_PROHIBIT },
		{ 6, DB8(0xf03, 0, 0), 48, M_RT_UNICAST, true, DB8(0x100, 0, 3), 0, 0 },
	},
	.n_routes = 12,
	.neigh = {
		{ 4, A4(198, 51, 100, 2), 0, { 2, 0, 0, 0, 0, 0x02 } },
		{ 4, A4(198, 51, 100, 11), 0, { 2, 0, 0, 0, 0, 0x11 } },
		{ 4, A4(198, 51, 100, 12), 0, { 2, 0, 0, 0, 0, 0x12 } },
		{ 4, A4(198, 51, 100, 14), 0, { 2, 0, 0, 0, 0, 0x14 } },
		{ 4, A4(192, 0, 2, 5), 1, { 2, 0, 0, 0, 2, 0x05 } },
		{ 4, A4(192, 0, 2, 6), 1, { 2, 0, 0, 0, 2, 0x06 } },
		{ 6, DB8(0x100, 0, 2), 0, { 2, 0, 0, 0, 6, 0x02 } },
		{ 6, DB8(0x100, 0, 0x11), 0, { 2, 0, 0, 0, 6, 0x11 } },
		{ 6, DB8(0x100, 0, 0x12), 0, { 2, 0, 0, 0, 6, 0x12 } },
		{ 6, DB8(0x300, 0, 5), 1, { 2, 0, 0, 0, 3, 0x05 } },
	},
	.n_neigh = 10,
};

static const char *addr_str(uint8_t family, const uint8_t *a, char *buf,
			    size_t n)
{
	return inet_ntop(family == 4 ? AF_INET : AF_INET6, a, buf, n);
}

static const char *mac_str(const uint8_t *m, char *buf)
{
	sprintf(buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
		m[4], m[5]);
	return buf;
}

static int topo_setup(char *why, size_t wl)
{
	char a[64], g[64], mac[32];

	if (fx_sh("ip link set lo up"))
		goto fail;
	for (int i = 0; i < topo.n_ifaces; i++) {
		struct m_iface *f = &topo.ifaces[i];

		if (fx_sh("ip link add %s type veth peer name %s", f->name,
			  f->peer) ||
		    fx_sh("ip link set %s address %s mtu %u", f->name,
			  mac_str(f->mac, mac), f->mtu) ||
		    fx_sh("ip link set %s up && ip link set %s up", f->name,
			  f->peer) ||
		    fx_sh("ip addr add %s/%u dev %s",
			  addr_str(4, f->addr4, a, sizeof(a)), f->plen4,
			  f->name) ||
		    fx_sh("ip -6 addr add %s/%u dev %s nodad",
			  addr_str(6, f->addr6, a, sizeof(a)), f->plen6,
			  f->name))
			goto fail;
		f->ifindex = fx_ifindex(f->name);
		if (f->ifindex <= 0)
			goto fail;
		ifindexes[i] = f->ifindex;
	}
	for (int i = 0; i < topo.n_routes; i++) {
		const struct m_route *r = &topo.routes[i];
		static const char *const types[] = { "", "blackhole ",
						     "unreachable ", "prohibit " };
		char extra[128] = "";

		if (r->type == M_RT_UNICAST)
			snprintf(extra, sizeof(extra), " via %s dev %s",
				 addr_str(r->family, r->gw, g, sizeof(g)),
				 topo.ifaces[r->iface].name);
		if (r->mtu_lock)
			snprintf(extra + strlen(extra),
				 sizeof(extra) - strlen(extra), " mtu lock %u",
				 r->mtu_lock);
		if (fx_sh("ip -%d route add %s%s/%u%s", r->family, types[r->type],
			  addr_str(r->family, r->prefix, a, sizeof(a)), r->plen,
			  extra))
			goto fail;
	}
	for (int i = 0; i < topo.n_neigh; i++) {
		const struct m_neigh *n = &topo.neigh[i];

		if (fx_sh("ip -%d neigh replace %s lladdr %s dev %s nud permanent",
			  n->family, addr_str(n->family, n->addr, a, sizeof(a)),
			  mac_str(n->mac, mac), topo.ifaces[n->iface].name))
			goto fail;
	}
	if (fx_sysctl("net/ipv4/conf/all/forwarding", "1") ||
	    fx_sysctl("net/ipv6/conf/all/forwarding", "1"))
		goto fail;
	for (int i = 0; i < topo.n_ifaces; i++) {
		char p[128];

		snprintf(p, sizeof(p), "net/ipv4/conf/%s/forwarding",
			 topo.ifaces[i].name);
		if (fx_sysctl(p, "1"))
			goto fail;
		snprintf(p, sizeof(p), "net/ipv6/conf/%s/forwarding",
			 topo.ifaces[i].name);
		if (fx_sysctl(p, "1"))
			goto fail;
	}
	return 0;
fail:
	snprintf(why, wl, "namespace set-up failed (see stderr)");
	return -1;
}

/* ------------------------------------------------------------------ */
/* Services                                                            */
/* ------------------------------------------------------------------ */

struct be_def {
	const char *addr;
	uint16_t port, weight;
};

struct svc_def {
	const char *vip, *snat;
	uint16_t port;
	uint8_t proto;
	enum xlb_algo algo;
	int n;
	struct be_def be[4];
};

static const struct svc_def svc_defs[] = {
	{ "198.51.100.10", "198.51.100.10", 80, IPPROTO_TCP, XLB_ALGO_RR, 3,
	  { { "198.51.100.11", 8080, 1 }, { "198.51.100.12", 80, 1 },
	    { "198.51.100.14", 80, 1 } } },
	{ "198.51.100.10", "198.51.100.10", 53, IPPROTO_UDP, XLB_ALGO_WRR, 2,
	  { { "198.51.100.11", 53, 2 }, { "198.51.100.12", 5353, 1 } } },
	/* a service port inside NAT range A; one backend without neighbour */
	{ "198.51.100.10", "198.51.100.10", 8000, IPPROTO_TCP, XLB_ALGO_RR, 2,
	  { { "198.51.100.11", 8000, 1 }, { "198.51.100.13", 8000, 1 } } },
	{ "2001:db8:100::10", "2001:db8:100::10", 80, IPPROTO_TCP, XLB_ALGO_RR,
	  2, { { "2001:db8:100::11", 80, 1 }, { "2001:db8:100::12", 8080, 1 } } },
	{ "2001:db8:100::10", "2001:db8:100::10", 53, IPPROTO_UDP, XLB_ALGO_RR,
	  2, { { "2001:db8:100::11", 53, 1 }, { "2001:db8:100::13", 53, 1 } } },
	/* a second VIP, SNAT on the first; one backend unreachable */
	{ "198.51.100.20", "198.51.100.10", 443, IPPROTO_TCP, XLB_ALGO_WRR, 2,
	  { { "198.51.100.12", 443, 3 }, { "192.0.2.70", 443, 1 } } },
	/* backends behind the second interface (redirect) */
	{ "198.51.100.21", "192.0.2.1", 80, IPPROTO_TCP, XLB_ALGO_RR, 2,
	  { { "192.0.2.5", 80, 1 }, { "192.0.2.6", 80, 1 } } },
	/* no live backend */
	{ "198.51.100.22", "198.51.100.10", 80, IPPROTO_UDP, XLB_ALGO_RR, 1,
	  { { "198.51.100.11", 80, 0 } } },
	{ "2001:db8:100::20", "2001:db8:300::1", 443, IPPROTO_UDP, XLB_ALGO_RR,
	  1, { { "2001:db8:300::5", 443, 1 } } },
	/* a service port inside NAT range B */
	{ "198.51.100.10", "198.51.100.10", 2000, IPPROTO_UDP, XLB_ALGO_RR, 1,
	  { { "198.51.100.12", 2000, 1 } } },
	/* backends: two fine, one behind a gateway without neighbour, one
	 * behind a route with mtu 1280 */
	{ "198.51.100.23", "198.51.100.10", 80, IPPROTO_TCP, XLB_ALGO_RR, 4,
	  { { "198.51.100.11", 80, 1 }, { "198.51.100.12", 80, 1 },
	    { "192.0.2.200", 80, 1 }, { "203.0.113.140", 80, 1 } } },
	/* Maglev (a table of 65521 slots): the client's address picks the
	 * backend; weighted, one backend behind the second interface */
	{ "198.51.100.24", "198.51.100.10", 80, IPPROTO_TCP, XLB_ALGO_MH, 3,
	  { { "198.51.100.11", 80, 1 }, { "198.51.100.12", 8080, 2 },
	    { "192.0.2.5", 80, 1 } } },
	{ "2001:db8:100::21", "2001:db8:100::10", 53, IPPROTO_UDP, XLB_ALGO_MH,
	  3, { { "2001:db8:100::11", 53, 1 }, { "2001:db8:100::12", 5353, 1 },
	       { "2001:db8:300::5", 53, 1 } } },
	/* Maglev with one backend scheduled (a table of one slot) */
	{ "198.51.100.25", "198.51.100.10", 80, IPPROTO_UDP, XLB_ALGO_MH, 2,
	  { { "198.51.100.11", 80, 0 }, { "198.51.100.12", 80, 1 } } },
};
#define N_SVC (int)(sizeof(svc_defs) / sizeof(svc_defs[0]))

/* ------------------------------------------------------------------ */
/* Instances                                                           */
/* ------------------------------------------------------------------ */

struct inst {
	const char *name;
	__u32 max_flows, max_half_open;
	__u16 nat_min, nat_max;
	int epoch_max;
	bool redirect; /* the second interface is in xlb_tx_ports */
	struct xlb *skel;
	struct xlb_maps m;
	int prog_fd;
	int frags_fd; /* xlb_frags: not pinned, so not in m */
	struct ring_buffer *handed; /* xlb_daemon_events, read every packet */
	struct model model;
};

/* The packets one run handed to xlb run (XLB_EVENT_PACKET records). */
static struct {
	int n;
	struct xlb_packet_event last;
} handed;

static int on_daemon_record(void *ctx, void *data, size_t size)
{
	const struct xlb_packet_event *ev = data;

	if (size < offsetof(struct xlb_packet_event, data) ||
	    ev->type != XLB_EVENT_PACKET)
		return 0; /* NO_NEIGH: what xlb run resolves */
	handed.n++;
	memcpy(&handed.last, data,
	       size < sizeof(handed.last) ? size : sizeof(handed.last));
	return 0;
}

static struct inst insts[2] = {
	{ .name = "A", .max_flows = 65536, .max_half_open = 16384,
	  .nat_min = XLB_DEFAULT_NAT_PORT_MIN,
	  .nat_max = XLB_DEFAULT_NAT_PORT_MAX, .epoch_max = 3000,
	  .redirect = true },
	/* small: the flow table fills (48 entries), NAT ports run out (8),
	 * no redirect (the second interface is not in xlb_tx_ports) */
	{ .name = "B", .max_flows = 24, .max_half_open = 4096, .nat_min = 2000,
	  .nat_max = 2007, .epoch_max = 1500 },
};

static int ncpus;

/* The model's copy of a service's schedule table, built as
 * xlb_schedule_install() (src/tables.c) builds the program's: the same
 * builder, max_slots and backend idents (mh slots depend on them). */
static int model_schedule(struct m_service *ms,
			  const struct xlb_sched_backend *sb, int n)
{
	static __u32 buf[XLB_SCHED_MAX_SLOTS];
	int len;

	len = xlb_sched_build(ms->algo, sb, n, buf, XLB_SCHED_MAX_SLOTS, NULL);
	if (len < 0)
		return len;
	ms->slots = malloc((len ? len : 1) * sizeof(*ms->slots));
	if (!ms->slots)
		return -ENOMEM;
	memcpy(ms->slots, buf, len * sizeof(*buf));
	ms->n_slots = len;
	return 0;
}

/* The program's schedule table of service id is the model's, slot for
 * slot (-EBADMSG and why if not). */
static int schedule_cmp(const struct inst *in, __u32 id, char *why, size_t wl)
{
	const struct m_service *ms = &in->model.svc[id];
	__u32 *got = calloc(ms->n_slots + 1, sizeof(*got)), k = 0;
	int len = got ? fx_schedule_read(in->m.schedules, id, got,
					 ms->n_slots) :
			-ENOMEM;
	int err = len < 0 ? len : 0;

	if (!err && (__u32)len != ms->n_slots)
		err = -EBADMSG;
	for (; !err && k < ms->n_slots; k++)
		if (got[k] != ms->slots[k])
			err = -EBADMSG;
	free(got);
	if (err == -EBADMSG)
		snprintf(why, wl, "schedule %u: the program's table (%d slots) "
			 "differs from the model's (%u) at slot %u", id, len,
			 ms->n_slots,
			 (__u32)len != ms->n_slots ? 0 : k);
	return err;
}

static int inst_setup(struct inst *in, unsigned int model_opts, char *why,
		      size_t wl)
{
	struct xlb_load_opts o = { .max_flows = in->max_flows,
				   .max_half_open = in->max_half_open,
				   .nat_port_min = in->nat_min,
				   .nat_port_max = in->nat_max };
	__u32 first = 0;
	int err;

	err = xlb_load(&o, &in->skel, &in->m);
	if (err) {
		snprintf(why, wl, "xlb_load (%s): %s", in->name, strerror(-err));
		return err;
	}
	in->prog_fd = bpf_program__fd(in->skel->progs.xlb_xdp);
	in->frags_fd = bpf_map__fd(in->skel->maps.xlb_frags);
	/* no ICMP rate: the model answers every oversize packet (the rate
	 * is test_xdp's too_big_rate_limited) */
	{
		struct xlb_settings s;

		err = xlb_settings_read(&in->m, &s);
		if (!err) {
			s.icmp_per_sec = UINT32_MAX;
			err = xlb_settings_write(&in->m, &s);
		}
		if (err) {
			snprintf(why, wl, "xlb_settings: %s", strerror(-err));
			return err;
		}
	}
	in->handed = ring_buffer__new(in->m.daemon_events, on_daemon_record,
				      NULL, NULL);
	if (!in->handed) {
		snprintf(why, wl, "ring_buffer__new: %s", strerror(errno));
		return -errno;
	}
	if (model_init(&in->model, &topo, in->nat_min, in->nat_max,
		       2 * (size_t)in->max_flows, (size_t)-1, model_opts)) {
		snprintf(why, wl, "model_init: out of memory");
		return -ENOMEM;
	}
	for (int i = 1; i < topo.n_ifaces && in->redirect; i++) {
		__u32 k = topo.ifaces[i].ifindex;

		if (bpf_map_update_elem(in->m.tx_ports, &k, &k, BPF_ANY)) {
			snprintf(why, wl, "xlb_tx_ports: %s", strerror(errno));
			return -errno;
		}
		in->model.tx_port[i] = true;
	}
	for (int id = 0; id < N_SVC; id++) {
		const struct svc_def *d = &svc_defs[id];
		struct xlb_backend_conf be[4] = {};
		struct xlb_sched_backend sb[4] = {};
		struct xlb_service_conf c = {};
		struct m_service *ms = &in->model.svc[id];

		for (int i = 0; i < d->n; i++) {
			struct m_backend *mb = &in->model.be[first + i];

			be[i].family = pkt_addr(d->be[i].addr, be[i].addr.bytes);
			be[i].port = d->be[i].port;
			be[i].weight = d->be[i].weight;
			sb[i].id = first + i;
			sb[i].weight = d->be[i].weight;
			sb[i].live = true;
			sb[i].ident = xlb_sched_ident(&be[i].addr, be[i].port);
			mb->in_use = true;
			mb->family = be[i].family;
			mb->addr = be[i].addr;
			mb->port = be[i].port;
			mb->weight = be[i].weight;
		}
		c.family = pkt_addr(d->vip, c.vip.bytes);
		pkt_addr(d->snat, c.snat.bytes);
		c.port = d->port;
		c.proto = d->proto;
		c.algo = d->algo;
		c.first_backend_id = first;
		c.n_backends = d->n;
		c.backends = be;
		err = xlb_service_install(&in->m, id, &c, NULL);
		if (err) {
			snprintf(why, wl, "service %d: %s", id, strerror(-err));
			return err;
		}
		ms->in_use = true;
		ms->family = c.family;
		ms->proto = c.proto;
		ms->vip = c.vip;
		ms->snat = c.snat;
		ms->port = c.port;
		ms->algo = c.algo;
		ms->first_backend = first;
		ms->n_backends = d->n;
		err = model_schedule(ms, sb, d->n);
		if (!err)
			err = schedule_cmp(in, id, why, wl);
		if (err) {
			if (err != -EBADMSG)
				snprintf(why, wl, "schedule %d: %s", id,
					 strerror(-err));
			return err;
		}
		first += d->n;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Reading the program's state                                         */
/* ------------------------------------------------------------------ */

static __u64 stat_read(const struct inst *in, __u32 stat)
{
	__u64 v[ncpus], sum = 0;

	if (bpf_map_lookup_elem(in->m.stats, &stat, v))
		return ~0ull;
	for (int i = 0; i < ncpus; i++)
		sum += v[i];
	return sum;
}

static void traffic_read(int fd, __u32 id, struct xlb_traffic *t)
{
	struct xlb_traffic v[ncpus];

	memset(t, 0, sizeof(*t));
	if (bpf_map_lookup_elem(fd, &id, v))
		return;
	for (int i = 0; i < ncpus; i++) {
		t->conns += v[i].conns;
		t->packets += v[i].packets;
		t->bytes += v[i].bytes;
	}
}

struct counters {
	__u64 stats[XLB_STAT_MAX];
	struct xlb_traffic svc[M_MAX_SVC], be[M_MAX_BE];
};

static void counters_read(const struct inst *in, struct counters *c)
{
	for (__u32 s = 0; s < XLB_STAT_MAX; s++)
		c->stats[s] = stat_read(in, s);
	for (__u32 i = 0; i < M_MAX_SVC; i++)
		traffic_read(in->m.service_stats, i, &c->svc[i]);
	for (__u32 i = 0; i < M_MAX_BE; i++)
		traffic_read(in->m.backend_stats, i, &c->be[i]);
}

/* The first counter that differs, in why; 0 if none. */
static int counters_cmp(const struct inst *in, char *why, size_t wl)
{
	struct counters c;
	const struct model *m = &in->model;

	counters_read(in, &c);
	for (__u32 s = 0; s < XLB_STAT_MAX; s++)
		if (c.stats[s] != m->stats[s]) {
			snprintf(why, wl, "counter %s: model %llu, program %llu",
				 m_stat_name(s), (unsigned long long)m->stats[s],
				 (unsigned long long)c.stats[s]);
			return -1;
		}
	for (int pass = 0; pass < 2; pass++) {
		int n = pass ? M_MAX_BE : M_MAX_SVC;

		for (int i = 0; i < n; i++) {
			const struct xlb_traffic *a = pass ? &c.be[i] : &c.svc[i];
			const struct xlb_traffic *e =
				pass ? &m->be_traffic[i] : &m->svc_traffic[i];

			if (memcmp(a, e, sizeof(*a))) {
				snprintf(why, wl,
					 "%s %d traffic: model conns %llu packets "
					 "%llu bytes %llu, program %llu %llu %llu",
					 pass ? "backend" : "service", i,
					 (unsigned long long)e->conns,
					 (unsigned long long)e->packets,
					 (unsigned long long)e->bytes,
					 (unsigned long long)a->conns,
					 (unsigned long long)a->packets,
					 (unsigned long long)a->bytes);
				return -1;
			}
		}
	}
	return 0;
}

/* After a mismatch: the model takes the program's counters. */
static void counters_sync(struct inst *in)
{
	struct counters c;

	counters_read(in, &c);
	memcpy(in->model.stats, c.stats, sizeof(c.stats));
	memcpy(in->model.svc_traffic, c.svc, sizeof(c.svc));
	memcpy(in->model.be_traffic, c.be, sizeof(c.be));
}

/* The key of an entry's partner: its rewritten tuple, swapped. */
static void partner_key_of(const struct xlb_flow *v, struct xlb_flow_key *pk)
{
	memset(pk, 0, sizeof(*pk));
	pk->src = v->rewritten.dst;
	pk->dst = v->rewritten.src;
	pk->sport = v->rewritten.dport;
	pk->dport = v->rewritten.sport;
	pk->proto = v->rewritten.proto;
	pk->family = v->rewritten.family;
}

static int table_fd(const struct inst *in, int table)
{
	return table ? in->m.embryos : in->m.flows;
}

static const char *table_name(int table)
{
	return table ? "xlb_embryos" : "xlb_flows";
}

static void key_str(const struct xlb_flow_key *k, char *buf, size_t n)
{
	char s[64], d[64];
	uint8_t fam = k->family == XLB_FAMILY_V6 ? 6 : 4;

	snprintf(buf, n, "%s %s:%u -> %s:%u",
		 k->proto == IPPROTO_TCP ? "tcp" : k->proto == IPPROTO_UDP ? "udp" : "?",
		 addr_str(fam, k->src.bytes, s, sizeof(s)), ntohs(k->sport),
		 addr_str(fam, k->dst.bytes, d, sizeof(d)), ntohs(k->dport));
}

static void flow_str(const struct xlb_flow *f, char *buf, size_t n)
{
	char k[160];

	key_str(&f->rewritten, k, sizeof(k));
	snprintf(buf, n, "{%s, backend %u, service %u, dir %u, flags %u, "
		 "next hop %s}", k, f->backend_id, f->service_id, f->dir,
		 f->flags, f->nh_at_ns ? "cached" : "none");
}

/* Compare one key of a table with the model. 0 or -1 with why. */
static int entry_cmp(const struct inst *in, int table,
		     const struct xlb_flow_key *k, char *why, size_t wl)
{
	const struct m_table *mt = table ? &in->model.embryos : &in->model.flows;
	const struct m_entry *e = m_table_find(mt, k);
	struct xlb_flow v;
	bool have = !bpf_map_lookup_elem(table_fd(in, table), k, &v);
	char ks[160], a[256], b[256];

	if (!e && !have)
		return 0;
	if (e && have && m_flow_equal(e, &v, ifindexes))
		return 0;
	key_str(k, ks, sizeof(ks));
	if (e) {
		struct xlb_flow mv = e->val;

		mv.nh_at_ns = e->nh.lo; /* the model's "cached" */
		flow_str(&mv, a, sizeof(a));
	}
	if (have)
		flow_str(&v, b, sizeof(b));
	snprintf(why, wl, "%s[%s]: model %s, program %s", table_name(table),
		 ks, e ? a : "(none)", have ? b : "(none)");
	return -1;
}

static long map_count(int fd)
{
	struct xlb_flow_key k, next;
	void *prev = NULL;
	long n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		n++;
		k = next;
		prev = &k;
	}
	return n;
}

/* Whole tables: every model entry in the program and nothing else. */
static int tables_cmp(const struct inst *in, char *why, size_t wl)
{
	for (int t = 0; t < 2; t++) {
		const struct m_table *mt =
			t ? &in->model.embryos : &in->model.flows;
		long n;

		for (size_t i = 0; i < mt->s.n; i++)
			if (entry_cmp(in, t, &m_table_at(mt, i)->key, why, wl))
				return -1;
		n = map_count(table_fd(in, t));
		if (n != (long)mt->s.n) {
			snprintf(why, wl, "%s holds %ld entries, model %zu",
				 table_name(t), n, mt->s.n);
			return -1;
		}
	}
	return 0;
}

/* xlb_frags against the model's records: the same keys, the same ports,
 * and a time stamp inside the interval the model has for it. */
static int frags_cmp(const struct inst *in, char *why, size_t wl)
{
	const struct m_frags *mf = &in->model.frags;
	struct xlb_frag_key k, next;
	struct xlb_frag v;
	void *prev = NULL;
	char ks[160];
	long n = 0;

	for (size_t i = 0; i < mf->s.n; i++) {
		const struct m_frag *e = m_frags_at(mf, i);
		uint8_t fam = e->key.family == XLB_FAMILY_V6 ? 6 : 4;
		char s[64], d[64];

		bool have = !bpf_map_lookup_elem(in->frags_fd, &e->key, &v);

		if (have && v.sport == e->val.sport &&
		    v.dport == e->val.dport && v.to_port == e->val.to_port &&
		    !memcmp(&v.to, &e->val.to, sizeof(v.to)) &&
		    v.seen_ns >= e->seen_lo && v.seen_ns <= e->seen_hi)
			continue;
		/* the id as the key holds it (IPv4: 2 bytes, then zeros) */
		snprintf(ks, sizeof(ks), "proto %u %s -> %s id %08x",
			 e->key.proto, addr_str(fam, e->key.src.bytes, s, sizeof(s)),
			 addr_str(fam, e->key.dst.bytes, d, sizeof(d)),
			 ntohl(e->key.id));
		snprintf(why, wl, "xlb_frags[%s]: model ports %u %u seen in "
			 "[%llu, %llu], program %s%u %u seen %llu", ks,
			 ntohs(e->val.sport), ntohs(e->val.dport),
			 (unsigned long long)e->seen_lo,
			 (unsigned long long)e->seen_hi,
			 have ? "" : "(none) ", have ? ntohs(v.sport) : 0,
			 have ? ntohs(v.dport) : 0,
			 have ? (unsigned long long)v.seen_ns : 0ull);
		return -1;
	}
	while (!bpf_map_get_next_key(in->frags_fd, prev, &next)) {
		n++;
		k = next;
		prev = &k;
	}
	if (n != (long)mf->s.n) {
		snprintf(why, wl, "xlb_frags holds %ld records, model %zu", n,
			 mf->s.n);
		return -1;
	}
	return 0;
}

/* Invariant of the program's xlb_flows, whatever the model says: every
 * entry's partner (its rewritten tuple, swapped) is there and points
 * back, with the other direction, the same backend and service; the NAT
 * port of the backend leg is inside the configured range. */
static int pairs_check(const struct inst *in, char *why, size_t wl)
{
	struct xlb_flow_key k, next, pk, back;
	struct xlb_flow v, pv;
	void *prev = NULL;
	char ks[160];

	while (!bpf_map_get_next_key(in->m.flows, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(in->m.flows, &k, &v))
			continue;
		key_str(&k, ks, sizeof(ks));
		partner_key_of(&v, &pk);
		if (bpf_map_lookup_elem(in->m.flows, &pk, &pv)) {
			snprintf(why, wl, "xlb_flows[%s] has no partner", ks);
			return -1;
		}
		partner_key_of(&pv, &back);
		if (memcmp(&back, &k, sizeof(k)) || pv.dir == v.dir ||
		    pv.backend_id != v.backend_id ||
		    pv.service_id != v.service_id) {
			snprintf(why, wl, "xlb_flows[%s]: partner does not "
				 "point back", ks);
			return -1;
		}
		if (v.dir == XLB_DIR_TO_BACKEND &&
		    (ntohs(v.rewritten.sport) < in->nat_min ||
		     ntohs(v.rewritten.sport) > in->nat_max)) {
			snprintf(why, wl, "xlb_flows[%s]: NAT port %u outside "
				 "%u-%u", ks, ntohs(v.rewritten.sport),
				 in->nat_min, in->nat_max);
			return -1;
		}
	}
	return 0;
}

/* Empty both tables and the fragment records (program and model) and
 * rewind the cursors.  xlb_frags goes with the tables: a record outliving
 * them would point later fragments at a new epoch's connections, and an
 * LRU kept this far below its size never evicts (the model has none). */
static void tables_reset(struct inst *in)
{
	struct xlb_cursor zero = {};
	struct xlb_flow_key k;
	struct xlb_frag_key fk;

	for (int t = 0; t < 2; t++) {
		const struct m_table *mt =
			t ? &in->model.embryos : &in->model.flows;
		int fd = table_fd(in, t);

		for (size_t i = 0; i < mt->s.n; i++)
			bpf_map_delete_elem(fd, &m_table_at(mt, i)->key);
		while (!bpf_map_get_next_key(fd, NULL, &k))
			if (bpf_map_delete_elem(fd, &k))
				break;
	}
	while (!bpf_map_get_next_key(in->frags_fd, NULL, &fk))
		if (bpf_map_delete_elem(in->frags_fd, &fk))
			break;
	model_clear_tables(&in->model);
	for (__u32 id = 0; id < M_MAX_SVC; id++) {
		bpf_map_update_elem(in->m.cursors, &id, &zero, BPF_ANY);
		in->model.cursor[id] = 0;
	}
}

/* ------------------------------------------------------------------ */
/* Checks                                                              */
/* ------------------------------------------------------------------ */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* First differing byte; checksum fields the model marks equivalent may
 * hold 0x0000 for 0xffff or the reverse.  -1 if equal. */
static long first_diff(const uint8_t *exp, size_t el, const uint8_t *act,
		       size_t al, const struct m_result *r)
{
	size_t n = el < al ? el : al;

	for (size_t i = 0; i < n; i++) {
		bool ok = false;

		if (exp[i] == act[i])
			continue;
		for (int j = 0; r && j < r->n_equiv; j++) {
			size_t o = r->equiv_off[j];
			uint16_t e, a;

			if (i < o || i > o + 1 || o + 2 > n)
				continue;
			e = rd16(exp + o);
			a = rd16(act + o);
			if ((e == 0 || e == 0xffff) && (a == 0 || a == 0xffff))
				ok = true;
		}
		if (!ok)
			return (long)i;
	}
	return el == al ? -1 : (long)n;
}

/* The quoted IPv4 header of a translated ICMP error: valid checksum?
 * (1 = valid, 0 = broken, -1 = nothing to check) */
static int inner_ip4_ok(const uint8_t *f, size_t len)
{
	struct m_layout lo;
	size_t q, hl;

	if (m_layout_of(f, len, &lo) || lo.family != 4 ||
	    lo.proto != IPPROTO_ICMP || lo.l4 + 8 + 20 > lo.end)
		return -1;
	q = lo.l4 + 8;
	hl = (f[q] & 0xf) * 4u;
	if (f[q] >> 4 != 4 || hl < 20 || q + hl > lo.end)
		return -1;
	return m_fold(m_sum(f + q, hl, 0)) == 0xffff;
}

/* UDP checksum field of a frame (parsed by the model's layout), or -1. */
static int udp4_csum(const uint8_t *f, size_t len)
{
	struct m_layout lo;

	if (m_layout_of(f, len, &lo) || lo.family != 4 ||
	    lo.proto != IPPROTO_UDP || lo.l4 + 8 > len ||
	    (rd16(f + lo.l3 + 6) & 0x3fff))
		return -1;
	return rd16(f + lo.l4 + 6);
}

/* ------------------------------------------------------------------ */
/* The run                                                             */
/* ------------------------------------------------------------------ */

struct figures {
	uint64_t packets, forwarded, passed, dropped;
	uint64_t mismatches;    /* verdict, bytes, counters or tables */
	uint64_t mm_verdict, mm_bytes, mm_counter, mm_table, mm_epoch;
	uint64_t mm_affinity; /* an mh client sent to another backend */
	uint64_t csum_failures; /* forwarded output with a bad checksum */
	uint64_t pass_modified; /* XDP_PASS with changed bytes */
	uint64_t not_ours_forwarded; /* not for us, yet not passed */
	uint64_t lenient_skipped; /* --lenient: header-past-IP-length cases */
	uint64_t clock_skipped;   /* next-hop cache age too close to 1 s */
	uint64_t known_b1, known_b2; /* mismatches explained by a known bug */
	uint64_t harness_errors;
	uint64_t handed; /* NO_NEIGH packets handed to xlb run, compared */
	uint64_t epochs, evictions, gc_pairs, aged, sleeps;
	uint64_t frag_events; /* fragment records aged or evicted */
	uint64_t reasons[XLB_STAT_MAX];
};

/* The current epoch's history, for reproducers. */
struct history {
	char *buf;
	size_t len, cap;
};

static void hist_clear(struct history *h)
{
	h->len = 0;
	if (h->buf)
		h->buf[0] = 0;
}

static void hist_addf(struct history *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void hist_addf(struct history *h, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(h->buf + h->len, h->cap - h->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && h->len + n < h->cap)
			break;
		h->cap = h->cap ? 2 * h->cap + n : 1 << 20;
		h->buf = realloc(h->buf, h->cap);
		if (!h->buf)
			abort();
	}
	h->len += n;
}

static void hist_hex(struct history *h, const uint8_t *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";

	if (h->len + 2 * n + 1 >= h->cap) {
		h->cap = 2 * h->cap + 2 * n + 1;
		h->buf = realloc(h->buf, h->cap);
		if (!h->buf)
			abort();
	}
	for (size_t i = 0; i < n; i++) {
		h->buf[h->len++] = hx[p[i] >> 4];
		h->buf[h->len++] = hx[p[i] & 15];
	}
	h->buf[h->len] = 0;
}

struct run {
	uint64_t seed;
	bool verbose, lenient;
	const char *repro_dir;
	struct figures fig;
	struct history hist;
	int shown, repro_written;
	int last_class; /* 1: B1, 2: B2, 0: none of them */
	char last_repro[512];
};

static void write_repro(struct run *R, const struct inst *in, uint64_t idx,
			const char *why)
{
	char path[512];
	FILE *f;

	if (R->repro_written >= 20 || !R->repro_dir)
		return;
	mkdir(R->repro_dir, 0755);
	snprintf(path, sizeof(path), "%s/diff-%llu-%llu.txt", R->repro_dir,
		 (unsigned long long)R->seed, (unsigned long long)idx);
	f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "# xlb diff_fuzz reproducer: seed %llu, packet %llu\n"
		   "# %s\n"
		   "# replay: build/tests/test_diff_fuzz --replay %s\n"
		   "instance %s\n%s",
		(unsigned long long)R->seed, (unsigned long long)idx, why, path,
		in->name, R->hist.buf ? R->hist.buf : "");
	fclose(f);
	R->repro_written++;
	snprintf(R->last_repro, sizeof(R->last_repro), "%s", path);
	printf("    reproducer: %s\n", path);
}

/* Report a mismatch of packet idx; the caller resynchronises. */
static void mismatch(struct run *R, const struct inst *in, uint64_t idx,
		     const char *what, const char *desc, const uint8_t *pin,
		     size_t n, const char *why)
{
	if (R->shown >= SHOW_MAX && R->shown < SHOW_MAX + 100)
		printf("  mismatch (%s) packet %llu [%s]: %s\n", what,
		       (unsigned long long)idx, desc, why);
	if (R->shown++ < SHOW_MAX) {
		printf("  MISMATCH (%s) seed %llu packet %llu instance %s [%s]: %s\n",
		       what, (unsigned long long)R->seed,
		       (unsigned long long)idx, in->name, desc, why);
		if (pin)
			pkt_hexdump(stdout, "input", pin, n, -1);
		write_repro(R, in, idx, why);
	}
}

/* The verdict reason the program counted for the last packet: the
 * counter that is one above the model's (which counted its own reason). */
static void program_reason(const struct inst *in, const struct m_result *r,
			   char *buf, size_t n)
{
	struct counters c;

	snprintf(buf, n, "?");
	counters_read(in, &c);
	for (__u32 s = 0; s < XLB_STAT_VERDICT_MAX; s++)
		if (c.stats[s] == in->model.stats[s] - (s == r->reason) + 1)
			snprintf(buf, n, "%s", m_stat_name(s));
}

/* A table entry that differs from the model only in its FIN/RST flags
 * (what bug B2 does to the entry of a promoted pair). */
static bool only_flags_differ(const struct inst *in, int table,
			      const struct xlb_flow_key *k)
{
	const struct m_table *mt = table ? &in->model.embryos : &in->model.flows;
	const struct m_entry *e = m_table_find(mt, k);
	struct xlb_flow v;
	struct m_entry copy;

	if (!e || bpf_map_lookup_elem(table_fd(in, table), k, &v))
		return false;
	copy = *e;
	copy.val.flags = v.flags;
	return m_flow_equal(&copy, &v, ifindexes);
}

/*
 * The clients of the mh services, each with the backend it got, for an
 * invariant that needs no model (a client keeps its backend: the tables
 * never change here) and for figures (new flows and distinct clients
 * per backend: the clients spread over the backends).
 */
#define MH_CLIENTS 16384
static struct mh_client {
	bool used;
	__u16 sid;
	__u32 backend;
	struct xlb_addr addr;
} mh_clients[MH_CLIENTS];
static struct {
	uint64_t flows, clients;
} mh_fig[M_MAX_BE];
static uint64_t mh_untracked; /* new clients past MH_CLIENTS */

static struct mh_client *mh_client_slot(__u16 sid, const struct xlb_addr *a)
{
	uint32_t h = 2166136261u ^ sid; /* FNV-1a */

	for (int i = 0; i < 16; i++)
		h = (h ^ a->bytes[i]) * 16777619u;
	for (uint32_t i = 0; i < MH_CLIENTS; i++) {
		struct mh_client *c = &mh_clients[(h + i) % MH_CLIENTS];

		if (!c->used || (c->sid == sid && !memcmp(&c->addr, a, 16)))
			return c;
	}
	return NULL;
}

/* The new flow of the model's entry e: 0, or -1 (why) if its client
 * had another backend before. */
static int mh_note(const struct m_entry *e, char *why, size_t wl)
{
	const struct xlb_flow *v = &e->val;
	struct mh_client *c = mh_client_slot(v->service_id, &e->key.src);

	mh_fig[v->backend_id].flows++;
	if (!c) {
		mh_untracked++;
		return 0;
	}
	if (!c->used) {
		*c = (struct mh_client){ true, v->service_id, v->backend_id,
					 e->key.src };
		mh_fig[v->backend_id].clients++;
		return 0;
	}
	if (c->backend == v->backend_id)
		return 0;
	snprintf(why, wl, "mh: service %u sent a client to backend %u, "
		 "earlier to %u", v->service_id, v->backend_id, c->backend);
	return -1;
}

/* After a packet that matched the model and made a new flow: the mh
 * clients' check.  Returns false on a broken affinity. */
static bool mh_check(struct run *R, struct inst *in, uint64_t idx,
		     const struct m_result *r, const char *desc)
{
	char why[256];

	for (int i = 0; i < r->touched.n; i++) {
		const struct m_entry *e;

		if (r->touched.k[i].table != 1)
			continue;
		e = m_table_find(&in->model.embryos, &r->touched.k[i].key);
		if (!e || e->val.dir != XLB_DIR_TO_BACKEND ||
		    in->model.svc[e->val.service_id].algo != XLB_ALGO_MH)
			continue;
		/* the new flow's client entry (one a packet) */
		if (!mh_note(e, why, sizeof(why)))
			return true;
		R->fig.mm_affinity++;
		mismatch(R, in, idx, "mh affinity", desc, NULL, 0, why);
		return false;
	}
	return true;
}

/* The mh services' figures: per backend, new flows and clients. */
static void mh_print(void)
{
	const struct model *m = &insts[0].model;
	char a[64];

	for (int id = 0; id < N_SVC; id++) {
		const struct m_service *s = &m->svc[id];

		if (s->algo != XLB_ALGO_MH)
			continue;
		printf("  mh service %d (%s %s/%u, table of %u): backend "
		       "new flows/clients", id,
		       inet_ntop(s->family == XLB_FAMILY_V6 ? AF_INET6 :
							      AF_INET,
				 s->vip.bytes, a, sizeof(a)),
		       s->proto == IPPROTO_TCP ? "tcp" : "udp", s->port,
		       s->n_slots);
		for (uint32_t b = s->first_backend;
		     b < s->first_backend + s->n_backends; b++)
			printf(" %u:%llu/%llu", b,
			       (unsigned long long)mh_fig[b].flows,
			       (unsigned long long)mh_fig[b].clients);
		printf("\n");
	}
	if (mh_untracked)
		printf("  mh: %llu new flows of clients past the %d tracked\n",
		       (unsigned long long)mh_untracked, MH_CLIENTS);
}

/* Packet idx; returns true if everything matched. */
static bool check_packet(struct run *R, struct inst *in, uint64_t idx,
			 const uint8_t *pin, size_t n, const char *desc);

static bool one_packet(struct run *R, struct inst *in, uint64_t idx,
		       const uint8_t *pin, size_t n, const char *desc)
{
	uint64_t skipped = R->fig.lenient_skipped;
	uint64_t clock_skipped = R->fig.clock_skipped;
	bool ok;

	R->last_class = 0;
	ok = check_packet(R, in, idx, pin, n, desc);
	if (!ok && R->fig.lenient_skipped == skipped &&
	    R->fig.clock_skipped == clock_skipped) {
		R->fig.mismatches++;
		/* which known bug explains it (docs/reliability.md, 6) */
		if (R->last_class == 1)
			R->fig.known_b1++;
		else if (R->last_class == 2)
			R->fig.known_b2++;
	}
	return ok;
}

static bool check_packet(struct run *R, struct inst *in, uint64_t idx,
			 const uint8_t *pin, size_t n, const char *desc)
{
	static uint8_t out_p[M_MAX_FRAME + 512], out_m[M_MAX_FRAME + 512];
	size_t out_p_len = 0, out_m_len = 0;
	struct m_clock t;
	__u32 verdict;
	struct m_result r;
	char why[1024];
	bool ok = true;
	uint64_t new_flows;
	long off;
	int err;

	hist_addf(&R->hist, "P ");
	hist_hex(&R->hist, pin, n);
	hist_addf(&R->hist, " # %s\n", desc);

	handed.n = 0;
	clock_read(&t.lo, &t.clo);
	err = fx_run(in->prog_fd, topo.ifaces[0].ifindex, pin, n, out_p,
		     sizeof(out_p), &out_p_len, &verdict);
	clock_read(&t.hi, &t.chi);
	ring_buffer__consume(in->handed);
	R->fig.handed += handed.n;
	if (err) {
		R->fig.harness_errors++;
		if (R->fig.harness_errors < 5)
			printf("  harness: BPF_PROG_TEST_RUN of %zu bytes: %s\n",
			       n, strerror(-err));
		return true;
	}
	new_flows = in->model.stats[XLB_STAT_NEW_FLOW];
	model_packet(&in->model, pin, n, out_m, &out_m_len, &r, &t);
	R->fig.packets++;
	R->fig.reasons[r.reason]++;
	if (verdict == XDP_PASS)
		R->fig.passed++;
	else if (verdict == XDP_DROP)
		R->fig.dropped++;
	else
		R->fig.forwarded++;
	if (R->verbose)
		printf("  %llu [%s] %zu bytes: program %s, model %s (%s)\n",
		       (unsigned long long)idx, desc, n, m_verdict_name(verdict),
		       m_verdict_name(r.verdict), m_stat_name(r.reason));

	if (r.clock_uncertain) {
		/* a cached next hop about 1 s old: either answer is right */
		R->fig.clock_skipped++;
		return false;
	}
	if (R->lenient && r.beyond_ip_len &&
	    (verdict != r.verdict ||
	     first_diff(out_m, out_m_len, out_p, out_p_len, &r) >= 0)) {
		/* the known looser bound: not counted, state resynced */
		R->fig.lenient_skipped++;
		return false;
	}

	if (r.beyond_ip_len)
		R->last_class = 1;

	/* invariants that do not need the model */
	if (verdict == XDP_PASS && first_diff(pin, n, out_p, out_p_len, NULL) >= 0) {
		R->fig.pass_modified++;
		off = first_diff(pin, n, out_p, out_p_len, NULL);
		snprintf(why, sizeof(why), "XDP_PASS but the frame changed at byte %ld", off);
		mismatch(R, in, idx, "pass-modified", desc, NULL, 0, why);
		if (R->shown <= SHOW_MAX)
			pkt_print_diff(stdout, pin, n, out_p, out_p_len, off);
		ok = false;
	}
	if (!r.ours && verdict != XDP_PASS) {
		R->fig.not_ours_forwarded++;
		snprintf(why, sizeof(why), "not for a service nor a tracked flow, yet %s",
			 m_verdict_name(verdict));
		mismatch(R, in, idx, "not-ours", desc, pin, n, why);
		ok = false;
	}
	if (verdict == XDP_TX || verdict == XDP_REDIRECT) {
		char cw[256];
		int uin = udp4_csum(pin, n), uout = udp4_csum(out_p, out_p_len);
		int iin = inner_ip4_ok(pin, n), iout = inner_ip4_ok(out_p, out_p_len);

		if (!pkt_csum_verify(pin, n, NULL, 0) &&
		    pkt_csum_verify(out_p, out_p_len, cw, sizeof(cw))) {
			R->fig.csum_failures++;
			snprintf(why, sizeof(why), "valid input, invalid output: %s", cw);
			mismatch(R, in, idx, "checksum", desc, pin, n, why);
			if (R->shown <= SHOW_MAX)
				pkt_hexdump(stdout, "output", out_p, out_p_len, -1);
			ok = false;
		} else if (uout == 0 && uin != 0) {
			R->fig.csum_failures++;
			mismatch(R, in, idx, "checksum", desc, pin, n,
				 "UDP/IPv4 checksum 0 out of a checksummed input");
			ok = false;
		} else if (iin == 1 && iout == 0) {
			R->fig.csum_failures++;
			mismatch(R, in, idx, "checksum", desc, pin, n,
				 "quoted IPv4 header checksum broken by the translation");
			ok = false;
		}
	}

	/* the model */
	if (verdict != r.verdict) {
		char prog_reason[64];

		program_reason(in, &r, prog_reason, sizeof(prog_reason));
		R->fig.mm_verdict++;
		snprintf(why, sizeof(why),
			 "verdict: model %s (%s), program %s (%s)%s",
			 m_verdict_name(r.verdict), m_stat_name(r.reason),
			 m_verdict_name(verdict), prog_reason,
			 r.beyond_ip_len ? " [a header ends past the IP length]" : "");
		mismatch(R, in, idx, "verdict", desc, pin, n, why);
		return false;
	}
	/* a dropped frame's bytes are gone: not compared, unless it was
	 * rewritten and handed to xlb run (NO_NEIGH) */
	off = verdict == XDP_DROP && !r.handed_over ?
		      -1 :
		      first_diff(out_m, out_m_len, out_p, out_p_len, &r);
	if (off >= 0) {
		R->fig.mm_bytes++;
		snprintf(why, sizeof(why), "output bytes differ at %ld (%s, %s)",
			 off, m_verdict_name(verdict), m_stat_name(r.reason));
		mismatch(R, in, idx, "bytes", desc, pin, n, why);
		if (R->shown <= SHOW_MAX)
			pkt_print_diff(stdout, out_m, out_m_len, out_p, out_p_len, off);
		return false;
	}
	if (handed.n != (r.handed_over ? 1 : 0) ||
	    (handed.n &&
	     (handed.last.len != r.handed_len ||
	      handed.last.ifindex !=
		      (__u32)topo.ifaces[r.handed_iface].ifindex ||
	      r.handed_off + r.handed_len > out_p_len ||
	      memcmp(handed.last.data, out_p + r.handed_off,
		     r.handed_len)))) {
		R->fig.mm_bytes++;
		snprintf(why, sizeof(why), "handed to xlb run: %d packets "
			 "(model %d), %u bytes out of ifindex %u (model %zu, "
			 "%d), or not the rewritten frame's",
			 handed.n, r.handed_over, handed.last.len,
			 handed.last.ifindex, r.handed_len,
			 r.handed_over ? topo.ifaces[r.handed_iface].ifindex :
					 0);
		mismatch(R, in, idx, "hand-over", desc, pin, n, why);
		return false;
	}
	if (stat_read(in, r.reason) != in->model.stats[r.reason]) {
		char prog_reason[64];

		program_reason(in, &r, prog_reason, sizeof(prog_reason));
		R->fig.mm_counter++;
		snprintf(why, sizeof(why), "reason: model %s, program %s",
			 m_stat_name(r.reason), prog_reason);
		mismatch(R, in, idx, "counter", desc, pin, n, why);
		return false;
	}
	for (int i = 0; i < r.touched.n; i++) {
		if (entry_cmp(in, r.touched.k[i].table, &r.touched.k[i].key,
			      why, sizeof(why))) {
			if (r.promoted &&
			    only_flags_differ(in, r.touched.k[i].table,
					      &r.touched.k[i].key))
				R->last_class = 2;
			R->fig.mm_table++;
			mismatch(R, in, idx, "table", desc, pin, n, why);
			return false;
		}
	}
	if (in->model.stats[XLB_STAT_NEW_FLOW] != new_flows &&
	    !mh_check(R, in, idx, &r, desc))
		return false;
	return ok;
}

/* Emulated LRU eviction of one half-open entry, or a GC of one
 * established pair (what xlb run's expiry does). */
/* Move the time stamps (created_ns, last_seen_ns if set) of one entry
 * back by ns, in the program's table and the model's alike. */
static void age_entry(struct inst *in, int table, const struct xlb_flow_key *k,
		      uint64_t ns)
{
	struct m_entry *e = m_table_find(table ? &in->model.embryos :
						 &in->model.flows, k);
	struct xlb_flow v;

	if (!e || bpf_map_lookup_elem(table_fd(in, table), k, &v))
		return;
	v.created_ns -= ns;
	if (v.last_seen_ns)
		v.last_seen_ns -= ns;
	if (bpf_map_update_elem(table_fd(in, table), k, &v, BPF_EXIST))
		return;
	e->created_lo -= ns;
	e->created_hi -= ns;
	if (e->touched) {
		e->seen_lo -= ns;
		e->seen_hi -= ns;
	}
}

/* Move the time stamp of one fragment record back by ns (ns 0: remove
 * it, an emulated LRU eviction), in the program's map and the model's
 * alike. */
static void frag_event(struct inst *in, const struct xlb_frag_key *k,
		       uint64_t ns)
{
	struct m_frag *e = m_frag_find(&in->model.frags, k);
	struct xlb_frag v;

	if (!e)
		return;
	if (!ns) {
		bpf_map_delete_elem(in->frags_fd, k);
		m_frag_delete(&in->model.frags, k);
		return;
	}
	/* not before the clock's start (the model's intervals are
	 * unsigned) */
	if (e->seen_lo < ns ||
	    bpf_map_lookup_elem(in->frags_fd, k, &v))
		return;
	v.seen_ns -= ns;
	if (bpf_map_update_elem(in->frags_fd, k, &v, BPF_EXIST))
		return;
	e->seen_lo -= ns;
	e->seen_hi -= ns;
}

static void table_event(struct run *R, struct inst *in, struct gen *g)
{
	struct m_table *t = gen_below(g, 2) ? &in->model.embryos : &in->model.flows;
	struct xlb_flow_key k, pk;
	struct m_entry *e;
	int table = t == &in->model.embryos;

	if (in->model.frags.s.n && gen_below(g, 3) == 0) {
		/* a datagram's record ages past XLB_FRAG_TIMEOUT_NS (1.1 s),
		 * or not quite (0.9 s: its later fragments still follow,
		 * for a while), or is evicted */
		static const uint64_t ages[] = { XLB_FRAG_TIMEOUT_NS + 100000000ULL,
						 XLB_FRAG_TIMEOUT_NS - 100000000ULL, 0 };
		struct xlb_frag_key fk =
			m_frags_at(&in->model.frags,
				   gen_below(g, (uint32_t)in->model.frags.s.n))
				->key;
		uint64_t ns = ages[gen_below(g, 3)];

		frag_event(in, &fk, ns);
		hist_addf(&R->hist, "F %llu ", (unsigned long long)ns);
		hist_hex(&R->hist, (const uint8_t *)&fk, sizeof(fk));
		hist_addf(&R->hist, "\n");
		R->fig.frag_events++;
		return;
	}
	if (!t->s.n)
		return;
	e = m_table_at(t, gen_below(g, (uint32_t)t->s.n));
	k = e->key;
	partner_key_of(&e->val, &pk);
	if (gen_below(g, 2)) {
		/* the pair ages: 1.5 s (past the half-open grace), 2.5 s
		 * (past the closed one) or 5.5 s (past a UDP pair's
		 * silence) */
		static const uint64_t ages[] = { 1500000000ULL, 2500000000ULL,
						 5500000000ULL };
		uint64_t ns = ages[gen_below(g, 3)];

		age_entry(in, table, &k, ns);
		age_entry(in, table, &pk, ns);
		hist_addf(&R->hist, "A %llu %s ", (unsigned long long)ns,
			  table ? "embryos" : "flows");
		hist_hex(&R->hist, (const uint8_t *)&k, sizeof(k));
		hist_addf(&R->hist, " ");
		hist_hex(&R->hist, (const uint8_t *)&pk, sizeof(pk));
		hist_addf(&R->hist, "\n");
		R->fig.aged++;
		return;
	}
	bpf_map_delete_elem(table_fd(in, table), &k);
	m_table_delete(t, &k);
	hist_addf(&R->hist, "E %s ", table ? "embryos" : "flows");
	hist_hex(&R->hist, (const uint8_t *)&k, sizeof(k));
	hist_addf(&R->hist, "\n");
	if (table) {
		R->fig.evictions++;
		return;
	}
	bpf_map_delete_elem(table_fd(in, 0), &pk);
	m_table_delete(t, &pk);
	hist_addf(&R->hist, "E flows ");
	hist_hex(&R->hist, (const uint8_t *)&pk, sizeof(pk));
	hist_addf(&R->hist, "\n");
	R->fig.gc_pairs++;
}

static void resync(struct inst *in)
{
	tables_reset(in);
	counters_sync(in);
}


static int fuzz(struct run *R, uint64_t count, double max_s)
{
	static uint8_t pkt[M_MAX_FRAME];
	struct gen g;
	double t0 = now_s();
	uint64_t idx = 0, next_sleep = SLEEP_EVERY / 2;
	char desc[160], why[1024];

	gen_init(&g, R->seed, topo.ifaces[0].mac);
	while (idx < count && now_s() - t0 < max_s) {
		struct inst *in = &insts[gen_below(&g, 10) < 7 ? 0 : 1];
		uint64_t len = 1 + gen_below(&g, in->epoch_max);

		R->fig.epochs++;
		tables_reset(in);
		hist_clear(&R->hist);
		for (uint64_t i = 0; i < len && idx < count; i++, idx++) {
			enum gen_kind kind;
			size_t n;

			if (gen_below(&g, 1000) < 5)
				table_event(R, in, &g);
			/* now and then, time passes (in the small instance,
			 * where NAT ports are scarce): half-open pairs become
			 * old enough to give their port away, cached next hops
			 * expire */
			if (idx >= next_sleep && in == &insts[1] && i >= 50) {
				usleep(SLEEP_MS * 1000);
				hist_addf(&R->hist, "S %d\n", SLEEP_MS);
				R->fig.sleeps++;
				next_sleep = idx + SLEEP_EVERY;
			}
			n = gen_packet(&g, &in->model, pkt, sizeof(pkt), &kind,
				       desc, sizeof(desc));
			if (!one_packet(R, in, idx, pkt, n, desc)) {
				resync(in);
				hist_clear(&R->hist);
			}
			if ((idx & 0xfff) == 0 && now_s() - t0 >= max_s)
				break;
		}
		if (counters_cmp(in, why, sizeof(why))) {
			R->fig.mm_epoch++;
			R->fig.mismatches++;
			mismatch(R, in, idx, "epoch counters", "end of epoch",
				 NULL, 0, why);
			resync(in);
		} else if (tables_cmp(in, why, sizeof(why)) ||
			   pairs_check(in, why, sizeof(why)) ||
			   frags_cmp(in, why, sizeof(why))) {
			R->fig.mm_epoch++;
			R->fig.mismatches++;
			mismatch(R, in, idx, "epoch tables", "end of epoch",
				 NULL, 0, why);
			resync(in);
		}
	}
	printf("  generated: ");
	for (int k = 0; k < G_KINDS; k++)
		printf("%s %llu%s", gen_kind_name(k),
		       (unsigned long long)g.kind_count[k],
		       k + 1 < G_KINDS ? ", " : "");
	printf("; mutated %llu; made first fragments %llu, IPv6 atomic "
	       "fragments %llu\n", (unsigned long long)g.mutated,
	       (unsigned long long)g.first_frags,
	       (unsigned long long)g.atomic_frags);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Replay                                                              */
/* ------------------------------------------------------------------ */

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (s[0] && s[1] && n < cap) {
		unsigned int b;

		if (sscanf(s, "%2x", &b) != 1)
			break;
		out[n++] = (uint8_t)b;
		s += 2;
	}
	return n;
}

static int replay(struct run *R, const char *path, const char *name)
{
	static uint8_t pkt[M_MAX_FRAME];
	static char line[2 * M_MAX_FRAME + 512];
	struct inst *in = &insts[0];
	FILE *f = fopen(path, "r");
	uint64_t idx = 0;
	char why[1024];

	if (!f) {
		printf("FAIL %s: %s: %s\n", name, path, strerror(errno));
		return 1;
	}
	R->repro_dir = NULL;
	tables_reset(&insts[0]);
	tables_reset(&insts[1]);
	while (fgets(line, sizeof(line), f)) {
		char *hash = strstr(line, " # ");

		line[strcspn(line, "\n")] = 0;
		if (hash)
			*hash = 0;
		if (!strncmp(line, "instance ", 9)) {
			in = line[9] == 'B' ? &insts[1] : &insts[0];
		} else if (!strncmp(line, "P ", 2)) {
			size_t n = unhex(line + 2, pkt, sizeof(pkt));

			if (!one_packet(R, in, idx, pkt, n, hash ? hash + 3 : "replay"))
				printf("  (mismatch at packet %llu of the file)\n",
				       (unsigned long long)idx);
			idx++;
		} else if (!strncmp(line, "S ", 2)) {
			usleep(atoi(line + 2) * 1000);
		} else if (!strncmp(line, "A ", 2)) {
			unsigned long long ns = strtoull(line + 2, NULL, 10);
			const char *t = strchr(line + 2, ' ');
			int table = t && !strncmp(t + 1, "embryos", 7);
			struct xlb_flow_key k[2];
			const char *h;

			memset(k, 0, sizeof(k));
			h = t ? t + 1 + (table ? 8 : 6) : line;
			unhex(h, (uint8_t *)&k[0], sizeof(k[0]));
			h = strchr(h, ' ');
			if (h)
				unhex(h + 1, (uint8_t *)&k[1], sizeof(k[1]));
			for (int i = 0; i < 2; i++)
				age_entry(in, table, &k[i], ns);
		} else if (!strncmp(line, "F ", 2)) {
			unsigned long long ns = strtoull(line + 2, NULL, 10);
			const char *h = strchr(line + 2, ' ');
			struct xlb_frag_key k;

			memset(&k, 0, sizeof(k));
			if (h)
				unhex(h + 1, (uint8_t *)&k, sizeof(k));
			frag_event(in, &k, ns);
		} else if (!strncmp(line, "E ", 2)) {
			struct xlb_flow_key k;
			int table = !strncmp(line + 2, "embryos", 7);

			memset(&k, 0, sizeof(k));
			unhex(line + 2 + (table ? 8 : 6), (uint8_t *)&k, sizeof(k));
			bpf_map_delete_elem(table_fd(in, table), &k);
			m_table_delete(table ? &in->model.embryos : &in->model.flows, &k);
		}
	}
	fclose(f);
	if (!R->fig.mismatches && counters_cmp(in, why, sizeof(why))) {
		printf("  end: %s\n", why);
		R->fig.mismatches++;
	}
	printf("%s %s: %llu packets, %llu mismatches\n",
	       R->fig.mismatches ? "FAIL" : "PASS", name,
	       (unsigned long long)R->fig.packets,
	       (unsigned long long)R->fig.mismatches);
	return R->fig.mismatches ? 1 : 0;
}

/* The reproducers of the bugs found so far (tests/fuzz/repro/NAME.txt), run
 * as regression tests before fuzzing; the instances are then set back
 * (tables emptied, the model takes the program's counters). */
static int replay_all(const char *dir)
{
	char path[512], name[300];
	struct dirent **list;
	int n, rc = 0;

	n = scandir(dir, &list, NULL, alphasort);
	if (n < 0)
		return 0; /* not run from the source tree: nothing to replay */
	for (int i = 0; i < n; i++) {
		const char *f = list[i]->d_name;
		size_t l = strlen(f);
		struct run R2 = { .seed = 0 };

		if (l > 4 && !strcmp(f + l - 4, ".txt")) {
			snprintf(path, sizeof(path), "%s/%s", dir, f);
			snprintf(name, sizeof(name), "diff_fuzz_repro_%.*s",
				 (int)(l - 4), f);
			rc |= replay(&R2, path, name);
			free(R2.hist.buf);
		}
		free(list[i]);
	}
	free(list);
	for (int i = 0; i < 2; i++) {
		tables_reset(&insts[i]);
		counters_sync(&insts[i]);
	}
	return rc;
}

/* ------------------------------------------------------------------ */

static void usage(void)
{
	printf("usage: test_diff_fuzz [-n PACKETS] [-s SEED] [-t SECONDS] "
	       "[-o DIR] [-r FILE] [-v] [--lenient] [--no-repro]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "packets", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "time", required_argument, NULL, 't' },
		{ "out", required_argument, NULL, 'o' },
		{ "replay", required_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "lenient", no_argument, NULL, 'L' },
		{ "no-repro", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct run R = { .repro_dir = "build/fuzz-repro" };
	uint64_t count = 2000000; /* the short run of make test (~10 s) */
	double max_s = 60;
	const char *replay_file = NULL;
	const char *repro_dir = "tests/fuzz/repro"; /* regression inputs */
	unsigned int model_opts = MODEL_STRICT_IP_LEN;
	char why[512];
	double t0, dt;
	int c, rc = 0;

	R.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	while ((c = getopt_long(argc, argv, "n:s:t:o:r:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'n': count = strtoull(optarg, NULL, 0); break;
		case 's': R.seed = strtoull(optarg, NULL, 0); break;
		case 't': max_s = strtod(optarg, NULL); break;
		case 'o': R.repro_dir = optarg; break;
		case 'r': replay_file = optarg; break;
		case 'v': R.verbose = true; break;
		case 'N': repro_dir = NULL; break;
		case 'L':
			/* the known deviations (docs/reliability.md) are
			 * tolerated, to look for anything else */
			R.lenient = true;
			break;
		default: usage(); return c == 'h' ? 0 : 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (fx_netns_enter(why, sizeof(why))) {
		printf("SKIP diff_fuzz: %s\n", why);
		return 0;
	}
	ncpus = libbpf_num_possible_cpus();
	if (topo_setup(why, sizeof(why))) {
		printf("FAIL diff_fuzz_setup: %s\n", why);
		return 1;
	}
	for (int i = 0; i < 2; i++)
		if (inst_setup(&insts[i], model_opts, why, sizeof(why))) {
			printf("FAIL diff_fuzz_setup: %s\n", why);
			return 1;
		}
	if (replay_file) {
		R.verbose = true;
		return replay(&R, replay_file, "diff_fuzz_replay");
	}
	if (repro_dir && replay_all(repro_dir))
		rc = 1;

	printf("  seed %llu, up to %llu packets, at most %.0f s\n",
	       (unsigned long long)R.seed, (unsigned long long)count, max_s);
	t0 = now_s();
	fuzz(&R, count, max_s);
	dt = now_s() - t0;

	printf("  %llu packets in %.1f s (%.0f/s), %llu epochs: forwarded %llu, "
	       "passed %llu, dropped %llu\n",
	       (unsigned long long)R.fig.packets, dt, R.fig.packets / dt,
	       (unsigned long long)R.fig.epochs,
	       (unsigned long long)R.fig.forwarded,
	       (unsigned long long)R.fig.passed,
	       (unsigned long long)R.fig.dropped);
	printf("  reasons:");
	for (int s = 0; s < XLB_STAT_MAX; s++) /* and too_big_sent */
		if (R.fig.reasons[s])
			printf(" %s %llu", m_stat_name(s),
			       (unsigned long long)R.fig.reasons[s]);
	printf("\n  events (model): port_takeover %llu, new_flow %llu, "
	       "promoted %llu, syn_rescheduled %llu, rst_ignored %llu\n",
	       (unsigned long long)(insts[0].model.stats[XLB_STAT_PORT_TAKEOVER] +
				    insts[1].model.stats[XLB_STAT_PORT_TAKEOVER]),
	       (unsigned long long)(insts[0].model.stats[XLB_STAT_NEW_FLOW] +
				    insts[1].model.stats[XLB_STAT_NEW_FLOW]),
	       (unsigned long long)(insts[0].model.stats[XLB_STAT_PROMOTED] +
				    insts[1].model.stats[XLB_STAT_PROMOTED]),
	       (unsigned long long)(insts[0].model.stats[XLB_STAT_SYN_RESCHEDULED] +
				    insts[1].model.stats[XLB_STAT_SYN_RESCHEDULED]),
	       (unsigned long long)(insts[0].model.stats[XLB_STAT_RST_IGNORED] +
				    insts[1].model.stats[XLB_STAT_RST_IGNORED]));
	printf("  fragments (model): frag_forwarded %llu, pass_fragment %llu; "
	       "records aged or evicted %llu\n",
	       (unsigned long long)(insts[0].model.stats[XLB_STAT_FRAG_FORWARDED] +
				    insts[1].model.stats[XLB_STAT_FRAG_FORWARDED]),
	       (unsigned long long)R.fig.reasons[XLB_STAT_PASS_FRAGMENT],
	       (unsigned long long)R.fig.frag_events);
	printf("  table events: %llu evictions, %llu pairs expired, %llu "
	       "pairs aged, %llu pauses of %d ms\n",
	       (unsigned long long)R.fig.evictions,
	       (unsigned long long)R.fig.gc_pairs,
	       (unsigned long long)R.fig.aged,
	       (unsigned long long)R.fig.sleeps, SLEEP_MS);
	printf("  handed to xlb run (NO_NEIGH), compared with the model: "
	       "%llu\n",
	       (unsigned long long)R.fig.handed);
	mh_print();
	printf("  mismatching packets %llu (explained by known bug B1 %llu, "
	       "B2 %llu, unexplained %llu)\n",
	       (unsigned long long)R.fig.mismatches,
	       (unsigned long long)R.fig.known_b1,
	       (unsigned long long)R.fig.known_b2,
	       (unsigned long long)(R.fig.mismatches - R.fig.known_b1 -
				    R.fig.known_b2));
	printf("  mismatches %llu (verdict %llu, bytes %llu, counter %llu, "
	       "table %llu, end of epoch %llu, mh affinity %llu); checksum "
	       "failures %llu; XDP_PASS modified %llu; not ours yet not "
	       "passed %llu; "
	       "harness errors %llu%s\n",
	       (unsigned long long)R.fig.mismatches,
	       (unsigned long long)R.fig.mm_verdict,
	       (unsigned long long)R.fig.mm_bytes,
	       (unsigned long long)R.fig.mm_counter,
	       (unsigned long long)R.fig.mm_table,
	       (unsigned long long)R.fig.mm_epoch,
	       (unsigned long long)R.fig.mm_affinity,
	       (unsigned long long)R.fig.csum_failures,
	       (unsigned long long)R.fig.pass_modified,
	       (unsigned long long)R.fig.not_ours_forwarded,
	       (unsigned long long)R.fig.harness_errors,
	       R.lenient ? "" : "");
	if (R.fig.clock_skipped)
		printf("  %llu packets not compared: a cached next hop about "
		       "1 s old\n", (unsigned long long)R.fig.clock_skipped);
	if (R.lenient)
		printf("  --lenient: %llu packets with a header past the IP "
		       "length not compared\n",
		       (unsigned long long)R.fig.lenient_skipped);

#define CHECK(name, cond, ...)                                              \
	do {                                                                \
		if (cond)                                                   \
			printf("PASS %s\n", name);                          \
		else {                                                      \
			printf("FAIL %s: ", name);                          \
			printf(__VA_ARGS__);                                \
			printf(" (seed %llu)\n", (unsigned long long)R.seed); \
			rc = 1;                                             \
		}                                                           \
	} while (0)
	CHECK("diff_fuzz_model_agrees", R.fig.mismatches == 0 && R.fig.packets > 0,
	      "%llu mismatches in %llu packets",
	      (unsigned long long)R.fig.mismatches,
	      (unsigned long long)R.fig.packets);
	CHECK("diff_fuzz_checksums_valid", R.fig.csum_failures == 0,
	      "%llu forwarded packets with invalid checksums",
	      (unsigned long long)R.fig.csum_failures);
	CHECK("diff_fuzz_pass_untouched",
	      R.fig.pass_modified == 0 && R.fig.not_ours_forwarded == 0,
	      "%llu passed packets modified, %llu not ours but not passed",
	      (unsigned long long)R.fig.pass_modified,
	      (unsigned long long)R.fig.not_ours_forwarded);
	CHECK("diff_fuzz_harness", R.fig.harness_errors == 0,
	      "%llu BPF_PROG_TEST_RUN errors",
	      (unsigned long long)R.fig.harness_errors);
	for (int i = 0; i < 2; i++) {
		ring_buffer__free(insts[i].handed);
		xlb__destroy(insts[i].skel);
		model_free(&insts[i].model);
	}
	free(R.hist.buf);
	return rc;
}
