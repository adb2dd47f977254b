// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Configuration transactions (src/txn.c) on a loaded program, with packets
 * through BPF_PROG_TEST_RUN: ids are assigned and kept, never reused while
 * a flow names them (also across the wrap-around), re-weighting keeps the
 * cursor and established flows, removing or draining a backend stops its
 * new flows but not its old ones, removing a service clears its entry,
 * port bit, schedule and flows, a transaction that cannot be validated
 * changes nothing, and the maps read back as the configuration that was
 * applied.  Needs root (namespaces, BPF); SKIPs otherwise.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>

#include "fixture.h"
#include "pkt.h"
#include "sweeper.h"
#include "txn.h"
#include "xlb_hash.h"
#include "xtest.h"

#define VIP "198.51.100.10"
#define CLIENT "203.0.113.20"
#define ERRLEN 200

static struct fx_lb lb;
static struct xlb_txn txn;
static struct xlb_config cur;
static int ifindex;
static __u8 mac_if[6], mac_gw[6];

/* Parse text and apply it over *c with t at now_ns; 0 or the error
 * (message in err). */
static int apply_at(struct xlb_txn *t, struct xlb_config *c, const char *text,
		    __u64 now_ns, char *err)
{
	struct xlb_config next;
	char warn[256];
	int rc = xlb_config_parse("t.conf", text, &next, err, ERRLEN);

	if (rc)
		return rc;
	for (size_t i = 0; i < next.n_svcs; i++)
		next.svcs[i].snat = next.svcs[i].vip.addr; /* as xlb run does */
	rc = xlb_txn_apply(t, c, &next, now_ns, err, ERRLEN, warn,
			   sizeof(warn));
	if (rc) {
		xlb_config_free(&next);
		return rc;
	}
	xlb_config_free(c);
	*c = next;
	return 0;
}

static int apply(const char *text, char *err)
{
	return apply_at(&txn, &cur, text, xlb_now_ns(), err);
}

/* One TCP packet client:cport -> VIP:vport (flags); returns the last
 * octet of the backend it went to, 0 if it was not forwarded. */
static int send_tcp(__u16 cport, __u16 vport, __u8 flags, __u8 proto)
{
	struct pkt_spec s;
	__u8 in[256], out[512];
	size_t in_len, out_len;
	__u32 verdict;

	pkt_spec_init(&s);
	memcpy(s.dmac, mac_if, 6);
	memcpy(s.smac, mac_gw, 6);
	pkt_spec_addrs(&s, CLIENT, VIP);
	s.proto = proto;
	s.sport = cport;
	s.dport = vport;
	s.tcp_flags = flags;
	if (flags & PKT_TCP_ACK)
		s.ack = 1000;
	in_len = pkt_build(&s, in, sizeof(in));
	if (!in_len || fx_run(lb.prog_fd, ifindex, in, in_len, out, sizeof(out),
			      &out_len, &verdict))
		return -1;
	if (verdict != XDP_TX && verdict != XDP_REDIRECT)
		return 0;
	return out[14 + 19]; /* IPv4 destination, last byte */
}

static int syn(__u16 cport)
{
	return send_tcp(cport, 8000, PKT_TCP_SYN, IPPROTO_TCP);
}

static int ack(__u16 cport)
{
	return send_tcp(cport, 8000, PKT_TCP_ACK, IPPROTO_TCP);
}

static long flows_now(void)
{
	return fx_map_count(lb.m.flows) + fx_map_count(lb.m.embryos);
}

static bool bit(const __u8 *map, __u32 id)
{
	return map[id / 8] & (1u << (id % 8));
}

/* What xlb run's sweeper does with the services in txn.flush: remove
 * their connections, then give their ids back. */
static int flush_removed(void)
{
	struct xlb_timeouts t = XLB_TIMEOUTS_DEFAULT;
	struct xlb_sweep_args a = { .t = &t, .now_ns = xlb_now_ns(),
				    .flush = txn.flush };
	int rc = xlb_conn_expire_all(&lb.m, &a, NULL);

	memset(txn.flush, 0, sizeof(txn.flush));
	xlb_txn_release(&txn);
	return rc;
}

static struct xlb_config_backend *backend(const char *addr)
{
	struct xlb_addr a = {};

	inet_pton(AF_INET, addr, a.bytes);
	for (size_t i = 0; i < cur.n_svcs; i++)
		for (size_t j = 0; j < cur.svcs[i].n_backends; j++)
			if (!memcmp(&cur.svcs[i].backends[j].ep.addr, &a, 16))
				return &cur.svcs[i].backends[j];
	return NULL;
}

static __u32 id_of(const char *addr)
{
	struct xlb_config_backend *b = backend(addr);

	return b ? b->id : XLB_ID_NONE;
}

static int slot(__u32 id, struct xlb_backend *v)
{
	return bpf_map_lookup_elem(lb.m.backends, &id, v) ? -errno : 0;
}

static int table(__u32 id, __u32 *out, size_t max)
{
	return fx_schedule_read(lb.m.schedules, id, out, max);
}

static __u64 cursor(__u32 id)
{
	struct xlb_cursor c = {};

	bpf_map_lookup_elem(lb.m.cursors, &id, &c);
	return c.next;
}

static __u8 port_bits(__u32 port)
{
	__u8 b = 0;

	bpf_map_lookup_elem(lb.m.service_ports, &port, &b);
	return b;
}

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			char why_[256];                                    \
			snprintf(why_, sizeof(why_), __VA_ARGS__);         \
			xtest_fail(name, "line %d: %s: %s", __LINE__, #cond, \
				   why_);                                  \
			return;                                            \
		}                                                          \
	} while (0)

#define SVC_AB                                                             \
	"service " VIP ":8000 algo rr\n backend 198.51.100.11\n"           \
	" backend 198.51.100.12\n"

static void t_install(void)
{
	const char *name = "install_from_empty";
	struct xlb_backend v;
	__u32 slots[8];
	char err[ERRLEN];
	int n;

	CHECK(!apply(SVC_AB, err), "%s", err);
	CHECK(cur.svcs[0].id == 0, "service id %u", cur.svcs[0].id);
	CHECK(id_of("198.51.100.11") == 0 && id_of("198.51.100.12") == 1,
	      "ids %u %u", id_of("198.51.100.11"), id_of("198.51.100.12"));
	CHECK(!slot(1, &v) && v.flags == XLB_BACKEND_IN_USE && v.weight == 1 &&
		      ntohs(v.port) == 8000 && v.service_id == 0,
	      "slot 1 flags %u", v.flags);
	n = table(0, slots, 8);
	CHECK(n == 2 && slots[0] == 0 && slots[1] == 1, "table len %d", n);
	/* the backends listen on the VIP's port */
	CHECK(port_bits(8000) == (XLB_PORT_TCP | XLB_PORT_BACKEND_TCP),
	      "bits %u", port_bits(8000));
	CHECK(syn(1000) == 11 && syn(1001) == 12 && syn(1002) == 11 &&
		      syn(1003) == 12,
	      "rr sequence");
	xtest_pass(name);
}

static void t_reweight(void)
{
	const char *name = "reweight_keeps_ids_cursor_flows";
	struct xlb_sched_backend in[2] = { { .id = 0, .weight = 1, .live = true },
					  { .id = 1, .weight = 3, .live = true } };
	__u32 slots[8], want[8];
	char err[ERRLEN];
	int n, m, first = syn(2000);
	__u64 before = cursor(0);

	CHECK(first > 0, "syn");
	CHECK(!apply("service " VIP ":8000 algo wrr\n"
		     " backend 198.51.100.11 weight 1\n"
		     " backend 198.51.100.12 weight 3\n",
		     err),
	      "%s", err);
	CHECK(id_of("198.51.100.11") == 0 && id_of("198.51.100.12") == 1,
	      "ids changed");
	CHECK(cursor(0) == before, "cursor %llu, was %llu",
	      (unsigned long long)cursor(0), (unsigned long long)before);
	n = table(0, slots, 8);
	m = xlb_sched_build(XLB_ALGO_WRR, in, 2, want, 8, NULL);
	CHECK(n == 4 && m == 4 && !memcmp(slots, want, 4 * sizeof(*want)),
	      "table len %d", n);
	CHECK(ack(2000) == first, "established flow moved to .%d (was .%d)",
	      ack(2000), first);
	xtest_pass(name);
}

static void t_remove_backend(void)
{
	const char *name = "remove_backend_keeps_its_flows";
	struct xlb_backend v;
	char err[ERRLEN];
	__u16 port = 0;

	/* a connection to .12 */
	for (__u16 p = 3000; p < 3010 && !port; p++)
		if (syn(p) == 12)
			port = p;
	CHECK(port, "no SYN went to .12");
	CHECK(!apply("service " VIP ":8000 algo wrr\n"
		     " backend 198.51.100.11 weight 1\n"
		     " backend 198.51.100.14 weight 1\n",
		     err),
	      "%s", err);
	CHECK(id_of("198.51.100.14") == 2, "new backend got id %u",
	      id_of("198.51.100.14"));
	CHECK(!slot(1, &v) && !(v.flags & XLB_BACKEND_IN_USE),
	      "slot of the removed backend still in use");
	CHECK(ack(port) == 12, "its flow went to .%d", ack(port));
	for (__u16 p = 3100; p < 3110; p++)
		CHECK(syn(p) != 12, "a new flow went to the removed backend");
	/* the id of .12 stays unused: a flow names it */
	CHECK(!apply("service " VIP ":8000 algo wrr\n"
		     " backend 198.51.100.11 weight 1\n"
		     " backend 198.51.100.14 weight 1\n"
		     " backend 198.51.100.12 weight 1\n",
		     err),
	      "%s", err);
	CHECK(id_of("198.51.100.12") == 3, "re-added backend got id %u",
	      id_of("198.51.100.12"));
	xtest_pass(name);
}

static void t_drain(void)
{
	const char *name = "drain_stops_new_flows_only";
	struct xlb_backend v;
	char err[ERRLEN];
	__u16 port = 0;

	for (__u16 p = 4000; p < 4010 && !port; p++)
		if (syn(p) == 11)
			port = p;
	CHECK(port, "no SYN went to .11");
	CHECK(!apply("service " VIP ":8000 algo wrr\n"
		     " backend 198.51.100.11 weight 1 drain\n"
		     " backend 198.51.100.14 weight 1\n"
		     " backend 198.51.100.12 weight 1\n",
		     err),
	      "%s", err);
	CHECK(!slot(id_of("198.51.100.11"), &v) &&
		      v.flags == (XLB_BACKEND_IN_USE | XLB_BACKEND_DRAIN) &&
		      v.weight == 1,
	      "flags %u weight %u", v.flags, v.weight);
	CHECK(ack(port) == 11, "drained backend's flow went to .%d", ack(port));
	for (__u16 p = 4100; p < 4110; p++)
		CHECK(syn(p) != 11, "a new flow went to the drained backend");
	xtest_pass(name);
}

static void t_read_back(void)
{
	const char *name = "maps_read_back_as_applied";
	struct xlb_config r;
	int rc;

	/* a down backend too */
	backend("198.51.100.14")->down = true;
	rc = xlb_txn_read(&lb.m, &r);
	CHECK(!rc, "read: %d", rc);
	CHECK(r.n_svcs == 1 && r.svcs[0].id == cur.svcs[0].id &&
		      r.svcs[0].algo == XLB_ALGO_WRR &&
		      r.svcs[0].n_backends == 3,
	      "services");
	for (size_t i = 0; i < 3; i++) {
		const struct xlb_config_backend *a = &r.svcs[0].backends[i];
		const struct xlb_config_backend *b =
			xlb_config_backend_find(&cur.svcs[0], &a->ep);

		CHECK(b && a->id == b->id && a->weight == b->weight &&
			      a->drain == b->drain,
		      "backend %zu", i);
		/* the down flag of .14 was not applied: not in the maps */
		CHECK(!a->down, "backend %zu down", i);
	}
	backend("198.51.100.14")->down = false;
	xlb_config_free(&r);
	xtest_pass(name);
}

/* A transaction in progress writes a service's backends and schedule
 * before the service: a read without the daemon (xlb show) must leave
 * them; the adopting daemon's read clears such leftovers. */
static void t_read_writes_nothing(void)
{
	const char *name = "read_without_daemon_writes_nothing";
	__u32 bid = 1000, sid = 200, used = cur.svcs[0].id, inner_id;
	struct xlb_backend b = { .service_id = 200, .weight = 1,
				 .family = XLB_FAMILY_V4,
				 .flags = XLB_BACKEND_IN_USE }, v;
	struct xlb_config r;
	int rc, fd;

	inet_pton(AF_INET, "198.51.100.19", b.addr.bytes);
	b.port = htons(8000);
	CHECK(!bpf_map_lookup_elem(lb.m.schedules, &used, &inner_id), "%s",
	      strerror(errno));
	fd = bpf_map_get_fd_by_id(inner_id);
	CHECK(fd >= 0, "%s", strerror(errno));
	rc = bpf_map_update_elem(lb.m.schedules, &sid, &fd, BPF_ANY);
	close(fd);
	CHECK(!rc && !bpf_map_update_elem(lb.m.backends, &bid, &b, BPF_ANY),
	      "%s", strerror(errno));
	rc = xlb_txn_read(&lb.m, &r);
	CHECK(!rc, "read: %d", rc);
	CHECK(r.n_svcs == 1 && r.svcs[0].n_backends == 3,
	      "the service-less backend was read: %zu services",
	      r.n_svcs);
	xlb_config_free(&r);
	CHECK(!slot(bid, &v) && v.flags == XLB_BACKEND_IN_USE,
	      "the read cleared the backend slot (flags %u)", v.flags);
	CHECK(!bpf_map_lookup_elem(lb.m.schedules, &sid, &inner_id),
	      "the read removed the schedule: %s", strerror(errno));
	rc = xlb_txn_read_tidy(&lb.m, &r);
	CHECK(!rc, "read tidy: %d", rc);
	xlb_config_free(&r);
	CHECK(!slot(bid, &v) && !v.flags, "tidy left the slot (flags %u)",
	      v.flags);
	CHECK(bpf_map_lookup_elem(lb.m.schedules, &sid, &inner_id) &&
		      errno == ENOENT,
	      "tidy left the schedule");
	CHECK(!bpf_map_lookup_elem(lb.m.schedules, &used, &inner_id),
	      "tidy removed the schedule of a service in use");
	xtest_pass(name);
}

/* A daemon adopting state of a build without backend port marks marks
 * the ports of the backends it reads back (the running program can only
 * schedule those). */
static void t_adopt_marks(void)
{
	const char *name = "adopt_marks_pinned_backends";
	struct xlb_config r;
	__u32 port = 8000;
	__u8 svc_only = port_bits(8000) & XLB_PORT_SERVICE_BITS;
	int rc;

	CHECK(svc_only == XLB_PORT_TCP, "bits %u", port_bits(8000));
	rc = xlb_txn_read(&lb.m, &r);
	CHECK(!rc, "read: %d", rc);
	if (bpf_map_update_elem(lb.m.service_ports, &port, &svc_only,
				BPF_ANY))
		rc = -errno;
	if (!rc)
		rc = xlb_txn_mark_backend_ports(&lb.m, &r);
	xlb_config_free(&r);
	CHECK(!rc, "%s", strerror(-rc));
	CHECK(port_bits(8000) == (XLB_PORT_TCP | XLB_PORT_BACKEND_TCP),
	      "bits %u", port_bits(8000));
	xtest_pass(name);
}

/* The service the tests from here on keep, and a UDP one they add and
 * remove. */
#define KEPT_TCP                                                           \
	"service " VIP ":8000 algo wrr\n"                                   \
	" backend 198.51.100.11 weight 1 drain\n"                           \
	" backend 198.51.100.14 weight 1\n"                                 \
	" backend 198.51.100.12 weight 1\n"
#define WITH_UDP "service " VIP ":8000/udp\n backend 198.51.100.11\n"

static void t_remove_service(void)
{
	const char *name = "remove_service_clears_it";
	const char *two = KEPT_TCP WITH_UDP;
	struct xlb_service_key k = {};
	struct xlb_service sv;
	char err[ERRLEN];
	__u32 udp_id, udp_be, inner;
	long flows_before;

	CHECK(!apply(two, err), "%s", err);
	udp_id = cur.svcs[1].id;
	udp_be = cur.svcs[1].backends[0].id;
	CHECK(udp_id == 1 && udp_be == 4, "udp service %u backend %u", udp_id,
	      udp_be);
	CHECK(port_bits(8000) == (XLB_PORT_TCP | XLB_PORT_UDP |
				  XLB_PORT_BACKEND_TCP | XLB_PORT_BACKEND_UDP),
	      "bits %u", port_bits(8000));
	CHECK(send_tcp(5000, 8000, 0, IPPROTO_UDP) == 11, "udp flow");
	flows_before = fx_map_count(lb.m.flows) + fx_map_count(lb.m.embryos);
	CHECK(!apply(KEPT_TCP, err), "%s", err);
	k.vip.ip4 = cur.svcs[0].vip.addr.ip4;
	k.port = htons(8000);
	k.proto = IPPROTO_UDP;
	k.family = XLB_FAMILY_V4;
	CHECK(bpf_map_lookup_elem(lb.m.services, &k, &sv), "udp entry left");
	/* the service bit goes, the backend's mark stays (a removed
	 * backend's connections may still send replies) */
	CHECK(port_bits(8000) == (XLB_PORT_TCP | XLB_PORT_BACKEND_TCP |
				  XLB_PORT_BACKEND_UDP),
	      "bits %u", port_bits(8000));
	CHECK(bpf_map_lookup_elem(lb.m.schedules, &udp_id, &inner),
	      "udp schedule left");
	/* its connections are the caller's to flush, its id held */
	CHECK(flows_now() == flows_before, "flows %ld, were %ld", flows_now(),
	      flows_before);
	CHECK(bit(txn.flush, udp_id) && bit(txn.held, udp_id) &&
		      !bit(txn.flush, cur.svcs[0].id),
	      "flush/held bits of %u not set (or the kept service's set)",
	      udp_id);
	CHECK(!flush_removed(), "flush");
	CHECK(flows_now() == flows_before - 2, "flows %ld, were %ld",
	      flows_now(), flows_before);
	CHECK(ack(2000) > 0, "a TCP flow of the kept service was flushed");
	CHECK(!bit(txn.held, udp_id), "id %u still held after the flush",
	      udp_id);
	xtest_pass(name);
}

/* A removed service's id is not given again before its flush (which
 * would take the new service's connections too); a service named by
 * connections but not by the configuration is to flush from init, and
 * xlb_sweeper_flush_now does it at once. */
static void t_held_until_flushed(void)
{
	const char *name = "removed_service_id_held_until_flushed";
	const char *tcp = KEPT_TCP, *text = KEPT_TCP WITH_UDP;
	char err[ERRLEN];
	struct xlb_txn fresh;
	__u32 old_id, new_id;
	__u64 orphans = 0;
	long before;

	CHECK(!apply(text, err), "%s", err);
	old_id = cur.svcs[1].id;
	CHECK(send_tcp(5001, 8000, 0, IPPROTO_UDP) == 11, "udp flow");
	before = flows_now();
	CHECK(!apply(tcp, err), "%s", err);
	/* a daemon that starts now sees its connections as orphans */
	CHECK(!xlb_txn_init(&fresh, &lb.m, &cur), "init");
	CHECK(bit(fresh.flush, old_id) && bit(fresh.held, old_id) &&
		      !bit(fresh.flush, cur.svcs[0].id),
	      "init: orphan %u not to flush, or the kept service is", old_id);
	/* which it flushes before anything else */
	CHECK(!xlb_sweeper_flush_now(&lb.m, &fresh, &orphans) &&
		      orphans == 1 && flows_now() == before - 2 &&
		      !bit(fresh.held, old_id) && !bit(fresh.flush, old_id),
	      "flush_now: %llu flushed, flows %ld (want 1, %ld), held %d",
	      (unsigned long long)orphans, flows_now(), before - 2,
	      bit(fresh.held, old_id));
	/* not yet handed on to be flushed: a release keeps it */
	xlb_txn_release(&txn);
	CHECK(bit(txn.held, old_id), "released before its flush was handed on");
	/* the cursor on the held id: the new service gets the next */
	txn.next_service_id = old_id;
	CHECK(!apply(text, err), "%s", err);
	new_id = cur.svcs[1].id;
	CHECK(new_id != old_id, "id %u given again before its flush", new_id);
	CHECK(send_tcp(5002, 8000, 0, IPPROTO_UDP) == 11, "new udp flow");
	CHECK(!flush_removed(), "flush");
	CHECK(flows_now() == before, "flows %ld, want %ld (the old service's "
	      "gone, the new one's kept)", flows_now(), before);
	/* flushed and released: the id is free again */
	CHECK(!apply(tcp, err), "%s", err);
	CHECK(!flush_removed(), "flush");
	CHECK(flows_now() == before - 2, "flows %ld, want %ld", flows_now(),
	      before - 2);
	txn.next_service_id = old_id;
	CHECK(!apply(text, err), "%s", err);
	CHECK(cur.svcs[1].id == old_id, "id %u, want %u once flushed",
	      cur.svcs[1].id, old_id);
	CHECK(!apply(tcp, err), "%s", err);
	CHECK(!flush_removed(), "flush");
	xtest_pass(name);
}

/* The daemon's glue (xlb_sweeper_sync around each transaction): a
 * removed service's flush goes to the sweeper, and its id comes back
 * only once the sweeper has done it (a sweeper whose sweeps fail never
 * does). */
static void t_sweeper_sync(void)
{
	const char *name = "sweeper_sync_holds_ids_until_flushed";
	const char *tcp = KEPT_TCP, *text = KEPT_TCP WITH_UDP;
	const struct xlb_maps none = { .flows = -1, .embryos = -1 };
	struct xlb_timeouts to = XLB_TIMEOUTS_DEFAULT;
	struct xlb_sweeper *good = NULL, *bad = NULL;
	char err[ERRLEN];
	__u32 old_id;
	long before;

	CHECK(!xlb_sweeper_start(&good, &lb.m, &to) &&
		      !xlb_sweeper_start(&bad, &none, &to),
	      "sweepers");
	CHECK(!apply(text, err), "%s", err);
	old_id = cur.svcs[1].id;
	CHECK(send_tcp(5003, 8000, 0, IPPROTO_UDP) == 11, "udp flow");
	before = flows_now();
	/* removed, handed to a sweeper that cannot flush */
	xlb_sweeper_sync(bad, &txn);
	CHECK(!apply(tcp, err), "%s", err);
	xlb_sweeper_sync(bad, &txn);
	CHECK(bit(txn.held, old_id) && !bit(txn.flush, old_id),
	      "not handed on, or not held");
	for (int i = 0; i < 60 && xlb_sweeper_flushed(bad); i++)
		usleep(50000);
	xlb_sweeper_sync(bad, &txn);
	txn.next_service_id = old_id;
	CHECK(!apply(text, err), "%s", err);
	CHECK(cur.svcs[1].id != old_id, "id %u given back before its flush",
	      old_id);
	CHECK(!apply(tcp, err), "%s", err);
	/* what the failing sweeper holds, to one that can flush (a daemon
	 * has one sweeper): the flows go, the ids come back */
	memcpy(txn.flush, txn.held, sizeof(txn.flush));
	xlb_sweeper_sync(good, &txn);
	CHECK(!bit(txn.flush, old_id), "not handed on");
	for (int i = 0; i < 60 && !xlb_sweeper_flushed(good); i++)
		usleep(50000);
	CHECK(xlb_sweeper_flushed(good) && flows_now() == before - 2,
	      "flushed %d, flows %ld, want %ld", xlb_sweeper_flushed(good),
	      flows_now(), before - 2);
	xlb_sweeper_sync(good, &txn);
	CHECK(!bit(txn.held, old_id), "id %u still held", old_id);
	txn.next_service_id = old_id;
	CHECK(!apply(text, err), "%s", err);
	CHECK(cur.svcs[1].id == old_id, "id %u, want %u", cur.svcs[1].id,
	      old_id);
	CHECK(!apply(tcp, err), "%s", err);
	xlb_sweeper_sync(good, &txn);
	for (int i = 0; i < 60 && !xlb_sweeper_flushed(good); i++)
		usleep(50000);
	xlb_sweeper_sync(good, &txn);
	xlb_sweeper_stop(good);
	xlb_sweeper_stop(bad);
	xtest_pass(name);
}

static void t_wrap(void)
{
	const char *name = "ids_wrap_past_referenced";
	char err[ERRLEN];

	/* ids 0 (.11), 2 (.14), 3 (.12) in use; 1 named by a flow (4 was
	 * the removed UDP service's: its flows were flushed) */
	txn.next_backend_id = XLB_MAX_BACKENDS - 1;
	CHECK(!apply("service " VIP ":8000 algo wrr\n"
		     " backend 198.51.100.11 weight 1 drain\n"
		     " backend 198.51.100.14 weight 1\n"
		     " backend 198.51.100.12 weight 1\n"
		     " backend 198.51.100.15 weight 1\n"
		     " backend 198.51.100.16 weight 1\n",
		     err),
	      "%s", err);
	CHECK(id_of("198.51.100.15") == XLB_MAX_BACKENDS - 1, "id %u",
	      id_of("198.51.100.15"));
	CHECK(id_of("198.51.100.16") == 4, "id %u (1 is named by a flow)",
	      id_of("198.51.100.16"));
	xtest_pass(name);
}

static void t_init(void)
{
	const char *name = "init_past_used_and_referenced";
	struct xlb_txn t;
	int rc = xlb_txn_init(&t, &lb.m, &cur);

	CHECK(!rc, "init %d", rc);
	for (__u32 id = 0; id < XLB_MAX_SERVICES; id++)
		CHECK(!bit(t.flush, id), "init: service %u to flush, with no "
		      "connection of a removed service", id);
	/* 65535 is in use: the cursor wraps and asks the flows */
	CHECK(t.next_backend_id == 0 && t.backend_wrapped, "next %u",
	      t.next_backend_id);
	CHECK(t.next_service_id == 1, "next service %u", t.next_service_id);
	xtest_pass(name);
}

static void t_exhausted(void)
{
	const char *name = "no_free_id_changes_nothing";
	size_t cap = 64 * 1024, len = 0;
	char *text = malloc(cap), err[ERRLEN] = "";
	struct xlb_service_key k = {};
	struct xlb_service sv;
	int rc;

	CHECK(text, "oom");
	CHECK(!apply("", err), "%s", err);
	for (int i = 0; i < XLB_MAX_SERVICES; i++)
		len += snprintf(text + len, cap - len,
				"service " VIP ":%d\n backend 198.51.100.11\n",
				10000 + i);
	/* the removed service's id waits for its flush, and the error
	 * says so */
	rc = apply(text, err);
	CHECK(rc == -ENOSPC && strstr(err, "256 services, and 1 of the ids "
					   "waits until the connections of "
					   "removed services are flushed"),
	      "rc %d: %s", rc, err);
	CHECK(!flush_removed(), "flush");
	rc = apply(text, err);
	CHECK(!rc, "%s", err);
	/* 256 services in use: replacing one needs a 257th id */
	len = 0;
	for (int i = 1; i <= XLB_MAX_SERVICES; i++)
		len += snprintf(text + len, cap - len,
				"service " VIP ":%d\n backend 198.51.100.11\n",
				10000 + i);
	rc = apply(text, err);
	free(text);
	CHECK(rc == -ENOSPC, "rc %d", rc);
	CHECK(!strcmp(err, "no free service id: at most 256 services"),
	      "message: %s", err);
	k.vip.ip4 = cur.svcs[0].vip.addr.ip4;
	k.port = htons(10000);
	k.proto = IPPROTO_TCP;
	k.family = XLB_FAMILY_V4;
	CHECK(!bpf_map_lookup_elem(lb.m.services, &k, &sv),
	      "a service of the running configuration is gone");
	k.port = htons(10000 + XLB_MAX_SERVICES);
	CHECK(bpf_map_lookup_elem(lb.m.services, &k, &sv),
	      "the refused service was installed");
	CHECK(port_bits(10000) == (XLB_PORT_TCP | XLB_PORT_BACKEND_TCP) &&
		      !port_bits(10000 + XLB_MAX_SERVICES),
	      "port bits changed");
	xtest_pass(name);
}

static void t_slow_start(void)
{
	const char *name = "slow_start_effective_weight";
	struct xlb_config_service s = { .slow_start_ms = 10000 };
	struct xlb_config_backend b = { .weight = 100,
					.up_since_ns = XLB_NS_PER_SEC };

	CHECK(xlb_txn_effective_weight(&s, &b, XLB_NS_PER_SEC) == 10,
	      "at start %u", xlb_txn_effective_weight(&s, &b, XLB_NS_PER_SEC));
	CHECK(xlb_txn_effective_weight(&s, &b, 6 * XLB_NS_PER_SEC) == 60,
	      "half way %u",
	      xlb_txn_effective_weight(&s, &b, 6 * XLB_NS_PER_SEC));
	CHECK(xlb_txn_effective_weight(&s, &b, 20 * XLB_NS_PER_SEC) == 100,
	      "after");
	b.drain = true;
	CHECK(xlb_txn_effective_weight(&s, &b, 20 * XLB_NS_PER_SEC) == 0,
	      "drained");
	xtest_pass(name);
}

/* A backend that comes back into rotation by any change (a weight from
 * 0, drain removed, as a reload or `backend set` makes them) starts its
 * slow start then; one that stays in rotation does not; on an instance
 * of its own. */
static void t_slow_start_on_return(void)
{
	const char *name = "slow_start_begins_on_return_to_rotation";
	static const char *const steps[] = {
		"service " VIP ":8200 algo wrr slow-start 10s\n"
		" backend 198.51.100.11 weight 0\n backend 198.51.100.12 weight 4\n",
		"service " VIP ":8200 algo wrr slow-start 10s\n"
		" backend 198.51.100.11 weight 4\n backend 198.51.100.12 weight 4\n",
		"service " VIP ":8200 algo wrr slow-start 10s\n"
		" backend 198.51.100.11 weight 4 drain\n"
		" backend 198.51.100.12 weight 4\n",
		"service " VIP ":8200 algo wrr slow-start 10s\n"
		" backend 198.51.100.11 weight 4\n backend 198.51.100.12 weight 4\n",
	};
	/* .11's slow start after each step (0: none) */
	static const __u64 want_since[] = { 0, 2, 2, 4 };
	struct xlb_config c;
	struct xlb_txn t;
	struct fx_lb l;
	char err[ERRLEN] = "";
	int rc = fx_load(&l, 4096, 1024, 32767);

	if (rc) {
		xtest_fail(name, "load: %s", strerror(-rc));
		return;
	}
	xlb_config_init(&c);
	rc = xlb_txn_init(&t, &l.m, &c);
	for (size_t i = 0; !rc && i < 4; i++) {
		const struct xlb_config_backend *b11, *b12;
		__u64 now = (i + 1) * XLB_NS_PER_SEC;

		rc = apply_at(&t, &c, steps[i], now, err);
		if (rc)
			break;
		b11 = &c.svcs[0].backends[0];
		b12 = &c.svcs[0].backends[1];
		if (b11->up_since_ns != want_since[i] * XLB_NS_PER_SEC ||
		    b12->up_since_ns) {
			snprintf(err, sizeof(err), "step %zu: .11 since %llu, "
				 ".12 since %llu", i + 1,
				 (unsigned long long)b11->up_since_ns,
				 (unsigned long long)b12->up_since_ns);
			rc = -EINVAL;
		}
		/* in its first tenth, .11 has 1/11 of the table (its 4 in
		 * tenths against .12's 40), where ceil(4 x 1/10) = 1
		 * against 4 gave it 1/5 (and a weight 1 its whole share) */
		if (!rc && i == 1) {
			__u32 slots[64];
			int len = fx_schedule_read(l.m.schedules, c.svcs[0].id, slots,
					   64), n11 = 0;

			for (int k = 0; k < len && k < 64; k++)
				n11 += slots[k] == b11->id;
			if (len != 11 || n11 != 1) {
				snprintf(err, sizeof(err), "first step: table of "
					 "%d, .11 in %d slots (want 11, 1)",
					 len, n11);
				rc = -EINVAL;
			}
		}
	}
	if (!rc) {
		/* rr ignores weights: said, not silently ineffective */
		struct xlb_config next;
		char warn[256] = "";

		rc = xlb_config_parse("t.conf",
				      "service " VIP ":8201 slow-start 10s\n"
				      " backend 198.51.100.11\n",
				      &next, err, ERRLEN);
		for (size_t k = 0; !rc && k < next.n_svcs; k++)
			next.svcs[k].snat = next.svcs[k].vip.addr;
		if (!rc)
			rc = xlb_txn_apply(&t, &c, &next, 5 * XLB_NS_PER_SEC,
					   err, ERRLEN, warn, sizeof(warn));
		if (!rc) {
			xlb_config_free(&c);
			c = next;
		} else {
			xlb_config_free(&next);
		}
		if (!rc && !strstr(warn, "slow-start does nothing with algo "
				   "rr")) {
			snprintf(err, sizeof(err), "no warning for rr: \"%s\"",
				 warn);
			rc = -EINVAL;
		}
	}
	if (!rc && xlb_txn_effective_weight(&c.svcs[0], &c.svcs[0].backends[0],
					    4 * XLB_NS_PER_SEC) >= 4)
		snprintf(err, sizeof(err), "no ramp: weight %u at once",
			 xlb_txn_effective_weight(&c.svcs[0],
						  &c.svcs[0].backends[0],
						  4 * XLB_NS_PER_SEC)),
			rc = -EINVAL;
	if (rc)
		xtest_fail(name, "%s", err[0] ? err : strerror(-rc));
	else
		xtest_pass(name);
	xlb_config_free(&c);
	fx_unload(&l);
}

/* Warnings of a transaction: weights that rr ignores (at start/reload,
 * from the file, and when a change at run time brings or changes them);
 * a service of the file without backends (FILE:LINE). */
static int apply_warn(struct xlb_config *next, char *err, char *warn,
		      size_t warnlen)
{
	int rc;

	for (size_t i = 0; i < next->n_svcs; i++)
		next->svcs[i].snat = next->svcs[i].vip.addr;
	rc = xlb_txn_apply(&txn, &cur, next, xlb_now_ns(), err, ERRLEN, warn,
			   warnlen);
	if (rc) {
		xlb_config_free(next);
		return rc;
	}
	xlb_config_free(&cur);
	cur = *next;
	return 0;
}

static void t_lint_warnings(void)
{
	const char *name = "rr_weights_and_empty_service_warned";
	static const char file[] =
		"service " VIP ":8300\n"
		" backend 198.51.100.11 weight 1\n"
		" backend 198.51.100.12 weight 5\n"
		"service " VIP ":8301/udp\n"
		"service " VIP ":8302 algo wrr\n"
		" backend 198.51.100.11 weight 1\n"
		" backend 198.51.100.12 weight 5\n";
	static const char rr_warn[] =
		"t.conf:1: service " VIP ":8300/tcp: algo rr ignores the "
		"weights of its backends (from 1 to 5): each gets the same "
		"share; --algo wrr (algo wrr in a file) makes them count";
	static const char empty_warn[] =
		"t.conf:4: service " VIP ":8301/udp has no backends: its new "
		"connections are dropped (drop_no_backend) until one is added "
		"(a backend line under it, or xlb backend add)";
	struct xlb_config next;
	char err[ERRLEN] = "", warn[1024];

	/* from an empty configuration, its ids free */
	CHECK(!apply("", err), "%s", err);
	CHECK(!flush_removed(), "flush");
	/* start and reload: the file's warnings each time */
	for (int pass = 0; pass < 2; pass++) {
		CHECK(!xlb_config_parse("t.conf", file, &next, err, ERRLEN),
		      "%s", err);
		CHECK(!apply_warn(&next, err, warn, sizeof(warn)), "%s", err);
		CHECK(strstr(warn, rr_warn) && strstr(warn, empty_warn) &&
			      !strstr(warn, ":8302"),
		      "pass %d warnings: %.200s", pass, warn);
		CHECK(!cur.source[0], "source kept: %.200s", cur.source);
	}
	/* a change at run time that leaves the weights: nothing */
	CHECK(!xlb_config_copy(&next, &cur), "copy");
	next.svcs[0].backends[0].drain = true;
	CHECK(!apply_warn(&next, err, warn, sizeof(warn)), "%s", err);
	CHECK(!warn[0], "warnings for a drain: %.200s", warn);
	/* xlb backend set ... --weight on the rr service: warned */
	CHECK(!xlb_config_copy(&next, &cur), "copy");
	next.svcs[0].backends[1].weight = 7;
	CHECK(!apply_warn(&next, err, warn, sizeof(warn)), "%s", err);
	CHECK(strstr(warn, "service " VIP ":8300/tcp: algo rr ignores the "
			   "weights of its backends (from 1 to 7)") &&
		      !strstr(warn, "t.conf") && !strstr(warn, "no backends"),
	      "warnings for a weight change: %.200s", warn);
	/* the command line: rr with weights, no line to name */
	xlb_config_init(&next);
	snprintf(next.source, sizeof(next.source), "the command line");
	{
		struct xlb_endpoint vip = { .family = XLB_FAMILY_V4,
					    .port = 8303 },
				    be = { .family = XLB_FAMILY_V4, .port = 80 };
		struct xlb_config_service *s;

		inet_pton(AF_INET, VIP, &vip.addr.ip4);
		s = xlb_config_service_add(&next, &vip, IPPROTO_TCP);
		CHECK(s, "service add");
		inet_pton(AF_INET, "198.51.100.11", &be.addr.ip4);
		CHECK(xlb_config_backend_add(s, &be, 1), "backend add");
		inet_pton(AF_INET, "198.51.100.12", &be.addr.ip4);
		CHECK(xlb_config_backend_add(s, &be, 5), "backend add");
	}
	CHECK(!apply_warn(&next, err, warn, sizeof(warn)), "%s", err);
	CHECK(!strcmp(warn, "service " VIP ":8303/tcp: algo rr ignores the "
			    "weights of its backends (from 1 to 5): each gets "
			    "the same share; --algo wrr (algo wrr in a file) "
			    "makes them count"),
	      "command line warnings: %.200s", warn);
	/* a VIP that is no address here (routed here, or a mistake):
	 * said when the service comes, not at every change after */
	CHECK(!xlb_config_copy(&next, &cur), "copy");
	{
		struct xlb_endpoint vip = { .family = XLB_FAMILY_V4,
					    .port = 80 };

		inet_pton(AF_INET, "192.0.2.77", &vip.addr.ip4);
		CHECK(xlb_config_service_add(&next, &vip, IPPROTO_TCP),
		      "service add");
	}
	CHECK(!apply_warn(&next, err, warn, sizeof(warn)), "%s", err);
	CHECK(!strcmp(warn, "service 192.0.2.77:80/tcp: its VIP is not an "
			    "address of this host: nothing answers ARP/ND for "
			    "it, so only traffic a router sends here reaches "
			    "it (else: ip addr add ADDR/32 dev IFACE, /128 for "
			    "IPv6)"),
	      "foreign VIP warnings: %.200s", warn);
	CHECK(!xlb_config_copy(&next, &cur), "copy");
	next.svcs[next.n_svcs - 1].algo = XLB_ALGO_WRR;
	CHECK(!apply_warn(&next, err, warn, sizeof(warn)), "%s", err);
	CHECK(!strstr(warn, "192.0.2.77"), "warned again: %.200s", warn);
	xtest_pass(name);
}

#define SVC_ABC(algo)                                                      \
	"service " VIP ":8000 algo " algo "\n backend 198.51.100.11\n"     \
	" backend 198.51.100.12\n backend 198.51.100.13 weight 2\n"

static const char *const abc[3] = { "198.51.100.11", "198.51.100.12",
				    "198.51.100.13" };

/* The last octet of the backend with id `id` among abc, 0 if none. */
static int abc_octet(__u32 id)
{
	for (int i = 0; i < 3; i++)
		if (id_of(abc[i]) == id)
			return 11 + i;
	return 0;
}

/*
 * A live switch rr -> mh -> rr keeps the backends' ids.  mh installs
 * the Maglev table of the backends' identities and weights (65,521
 * slots, as xlb_sched_build() makes it), and every new connection of a
 * client goes to its hash's slot; back to rr, one slot per backend and
 * connections take turns again.
 */
static void t_mh_switch(void)
{
	const char *name = "algo_switch_rr_mh_rr";
	static __u32 slots[XLB_SCHED_MH_SLOTS], want[XLB_SCHED_MH_SLOTS];
	struct xlb_sched_backend in[3];
	struct xlb_addr client = {};
	__u32 ids[3], sid;
	char err[ERRLEN];
	int n, m, to;

	CHECK(!apply("", err), "%s", err);
	CHECK(!flush_removed(), "flush");
	CHECK(!apply(SVC_ABC("rr"), err), "%s", err);
	sid = cur.svcs[0].id;
	for (int i = 0; i < 3; i++)
		ids[i] = id_of(abc[i]);
	CHECK(!apply(SVC_ABC("mh"), err), "%s", err);
	for (int i = 0; i < 3; i++) {
		struct xlb_config_backend *b = backend(abc[i]);

		CHECK(b->id == ids[i], "%s: id %u, was %u", abc[i], b->id,
		      ids[i]);
		in[i] = (struct xlb_sched_backend){
			.id = b->id, .weight = b->weight, .live = true,
			.ident = xlb_sched_ident(&b->ep.addr, b->ep.port)
		};
	}
	n = table(sid, slots, XLB_SCHED_MH_SLOTS);
	m = xlb_sched_build(XLB_ALGO_MH, in, 3, want, XLB_SCHED_MH_SLOTS,
			    NULL);
	CHECK(n == XLB_SCHED_MH_SLOTS && m == n &&
		      !memcmp(slots, want, sizeof(want)),
	      "table of %d slots, %d built", n, m);
	inet_pton(AF_INET, CLIENT, client.bytes);
	to = abc_octet(slots[xlb_client_hash(&client) % n]);
	CHECK(to, "the client's slot holds no backend of the service");
	for (__u16 p = 3000; p < 3008; p++)
		CHECK(syn(p) == to, "SYN from port %u to .%d, its slot's "
		      "backend is .%d", p, syn(p), to);
	CHECK(!apply(SVC_ABC("rr"), err), "%s", err);
	n = table(sid, slots, 8);
	CHECK(n == 3 && slots[0] == ids[0] && slots[1] == ids[1] &&
		      slots[2] == ids[2],
	      "rr table of %d slots", n);
	m = syn(3100);
	n = syn(3101);
	CHECK(m > 0 && n > 0 && m != n && syn(3102) != n,
	      "rr: SYNs to .%d, .%d", m, n);
	xtest_pass(name);
}

/* Apply the running configuration again (as the daemon does after a
 * sweep for wlc); 0 or the error. */
static int reapply(char *err)
{
	struct xlb_config next;
	char warn[256];
	int rc = xlb_config_copy(&next, &cur);

	if (rc)
		return rc;
	rc = xlb_txn_apply(&txn, &cur, &next, xlb_now_ns(), err, ERRLEN, warn,
			   sizeof(warn));
	if (rc) {
		xlb_config_free(&next);
		return rc;
	}
	xlb_config_free(&cur);
	cur = next;
	return 0;
}

/*
 * algo wlc: without counts (txn.load NULL) the table is wrr's; with
 * counts, the weights xlb_sched_wlc() gives them: 6 connections on
 * .11, none on .12: only .12 in the table, and SYNs go there; 6 on
 * each: both again.  After a failed apply, whose rollback builds the
 * table from other counts, the next apply writes it whatever the
 * signatures say.  xlb_txn_wlc_stale() says when counts
 * change the table, and not once it is applied.
 */
static int apply_mh(int n, char *err);

static void t_wlc(void)
{
	const char *name = "wlc_table_from_counts";
	static struct xlb_backend_conns load[XLB_MAX_BACKENDS];
	__u32 slots[16], id_a, id_b;
	char err[ERRLEN];
	int n;

	CHECK(!apply("service " VIP ":8000 algo wlc\n backend 198.51.100.11\n"
		     " backend 198.51.100.12\n",
		     err),
	      "%s", err);
	id_a = id_of("198.51.100.11");
	id_b = id_of("198.51.100.12");
	n = table(cur.svcs[0].id, slots, 16);
	CHECK(n == 2 && slots[0] == id_a && slots[1] == id_b,
	      "no counts: table of %d, want wrr's 2", n);
	CHECK(!xlb_txn_wlc_stale(&txn, &cur, xlb_now_ns()), "stale, no counts");
	txn.load = load;
	load[id_a] = (struct xlb_backend_conns){ .active = 5, .inactive = 1 };
	CHECK(xlb_txn_wlc_stale(&txn, &cur, xlb_now_ns()),
	      "new counts not seen as stale");
	CHECK(!reapply(err), "%s", err);
	n = table(cur.svcs[0].id, slots, 16);
	CHECK(n == 1 && slots[0] == id_b, "6 on .11, 0 on .12: table of %d "
	      "slots, first %u (want only .12, id %u)", n, slots[0], id_b);
	CHECK(syn(3300) == 12 && syn(3301) == 12, "SYNs not to .12");
	CHECK(!xlb_txn_wlc_stale(&txn, &cur, xlb_now_ns()),
	      "stale right after the apply");
	load[id_b] = (struct xlb_backend_conns){ .active = 6 };
	CHECK(xlb_txn_wlc_stale(&txn, &cur, xlb_now_ns()), "level not stale");
	CHECK(!reapply(err), "%s", err);
	n = table(cur.svcs[0].id, slots, 16);
	CHECK(n == 2, "6 and 6: table of %d slots, want 2", n);
	/* a failed apply's rollback builds the table from the counts of
	 * then (0 on .12: only .12); back at 6 and 6, whose signature the
	 * running configuration holds, the table must still be rewritten */
	load[id_b].active = 0;
	CHECK(apply_mh(XLB_SCHED_MH_SLOTS + 1, err) == -E2BIG, "%s", err);
	n = table(cur.svcs[0].id, slots, 16);
	CHECK(n == 1 && slots[0] == id_b, "rollback: table of %d slots", n);
	load[id_b].active = 6;
	CHECK(xlb_txn_wlc_stale(&txn, &cur, xlb_now_ns()),
	      "after a rollback, counts back to those of the running "
	      "configuration's tables: not stale");
	CHECK(!reapply(err), "%s", err);
	n = table(cur.svcs[0].id, slots, 16);
	CHECK(n == 2, "6 and 6 after the rollback: table of %d slots, want 2",
	      n);
	CHECK(!xlb_txn_wlc_stale(&txn, &cur, xlb_now_ns()),
	      "stale after the apply that followed the rollback");
	txn.load = NULL;
	CHECK(!apply("", err), "%s", err);
	CHECK(!flush_removed(), "flush");
	xtest_pass(name);
}

/* Apply a service of algo mh with n backends (documentation addresses,
 * distinct ports). */
static int apply_mh(int n, char *err)
{
	size_t cap = 64 + 32 * (size_t)n, len;
	char *text = malloc(cap);
	int rc;

	if (!text)
		return -ENOMEM;
	len = snprintf(text, cap, "service " VIP ":8000 algo mh\n");
	for (int i = 0; i < n; i++)
		len += snprintf(text + len, cap - len,
				" backend 192.0.2.%d:%d\n", 1 + i % 250,
				1000 + i / 250);
	rc = apply(text, err);
	free(text);
	return rc;
}

/* The backend ids in use in the backends map. */
static int backends_in_use(void)
{
	struct xlb_backend v;
	int n = 0;

	for (__u32 id = 0; id < XLB_MAX_BACKENDS; id++)
		n += !slot(id, &v) && (v.flags & XLB_BACKEND_IN_USE);
	return n;
}

/*
 * An mh service holds at most 65,521 live backends (its table's slots):
 * 65,522 are refused, naming the limit and the fix, and the running
 * configuration stays (its backends, its table, its scheduling).
 * (65,521 are taken: test_sched, at the limit of smaller tables.)
 */
static void t_mh_too_many(void)
{
	const char *name = "mh_backends_beyond_table_refused";
	__u32 slots[8], sid = cur.svcs[0].id;
	char err[ERRLEN] = "";
	int rc, n;

	CHECK(cur.n_svcs == 1 && cur.svcs[0].algo == XLB_ALGO_RR &&
		      cur.svcs[0].n_backends == 3,
	      "expected the rr service of algo_switch_rr_mh_rr");
	rc = apply_mh(XLB_SCHED_MH_SLOTS + 1, err);
	CHECK(rc == -E2BIG && strstr(err, "algo mh holds at most 65521 live "
					  "backends") &&
		      strstr(err, "use algo wrr, or fewer backends"),
	      "rc %d: %s", rc, err);
	CHECK(cur.n_svcs == 1 && cur.svcs[0].n_backends == 3,
	      "running configuration changed");
	n = backends_in_use();
	CHECK(n == 3, "%d backend ids in use, expected the running 3", n);
	n = table(sid, slots, 8);
	CHECK(n == 3, "table of %d slots, expected rr's 3", n);
	rc = syn(3200);
	n = syn(3201);
	CHECK(rc > 0 && n > 0 && rc != n, "rr: SYNs to .%d, .%d", rc, n);
	xtest_pass(name);
}

int main(void)
{
	char why[256];
	int rc;

	t_slow_start();
	if (fx_netns_enter(why, sizeof(why)) ||
	    fx_topology_setup(why, sizeof(why))) {
		xtest_skip("transactions", "%s", why);
		return xtest_done();
	}
	ifindex = fx_ifindex(FX_IF);
	pkt_mac(FX_IF_MAC, mac_if);
	pkt_mac(FX_GW4_MAC, mac_gw);
	rc = fx_load(&lb, 4096, 1024, 32767);
	if (rc) {
		xtest_skip("transactions", "cannot load xlb: %s",
			   strerror(-rc));
		return xtest_done();
	}
	xlb_config_init(&cur);
	rc = xlb_txn_init(&txn, &lb.m, &cur);
	if (rc) {
		xtest_fail("txn_init", "%s", strerror(-rc));
		return xtest_done();
	}
	t_install();
	t_reweight();
	t_remove_backend();
	t_drain();
	t_read_back();
	t_read_writes_nothing();
	t_adopt_marks();
	t_remove_service();
	t_held_until_flushed();
	t_sweeper_sync();
	t_wrap();
	t_init();
	t_exhausted();
	t_slow_start_on_return();
	t_lint_warnings();
	t_mh_switch();
	t_mh_too_many();
	t_wlc();
	xlb_config_free(&cur);
	fx_unload(&lb);
	return xtest_done();
}
