// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Concurrency of the data path: one thread per online CPU, each pinned to
 * its CPU, runs the XDP program through BPF_PROG_TEST_RUN at the same time
 * (released together by a barrier), each sending SYNs with client tuples
 * of its own.  Checked afterwards, against the documented guarantees:
 *
 *   - the schedule cursor is an atomic fetch-and-add: when the number of
 *     new flows of a service is a multiple of its schedule period, every
 *     backend got exactly its share (wrr 1,2,3: 1/6, 2/6, 3/6; rr: 1/3),
 *     counted both by xlb_backend_stats conns and by the flow entries;
 *     the cursor advanced exactly once per new flow (no lost or doubled
 *     picks);
 *   - no two connections share a NAT tuple: every connection has two
 *     entries, each points at the other, and the NAT tuples are distinct
 *     (also under heavy port contention with a small NAT port range);
 *   - SYNs alone (a flood: nobody completes the handshake) only create
 *     half-open pairs in xlb_embryos: xlb_flows stays empty, nothing is
 *     promoted;
 *   - within a run far shorter than the 1 s grace of half-open pairs, no
 *     NAT port is taken over; when every port is held by a stale
 *     half-open pair, each new connection takes over exactly one, and
 *     every connection that was forwarded keeps its pair;
 *   - full handshakes (SYN, SYN-ACK, ACK) on every CPU at once: every
 *     pair is promoted exactly once, and moved whole to xlb_flows.
 *
 * Threads pin themselves with the raw sched_setaffinity system call (no
 * cpu_set_t / _GNU_SOURCE: with src/ on the <> include path, <sched.h>
 * would be src/sched.h; this builds either way).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "tables.h"
#include "fixture.h"
#include "pkt.h"
#include "xtest.h"

#define WHY_LEN 512
#define MAX_THREADS 200	   /* client addresses 203.0.113.1..200 */
#define SYNS_PER_THREAD 1800 /* per service; a multiple of 6 */
#define VIP "198.51.100.10"
#define CONTENTION_PORTS 512 /* NAT ports of the contention instance */

enum { SVC_WRR, SVC_RR, N_SVC };

struct svc {
	__u16 port;
	enum xlb_algo algo;
	__u16 weights[3];
	__u32 first_be;
};

static const char *const be_addrs[3] = { "198.51.100.11", "198.51.100.12",
					 "198.51.100.14" };

static struct svc svcs[N_SVC] = {
	[SVC_WRR] = { 8000, XLB_ALGO_WRR, { 1, 2, 3 }, 0 },
	[SVC_RR] = { 8001, XLB_ALGO_RR, { 1, 1, 1 }, 3 },
};

enum worker_mode {
	W_SYN,	     /* SYNs only */
	W_HANDSHAKE, /* SYN, the backend's SYN-ACK, the client's ACK */
};

struct worker {
	pthread_t tid;
	int cpu;
	int index;
	enum worker_mode mode;
	struct fx_lb *lb;
	int ifindex;
	int n_svc;	     /* services 0..n_svc-1 get SYNs */
	__u16 dport_override; /* contention run: one service on this port */
	int syns;	     /* per service */
	pthread_barrier_t *start;
	/* results */
	long tx, drops_nat, other;
	long hs_done, hs_fail; /* W_HANDSHAKE: all three forwarded, or not */
	int err;
	bool pinned;
};

/* Pin the calling thread to one CPU (raw system call, see above). */
static bool pin_to_cpu(int cpu)
{
	unsigned long mask[16] = { 0 };

	if (cpu >= (int)(8 * sizeof(mask)))
		return false;
	mask[cpu / (8 * sizeof(long))] |= 1ul << (cpu % (8 * sizeof(long)));
	return syscall(SYS_sched_setaffinity, 0, sizeof(mask), mask) == 0;
}

/* Build the frame of s in in[in_cap] and run the program on it: 0 with
 * *verdict, or -errno. */
static int run_spec(const struct fx_lb *lb, int ifindex,
		    const struct pkt_spec *s, __u8 *in, size_t in_cap,
		    __u8 *out, size_t out_cap, __u32 *verdict)
{
	size_t n = pkt_build(s, in, in_cap), out_len;

	return fx_run(lb->prog_fd, ifindex, in, n, out, out_cap, &out_len,
		      verdict);
}

/* W_HANDSHAKE: the connection's SYN was forwarded; answer it from the
 * backend its half-open pair names, then send the client's ACK.  Both
 * must be forwarded (XDP_TX).  0, 1 (a verdict was not XDP_TX) or -errno. */
static int handshake_rest(struct worker *w, const struct pkt_spec *syn,
			  __u8 *in, __u8 *out, size_t out_cap)
{
	struct xlb_flow_key k;
	struct xlb_flow f;
	struct pkt_spec s;
	__u32 verdict, synack_seq;
	int err;

	fx_flow_key(&k, XLB_FAMILY_V4, IPPROTO_TCP, syn->src, syn->sport,
		    syn->dst, syn->dport);
	if (fx_flow_get(w->lb->m.embryos, &k, &f))
		return 1;
	pkt_spec_init(&s);
	pkt_mac("02:00:00:00:00:11", s.smac);
	pkt_mac(FX_IF_MAC, s.dmac);
	s.family = XLB_FAMILY_V4;
	memcpy(s.src, f.rewritten.dst.bytes, 4);
	memcpy(s.dst, f.rewritten.src.bytes, 4);
	s.proto = IPPROTO_TCP;
	s.sport = ntohs(f.rewritten.dport);
	s.dport = ntohs(f.rewritten.sport);
	s.tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK;
	s.ack = syn->seq + 1;
	synack_seq = s.seq;
	err = run_spec(w->lb, w->ifindex, &s, in, 128, out, out_cap, &verdict);
	if (err || verdict != XDP_TX)
		return err ? err : 1;
	s = *syn;
	s.tcp_flags = PKT_TCP_ACK;
	s.seq = syn->seq + 1;
	s.ack = synack_seq + 1; /* acknowledges the SYN-ACK: promotes */
	err = run_spec(w->lb, w->ifindex, &s, in, 128, out, out_cap, &verdict);
	if (err || verdict != XDP_TX)
		return err ? err : 1;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report_line(const char *name, bool ok, const char *why)
{
	if (ok)
		xtest_pass(name);
	else
		xtest_fail(name, "%s", why);
}

static int svc_install(struct fx_lb *lb, int id, __u16 port,
		       enum xlb_algo algo, const __u16 *weights, int n,
		       __u32 first_be)
{
	struct xlb_backend_conf be[3] = {};
	struct xlb_service_conf c = {};

	for (int i = 0; i < n; i++) {
		be[i].family = pkt_addr(be_addrs[i], be[i].addr.bytes);
		be[i].port = port;
		be[i].weight = weights[i];
	}
	c.family = pkt_addr(VIP, c.vip.bytes);
	pkt_addr(VIP, c.snat.bytes);
	c.port = port;
	c.proto = IPPROTO_TCP;
	c.algo = algo;
	c.first_backend_id = first_be;
	c.n_backends = n;
	c.backends = be;
	return xlb_service_install(&lb->m, id, &c, NULL);
}

/* Load an instance with o and one rr service on port (n weights); on
 * failure report `name`, free w and leave nothing loaded.  w NULL: its
 * allocation failed.  0 or -1. */
static int setup_one_service(struct fx_lb *lb, const struct xlb_load_opts *o,
			     __u16 port, const __u16 *weights, int n, void *w,
			     const char *name)
{
	int err = fx_load_opts(lb, o);

	if (!err) {
		err = svc_install(lb, 0, port, XLB_ALGO_RR, weights, n, 0);
		if (err || !w)
			fx_unload(lb);
	}
	if (err || !w) {
		xtest_fail(name, "%s", strerror(err ? -err : ENOMEM));
		free(w);
		return -1;
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	__u8 in[128], out[PKT_MAX_FRAME];
	struct pkt_spec s;
	char src[32];

	w->pinned = pin_to_cpu(w->cpu);
	pkt_spec_init(&s);
	pkt_mac(FX_IF_MAC, s.dmac);
	pkt_mac("02:00:00:00:00:fe", s.smac);
	snprintf(src, sizeof(src), "203.0.113.%d", 1 + w->index);
	pkt_spec_addrs(&s, src, VIP);
	s.proto = IPPROTO_TCP;
	s.tcp_flags = PKT_TCP_SYN;
	pthread_barrier_wait(w->start);
	for (int i = 0; i < w->syns && !w->err; i++) {
		for (int v = 0; v < w->n_svc && !w->err; v++) {
			__u32 verdict;

			s.sport = (__u16)(10000 + i);
			s.dport = w->dport_override ? w->dport_override :
						      svcs[v].port;
			w->err = run_spec(w->lb, w->ifindex, &s, in, sizeof(in),
					  out, sizeof(out), &verdict);
			if (w->err)
				break;
			if (verdict == XDP_TX)
				w->tx++;
			else if (verdict == XDP_DROP)
				w->drops_nat++; /* checked via counters */
			else
				w->other++;
			if (w->mode == W_HANDSHAKE && verdict == XDP_TX) {
				int rc = handshake_rest(w, &s, in, out,
							sizeof(out));

				if (rc < 0)
					w->err = rc;
				else if (rc)
					w->hs_fail++;
				else
					w->hs_done++;
			}
		}
	}
	return NULL;
}

/* Start n workers (one per CPU, CPUs in order) and wait for them. */
static int run_workers(struct worker *w, int n, char *why, size_t len)
{
	pthread_barrier_t start;
	int started = 0, err = 0;

	pthread_barrier_init(&start, NULL, n);
	for (int i = 0; i < n; i++) {
		w[i].start = &start;
		err = pthread_create(&w[i].tid, NULL, worker_main, &w[i]);
		if (err)
			break;
		started++;
	}
	if (err) {
		/* the barrier would never open: cannot recover cleanly */
		snprintf(why, len, "pthread_create: %s", strerror(err));
		fprintf(stderr, "%s\n", why);
		exit(1);
	}
	for (int i = 0; i < started; i++)
		pthread_join(w[i].tid, NULL);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < n; i++)
		if (w[i].err) {
			snprintf(why, len, "worker %d: test run failed: %s", i,
				 strerror(-w[i].err));
			return -1;
		}
	return 0;
}

/* Every connection in xlb_flows + xlb_embryos (both halves). */
struct conn_rec {
	struct xlb_flow_key key; /* client -> VIP */
	struct xlb_flow fwd;
};

struct table_scan {
	struct conn_rec *conns;
	long n_conns;
	long entries;
	long per_backend[16];
	char why[WHY_LEN];
};

static int cmp_rewritten(const void *a, const void *b)
{
	const struct conn_rec *x = a, *y = b;

	return memcmp(&x->fwd.rewritten, &y->fwd.rewritten,
		      sizeof(x->fwd.rewritten));
}

/*
 * Walk both tables: every client->backend entry must have its partner
 * (same table), pointing back at it; NAT ports in [min, max]; the NAT
 * tuples of all connections distinct.  Fills per_backend counts.
 */
static int scan_tables(struct fx_lb *lb, __u16 min, __u16 max,
		       struct table_scan *t)
{
	int maps[2] = { lb->m.flows, lb->m.embryos };
	long cap = fx_map_count(lb->m.flows) + fx_map_count(lb->m.embryos);

	memset(t->per_backend, 0, sizeof(t->per_backend));
	t->conns = calloc(cap > 0 ? cap : 1, sizeof(*t->conns));
	t->n_conns = 0;
	t->entries = 0;
	t->why[0] = 0;
	if (!t->conns)
		return -ENOMEM;
	for (int m = 0; m < 2; m++) {
		struct xlb_flow_key k, next, partner;
		struct xlb_flow v, pv;
		void *prev = NULL;

		while (bpf_map_get_next_key(maps[m], prev, &next) == 0) {
			k = next;
			prev = &k;
			t->entries++;
			if (bpf_map_lookup_elem(maps[m], &k, &v))
				continue;
			if (v.dir != XLB_DIR_TO_BACKEND)
				continue;
			memset(&partner, 0, sizeof(partner));
			partner.src = v.rewritten.dst;
			partner.dst = v.rewritten.src;
			partner.sport = v.rewritten.dport;
			partner.dport = v.rewritten.sport;
			partner.proto = v.rewritten.proto;
			partner.family = v.rewritten.family;
			if (bpf_map_lookup_elem(maps[m], &partner, &pv) ||
			    pv.dir != XLB_DIR_TO_CLIENT ||
			    memcmp(&pv.rewritten.src, &k.dst, 16) ||
			    memcmp(&pv.rewritten.dst, &k.src, 16) ||
			    pv.rewritten.sport != k.dport ||
			    pv.rewritten.dport != k.sport) {
				snprintf(t->why, sizeof(t->why),
					 "client port %u: reverse entry "
					 "missing or not pointing back",
					 ntohs(k.sport));
				return -1;
			}
			if (ntohs(v.rewritten.sport) < min ||
			    ntohs(v.rewritten.sport) > max) {
				snprintf(t->why, sizeof(t->why),
					 "NAT port %u outside %u-%u",
					 ntohs(v.rewritten.sport), min, max);
				return -1;
			}
			if (t->n_conns < cap) {
				t->conns[t->n_conns].key = k;
				t->conns[t->n_conns].fwd = v;
				t->n_conns++;
			}
			if (v.backend_id < 16)
				t->per_backend[v.backend_id]++;
		}
	}
	qsort(t->conns, t->n_conns, sizeof(*t->conns), cmp_rewritten);
	for (long i = 1; i < t->n_conns; i++)
		if (!cmp_rewritten(&t->conns[i - 1], &t->conns[i])) {
			snprintf(t->why, sizeof(t->why),
				 "two connections share NAT port %u to backend %u",
				 ntohs(t->conns[i].fwd.rewritten.sport),
				 t->conns[i].fwd.backend_id);
			return -1;
		}
	if (t->entries != 2 * t->n_conns) {
		snprintf(t->why, sizeof(t->why),
			 "%ld entries for %ld connections", t->entries,
			 t->n_conns);
		return -1;
	}
	return 0;
}

static void test_schedule_under_load(int ifindex, int nthreads)
{
	long per_svc = (long)nthreads * SYNS_PER_THREAD, tx = 0, other = 0;
	struct xlb_load_opts o = {
		.max_flows = 2 * N_SVC * per_svc,
		.max_half_open = 4 * N_SVC * per_svc,
		.nat_port_min = XLB_DEFAULT_NAT_PORT_MIN,
		.nat_port_max = XLB_DEFAULT_NAT_PORT_MAX,
	};
	struct worker *w = calloc(nthreads, sizeof(*w));
	struct fx_counters c;
	struct table_scan t = { 0 };
	char why[WHY_LEN] = "";
	struct fx_lb lb;
	int err, pinned = 0;
	bool ok, scanned;

	err = fx_load_opts(&lb, &o);
	for (int i = 0; !err && i < N_SVC; i++)
		err = svc_install(&lb, i, svcs[i].port, svcs[i].algo,
				  svcs[i].weights, 3, svcs[i].first_be);
	if (err || !w) {
		xtest_fail("concurrent_setup", "load/install: %s",
			   strerror(err ? -err : ENOMEM));
		free(w);
		return;
	}
	for (int i = 0; i < nthreads; i++) {
		w[i].cpu = i;
		w[i].index = i;
		w[i].lb = &lb;
		w[i].ifindex = ifindex;
		w[i].n_svc = N_SVC;
		w[i].syns = SYNS_PER_THREAD;
	}
	if (run_workers(w, nthreads, why, sizeof(why))) {
		xtest_fail("concurrent_all_syns_forwarded", "%s", why);
		goto out;
	}
	for (int i = 0; i < nthreads; i++) {
		tx += w[i].tx;
		other += w[i].drops_nat + w[i].other;
		pinned += w[i].pinned;
	}
	printf("  %d threads (%d pinned), %ld SYNs per service\n", nthreads,
	       pinned, per_svc);
	ok = tx == N_SVC * per_svc && other == 0;
	snprintf(why, sizeof(why), "%ld XDP_TX and %ld other verdicts of %ld",
		 tx, other, N_SVC * per_svc);
	report_line("concurrent_all_syns_forwarded", ok, why);

	err = fx_counters_read(&lb.m, &c);
	/* cursor: exactly one fetch-and-add per new flow */
	ok = !err;
	for (__u32 v = 0; ok && v < N_SVC; v++) {
		struct xlb_cursor cur;

		if (bpf_map_lookup_elem(lb.m.cursors, &v, &cur) ||
		    cur.next != (__u64)per_svc) {
			snprintf(why, sizeof(why),
				 "service %u cursor %llu, expected %ld", v,
				 (unsigned long long)cur.next, per_svc);
			ok = false;
		}
	}
	report_line("concurrent_cursor_one_step_per_new_flow", ok, why);

	ok = !err && c.stats[XLB_STAT_NEW_FLOW] == (__u64)tx &&
	     c.stats[XLB_STAT_FWD_TO_BACKEND] == (__u64)tx;
	snprintf(why, sizeof(why), "new_flow %llu fwd_to_backend %llu, %ld TX",
		 (unsigned long long)c.stats[XLB_STAT_NEW_FLOW],
		 (unsigned long long)c.stats[XLB_STAT_FWD_TO_BACKEND], tx);
	for (__u32 v = 0; ok && v < N_SVC; v++)
		if (c.svc[v].conns != (__u64)per_svc) {
			snprintf(why, sizeof(why),
				 "service %u conns %llu, expected %ld", v,
				 (unsigned long long)c.svc[v].conns, per_svc);
			ok = false;
		}
	report_line("concurrent_counters_match_new_flows", ok, why);

	/* exact shares, by counters and by the flow entries */
	scanned = !scan_tables(&lb, o.nat_port_min, o.nat_port_max, &t);
	if (!scanned) {
		xtest_fail("concurrent_flow_pairs_distinct_nat_tuples", "%s",
			   t.why);
	} else {
		snprintf(why, sizeof(why), "%ld connections, %ld entries",
			 t.n_conns, t.entries);
		report_line("concurrent_flow_pairs_distinct_nat_tuples",
			    t.n_conns == tx, why);
	}
	for (int v = 0; v < N_SVC; v++) {
		__u16 total = 0;
		const char *name = v == SVC_WRR ?
					   "concurrent_wrr_1_2_3_exact_shares" :
					   "concurrent_rr_exact_shares";

		for (int i = 0; i < 3; i++)
			total += svcs[v].weights[i];
		ok = true;
		why[0] = 0;
		for (int i = 0; ok && i < 3; i++) {
			__u32 id = svcs[v].first_be + i;
			long want = per_svc * svcs[v].weights[i] / total;

			if (c.be[id].conns != (__u64)want ||
			    (scanned && t.per_backend[id] != want)) {
				snprintf(why, sizeof(why),
					 "backend %s: %llu conns counted, %ld "
					 "flows in the table%s, expected %ld",
					 be_addrs[i],
					 (unsigned long long)c.be[id].conns,
					 t.per_backend[id],
					 scanned ? "" : " (scan failed)", want);
				ok = false;
			}
		}
		report_line(name, ok, why);
	}

	/* a SYN flood: every pair half-open, xlb_flows untouched */
	{
		long flows = fx_map_count(lb.m.flows);
		long embryos = fx_map_count(lb.m.embryos);

		ok = !err && flows == 0 && embryos == 2 * tx &&
		     c.stats[XLB_STAT_PROMOTED] == 0 &&
		     c.stats[XLB_STAT_PORT_TAKEOVER] == 0;
		snprintf(why, sizeof(why), "xlb_flows %ld entries, xlb_embryos "
			 "%ld (expected 0 and %ld), promoted %llu, "
			 "port_takeover %llu",
			 flows, embryos, 2 * tx,
			 (unsigned long long)c.stats[XLB_STAT_PROMOTED],
			 (unsigned long long)c.stats[XLB_STAT_PORT_TAKEOVER]);
		report_line("concurrent_syn_flood_stays_half_open", ok, why);
	}
out:
	free(t.conns);
	free(w);
	fx_unload(&lb);
}

/*
 * Port contention: one backend, CONTENTION_PORTS NAT ports, and as many
 * SYNs from all CPUs as ports: probing collides constantly.  Whatever
 * gets through, no NAT tuple may be given twice, and every SYN is either
 * forwarded (one new connection) or dropped as drop_nat_ports.  All the
 * pairs are younger than the 1 s grace (the run is checked to be shorter):
 * no port may be taken over, so every forwarded SYN keeps its pair.
 */
static void test_port_contention(int ifindex, int nthreads)
{
	static const __u16 one[1] = { 1 };
	int per_thread = CONTENTION_PORTS / nthreads;
	struct xlb_load_opts o = {
		.max_flows = 4 * CONTENTION_PORTS,
		.max_half_open = 8 * CONTENTION_PORTS,
		.nat_port_min = 20000,
		.nat_port_max = 20000 + CONTENTION_PORTS - 1,
	};
	struct worker *w = calloc(nthreads, sizeof(*w));
	struct table_scan t = { 0 };
	char why[WHY_LEN] = "";
	struct fx_counters c;
	long tx = 0, drops = 0, other = 0;
	struct fx_lb lb;
	double t0, took;
	int err;
	bool ok;

	if (per_thread < 1)
		per_thread = 1;
	if (setup_one_service(&lb, &o, 9000, one, 1, w,
			      "concurrent_port_contention_setup"))
		return;
	for (int i = 0; i < nthreads; i++) {
		w[i].cpu = i;
		w[i].index = i;
		w[i].lb = &lb;
		w[i].ifindex = ifindex;
		w[i].n_svc = 1;
		w[i].dport_override = 9000;
		w[i].syns = per_thread;
	}
	t0 = now_s();
	if (run_workers(w, nthreads, why, sizeof(why))) {
		xtest_fail("concurrent_port_contention_no_shared_tuple", "%s",
			   why);
		goto out;
	}
	took = now_s() - t0;
	for (int i = 0; i < nthreads; i++) {
		tx += w[i].tx;
		drops += w[i].drops_nat;
		other += w[i].other;
	}
	err = fx_counters_read(&lb.m, &c);
	ok = !err && other == 0 &&
	     c.stats[XLB_STAT_DROP_NAT_PORTS] == (__u64)drops &&
	     c.stats[XLB_STAT_NEW_FLOW] == (__u64)tx &&
	     tx + drops == (long)per_thread * nthreads;
	snprintf(why, sizeof(why),
		 "%ld TX + %ld drops of %ld SYNs; counters new_flow %llu "
		 "drop_nat_ports %llu",
		 tx, drops, (long)per_thread * nthreads,
		 (unsigned long long)c.stats[XLB_STAT_NEW_FLOW],
		 (unsigned long long)c.stats[XLB_STAT_DROP_NAT_PORTS]);
	printf("  contention: %s\n", why);
	report_line("concurrent_port_contention_verdicts_counted", ok, why);
	if (took >= 0.9) {
		xtest_skip("concurrent_port_contention_no_takeover_of_young_pairs",
			   "the run took %.2f s: pairs may have aged", took);
	} else {
		ok = !err && c.stats[XLB_STAT_PORT_TAKEOVER] == 0;
		snprintf(why, sizeof(why), "port_takeover %llu in a %.3f s run "
			 "(every pair younger than 1 s)",
			 (unsigned long long)c.stats[XLB_STAT_PORT_TAKEOVER],
			 took);
		report_line("concurrent_port_contention_no_takeover_of_young_pairs",
			    ok, why);
	}
	if (scan_tables(&lb, o.nat_port_min, o.nat_port_max, &t))
		xtest_fail("concurrent_port_contention_no_shared_tuple", "%s",
			   t.why);
	else {
		snprintf(why, sizeof(why), "%ld connections in the tables, %ld TX",
			 t.n_conns, tx);
		report_line("concurrent_port_contention_no_shared_tuple",
			    t.n_conns == tx, why);
	}
out:
	free(t.conns);
	free(w);
	fx_unload(&lb);
}

/*
 * Takeover under load: every NAT port of the backend is held by a stale
 * half-open pair (a spoofed SYN answered by the backend, created long
 * ago: inserted through the map), then SYNs from all CPUs at once.  No
 * port is free, so each forwarded SYN took over exactly one stale pair;
 * each port is held by exactly one pair afterwards, and every forwarded
 * SYN's connection is among them (none taken over again, none sharing a
 * tuple).
 */
#define STALE_CLIENT "203.0.113.250"

/* Stale half-open pairs of STALE_CLIENT on every NAT port in [min, max];
 * `answered`: the backend's SYN-ACK seen (RACE_SYNACK_SEQ), so that the
 * client's ACK can still promote them. */
#define RACE_SYNACK_SEQ 0x5eed0001u

static int prefill_stale(struct fx_lb *lb, __u16 min, __u16 max,
			 bool answered)
{
	__u8 client[16], vip[16], be[16];
	struct xlb_flow_key kc, kb;
	struct xlb_flow fc = {}, fb = {};

	pkt_addr(STALE_CLIENT, client);
	pkt_addr(VIP, vip);
	pkt_addr(be_addrs[0], be);
	for (__u32 port = min; port <= max; port++) {
		fx_flow_key(&kc, XLB_FAMILY_V4, IPPROTO_TCP, client, port, vip,
			    9000);
		fx_flow_key(&kb, XLB_FAMILY_V4, IPPROTO_TCP, be, 9000, vip,
			    port);
		fx_flow_key(&fc.rewritten, XLB_FAMILY_V4, IPPROTO_TCP, vip, port,
			    be, 9000);
		fx_flow_key(&fb.rewritten, XLB_FAMILY_V4, IPPROTO_TCP, vip, 9000,
			    client, port);
		fc.created_ns = fb.created_ns = 1; /* long ago */
		fc.last_seen_ns = fb.last_seen_ns = 1; /* answered */
		fc.dir = XLB_DIR_TO_BACKEND;
		fb.dir = XLB_DIR_TO_CLIENT;
		if (answered) {
			fb.flags = XLB_FLOW_SYN_ACK_SEEN;
			fb.syn_seq = htonl(RACE_SYNACK_SEQ);
		}
		if (bpf_map_update_elem(lb->m.embryos, &kc, &fc, BPF_NOEXIST) ||
		    bpf_map_update_elem(lb->m.embryos, &kb, &fb, BPF_NOEXIST))
			return -errno;
	}
	return 0;
}

static void test_takeover_under_load(int ifindex, int nthreads)
{
	static const __u16 one[1] = { 1 };
	int per_thread = CONTENTION_PORTS / nthreads;
	struct xlb_load_opts o = {
		.max_flows = 4 * CONTENTION_PORTS,
		.max_half_open = 8 * CONTENTION_PORTS,
		.nat_port_min = 20000,
		.nat_port_max = 20000 + CONTENTION_PORTS - 1,
	};
	struct worker *w = calloc(nthreads, sizeof(*w));
	struct table_scan t = { 0 };
	char why[WHY_LEN] = "";
	struct fx_counters c;
	long tx = 0, drops = 0, other = 0, stale = 0, fresh = 0;
	__u8 stale_addr[16];
	struct fx_lb lb;
	int err;
	bool ok;

	if (per_thread < 1)
		per_thread = 1;
	if (setup_one_service(&lb, &o, 9000, one, 1, w,
			      "concurrent_takeover_setup"))
		return;
	err = prefill_stale(&lb, o.nat_port_min, o.nat_port_max, false);
	if (err) {
		xtest_fail("concurrent_takeover_setup", "prefill: %s",
			   strerror(-err));
		free(w);
		fx_unload(&lb);
		return;
	}
	for (int i = 0; i < nthreads; i++) {
		w[i].cpu = i;
		w[i].index = i;
		w[i].lb = &lb;
		w[i].ifindex = ifindex;
		w[i].n_svc = 1;
		w[i].dport_override = 9000;
		w[i].syns = per_thread;
	}
	if (run_workers(w, nthreads, why, sizeof(why))) {
		xtest_fail("concurrent_takeover_counted", "%s", why);
		goto out;
	}
	for (int i = 0; i < nthreads; i++) {
		tx += w[i].tx;
		drops += w[i].drops_nat;
		other += w[i].other;
	}
	err = fx_counters_read(&lb.m, &c);
	ok = !err && other == 0 && tx > 0 &&
	     tx + drops == (long)per_thread * nthreads &&
	     c.stats[XLB_STAT_NEW_FLOW] == (__u64)tx &&
	     c.stats[XLB_STAT_DROP_NAT_PORTS] == (__u64)drops &&
	     c.stats[XLB_STAT_PORT_TAKEOVER] == (__u64)tx;
	snprintf(why, sizeof(why),
		 "%ld TX + %ld drops of %ld SYNs; counters new_flow %llu "
		 "drop_nat_ports %llu port_takeover %llu (expected = TX)",
		 tx, drops, (long)per_thread * nthreads,
		 (unsigned long long)c.stats[XLB_STAT_NEW_FLOW],
		 (unsigned long long)c.stats[XLB_STAT_DROP_NAT_PORTS],
		 (unsigned long long)c.stats[XLB_STAT_PORT_TAKEOVER]);
	printf("  takeover: %s\n", why);
	report_line("concurrent_takeover_one_stale_port_per_new_flow", ok, why);
	if (scan_tables(&lb, o.nat_port_min, o.nat_port_max, &t)) {
		xtest_fail("concurrent_takeover_every_forwarded_syn_keeps_its_pair",
			   "%s", t.why);
		goto out;
	}
	pkt_addr(STALE_CLIENT, stale_addr);
	for (long i = 0; i < t.n_conns; i++) {
		if (!memcmp(t.conns[i].key.src.bytes, stale_addr, 16))
			stale++;
		else
			fresh++;
	}
	ok = fresh == tx && stale == CONTENTION_PORTS - tx &&
	     fx_map_count(lb.m.flows) == 0;
	snprintf(why, sizeof(why), "%ld new connections in the tables (%ld "
		 "TX), %ld stale pairs left (expected %ld)", fresh, tx, stale,
		 CONTENTION_PORTS - tx);
	report_line("concurrent_takeover_every_forwarded_syn_keeps_its_pair",
		    ok, why);
out:
	free(t.conns);
	free(w);
	fx_unload(&lb);
}

/*
 * Handshakes under load: every CPU completes SYN, SYN-ACK, ACK for
 * connections of its own.  Every pair is promoted exactly once (by the
 * ACK), and ends up whole in xlb_flows, nothing left half-open.
 */
#define HANDSHAKES_PER_THREAD 600

static void test_handshakes_under_load(int ifindex, int nthreads)
{
	static const __u16 w111[3] = { 1, 1, 1 };
	long total = (long)nthreads * HANDSHAKES_PER_THREAD;
	struct xlb_load_opts o = {
		.max_flows = 2 * total,
		.max_half_open = 4 * total,
		.nat_port_min = XLB_DEFAULT_NAT_PORT_MIN,
		.nat_port_max = XLB_DEFAULT_NAT_PORT_MAX,
	};
	struct worker *w = calloc(nthreads, sizeof(*w));
	struct table_scan t = { 0 };
	char why[WHY_LEN] = "";
	struct fx_counters c;
	long tx = 0, done = 0, failed = 0, other = 0, flows, embryos;
	struct fx_lb lb;
	int err;
	bool ok;

	if (setup_one_service(&lb, &o, 8000, w111, 3, w,
			      "concurrent_handshakes_setup"))
		return;
	for (int i = 0; i < nthreads; i++) {
		w[i].cpu = i;
		w[i].index = i;
		w[i].mode = W_HANDSHAKE;
		w[i].lb = &lb;
		w[i].ifindex = ifindex;
		w[i].n_svc = 1;
		w[i].dport_override = 8000;
		w[i].syns = HANDSHAKES_PER_THREAD;
	}
	if (run_workers(w, nthreads, why, sizeof(why))) {
		xtest_fail("concurrent_handshakes_all_promoted", "%s", why);
		goto out;
	}
	for (int i = 0; i < nthreads; i++) {
		tx += w[i].tx;
		done += w[i].hs_done;
		failed += w[i].hs_fail;
		other += w[i].drops_nat + w[i].other;
	}
	err = fx_counters_read(&lb.m, &c);
	flows = fx_map_count(lb.m.flows);
	embryos = fx_map_count(lb.m.embryos);
	ok = !err && tx == total && done == total && failed == 0 &&
	     other == 0 && c.stats[XLB_STAT_NEW_FLOW] == (__u64)total &&
	     c.stats[XLB_STAT_PROMOTED] == (__u64)total &&
	     c.stats[XLB_STAT_FWD_TO_CLIENT] == (__u64)total &&
	     c.stats[XLB_STAT_FWD_TO_BACKEND] == 2 * (__u64)total &&
	     c.stats[XLB_STAT_PORT_TAKEOVER] == 0 && flows == 2 * total &&
	     embryos == 0;
	snprintf(why, sizeof(why),
		 "%ld handshakes done, %ld failed of %ld; promoted %llu "
		 "new_flow %llu port_takeover %llu; xlb_flows %ld entries, "
		 "xlb_embryos %ld",
		 done, failed, total,
		 (unsigned long long)c.stats[XLB_STAT_PROMOTED],
		 (unsigned long long)c.stats[XLB_STAT_NEW_FLOW],
		 (unsigned long long)c.stats[XLB_STAT_PORT_TAKEOVER], flows,
		 embryos);
	printf("  handshakes: %s\n", why);
	report_line("concurrent_handshakes_all_promoted", ok, why);
	if (scan_tables(&lb, o.nat_port_min, o.nat_port_max, &t))
		xtest_fail("concurrent_handshakes_pairs_whole", "%s", t.why);
	else {
		snprintf(why, sizeof(why), "%ld connections in the tables, "
			 "%ld handshakes", t.n_conns, total);
		report_line("concurrent_handshakes_pairs_whole",
			    t.n_conns == total, why);
	}
out:
	free(t.conns);
	free(w);
	fx_unload(&lb);
}

/*
 * Promotion against takeover: every NAT port of a small range is held by
 * a half-open pair older than the 1 s grace whose backend has answered
 * (so both a new connection may take its port over and the client's ACK
 * may still promote it).  One CPU sends those clients' ACKs while the
 * others send new SYNs, in many short rounds so that the two meet on a
 * port.  Whatever the interleaving, each port ends up held by exactly one
 * whole pair: a promoted one in xlb_flows, or a new connection (its SYN
 * forwarded) or the untouched stale pair in xlb_embryos; never two
 * connections on one NAT tuple, never half a pair.  An ACK is forwarded
 * when it promotes its pair; rarely one is forwarded without promoting:
 * when the entries it read were taken over and recycled under it (a
 * preallocated map reuses a removed entry at once), it may see its pair
 * as not yet answered.  That costs the client nothing more than losing
 * the pair already did; it is counted, not failed.  Every other round,
 * the backend's retransmitted SYN-ACKs of those pairs race the
 * takeovers instead of the client's ACKs: a SYN-ACK that meets a new
 * connection's backend half before its client half is inserted must
 * leave it alone.
 */
#define RACE_PORTS 16
#define RACE_ROUNDS 300
struct race_ctx {
	struct fx_lb *lb;
	int ifindex;
	int nthreads;
	pthread_barrier_t *go, *done;
	int round;
	bool stop;
};

struct race_worker {
	pthread_t tid;
	struct race_ctx *ctx;
	int index; /* 0: the ACKs; others: SYNs */
	long tx, dropped, other; /* this round */
	int err;
};

static void *race_main(void *arg)
{
	struct race_worker *w = arg;
	struct race_ctx *x = w->ctx;
	__u8 in[128], out[PKT_MAX_FRAME];
	int n_syn = x->nthreads - 1;
	char src[32];

	pin_to_cpu(w->index);
	snprintf(src, sizeof(src), "203.0.113.%d", 1 + w->index);
	for (;;) {
		pthread_barrier_wait(x->go);
		if (x->stop)
			break;
		w->tx = w->dropped = w->other = 0;
		/* ACKs in port order; SYNs: half the ports' worth in all */
		for (int i = 0; !w->err &&
				i < (w->index ? RACE_PORTS / 2 / n_syn : RACE_PORTS);
		     i++) {
			struct pkt_spec s;
			__u32 verdict;

			pkt_spec_init(&s);
			pkt_mac(FX_IF_MAC, s.dmac);
			pkt_mac("02:00:00:00:00:fe", s.smac);
			s.proto = IPPROTO_TCP;
			s.dport = 9000;
			if (w->index == 0 && (x->round & 1)) {
				pkt_spec_addrs(&s, be_addrs[0], VIP);
				s.sport = 9000;
				s.dport = (__u16)(20000 + i);
				s.tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK;
				s.seq = RACE_SYNACK_SEQ;
			} else if (w->index == 0) {
				pkt_spec_addrs(&s, STALE_CLIENT, VIP);
				s.sport = (__u16)(20000 + i);
				s.tcp_flags = PKT_TCP_ACK;
				s.ack = RACE_SYNACK_SEQ + 1;
			} else {
				pkt_spec_addrs(&s, src, VIP);
				s.sport = (__u16)(10000 + x->round * RACE_PORTS +
						  i);
				s.tcp_flags = PKT_TCP_SYN;
			}
			w->err = run_spec(x->lb, x->ifindex, &s, in, sizeof(in),
					  out, sizeof(out), &verdict);
			if (w->err)
				break;
			if (verdict == XDP_TX)
				w->tx++;
			else if (verdict == XDP_DROP ||
				 /* a SYN-ACK that found no pair */
				 (verdict == XDP_PASS && w->index == 0 &&
				  (x->round & 1)))
				w->dropped++;
			else
				w->other++;
		}
		pthread_barrier_wait(x->done);
	}
	return NULL;
}

static void test_promote_against_takeover(int ifindex, int nthreads)
{
	static const __u16 one[1] = { 1 };
	struct xlb_load_opts o = {
		.max_flows = 4 * RACE_PORTS,
		.max_half_open = 64 * RACE_PORTS,
		.nat_port_min = 20000,
		.nat_port_max = 20000 + RACE_PORTS - 1,
	};
	struct race_worker *w = calloc(nthreads, sizeof(*w));
	pthread_barrier_t go, done;
	struct race_ctx x = { 0 };
	struct table_scan t = { 0 };
	struct fx_counters c;
	char why[WHY_LEN] = "";
	long promoted = 0, taken = 0, met = 0, stray = 0;
	__u64 promoted_before = 0;
	struct fx_lb lb;
	int err, round;
	bool ok = true;

	if (nthreads < 2) {
		xtest_skip("concurrent_promote_against_takeover",
			   "needs 2 CPUs");
		free(w);
		return;
	}
	if (setup_one_service(&lb, &o, 9000, one, 1, w,
			      "concurrent_promote_against_takeover_setup"))
		return;
	pthread_barrier_init(&go, NULL, nthreads + 1);
	pthread_barrier_init(&done, NULL, nthreads + 1);
	x.lb = &lb;
	x.ifindex = ifindex;
	x.nthreads = nthreads;
	x.go = &go;
	x.done = &done;
	for (int i = 0; i < nthreads; i++) {
		w[i].ctx = &x;
		w[i].index = i;
		if (pthread_create(&w[i].tid, NULL, race_main, &w[i])) {
			fprintf(stderr, "pthread_create failed\n");
			exit(1); /* the barriers would never open */
		}
	}
	for (round = 0; round < RACE_ROUNDS && ok; round++) {
		long acks = 0, syns = 0, flows;

		fx_map_clear(lb.m.flows);
		fx_map_clear(lb.m.embryos);
		err = prefill_stale(&lb, o.nat_port_min, o.nat_port_max, true);
		if (err) {
			snprintf(why, sizeof(why), "round %d: prefill: %s",
				 round, strerror(-err));
			ok = false;
			break;
		}
		x.round = round;
		pthread_barrier_wait(&go);
		pthread_barrier_wait(&done);
		for (int i = 0; i < nthreads; i++) {
			if (w[i].err || w[i].other) {
				snprintf(why, sizeof(why), "round %d: worker %d: "
					 "%s, %ld verdicts neither TX nor DROP",
					 round, i, strerror(-w[i].err),
					 w[i].other);
				ok = false;
			}
			if (i)
				syns += w[i].tx;
		}
		if (!ok)
			break;
		if (fx_counters_read(&lb.m, &c)) {
			snprintf(why, sizeof(why), "round %d: cannot read the "
				 "counters", round);
			ok = false;
			break;
		}
		acks = (long)(c.stats[XLB_STAT_PROMOTED] - promoted_before);
		promoted_before = c.stats[XLB_STAT_PROMOTED];
		promoted += acks;
		taken += syns;
		if (!(round & 1)) {
			stray += w[0].tx - acks;
			/* an ACK not forwarded: a SYN took its port first */
			met += RACE_PORTS - w[0].tx;
		}
		flows = fx_map_count(lb.m.flows);
		if (scan_tables(&lb, o.nat_port_min, o.nat_port_max, &t)) {
			snprintf(why, sizeof(why), "round %d (%ld ACKs and %ld "
				 "SYNs forwarded): %.400s", round, acks, syns,
				 t.why);
			ok = false;
		} else if (t.n_conns != RACE_PORTS || flows != 2 * acks) {
			snprintf(why, sizeof(why), "round %d: %ld connections "
				 "for %d ports; xlb_flows %ld entries for %ld "
				 "promotions", round, t.n_conns, RACE_PORTS,
				 flows, acks);
			ok = false;
		}
		free(t.conns);
		t.conns = NULL;
	}
	x.stop = true;
	pthread_barrier_wait(&go);
	for (int i = 0; i < nthreads; i++)
		pthread_join(w[i].tid, NULL);
	pthread_barrier_destroy(&go);
	pthread_barrier_destroy(&done);
	if (ok)
		snprintf(why, sizeof(why), "%d rounds of %d ports (ACKs and "
			 "SYN-ACKs in turn): %ld pairs promoted, %ld ports "
			 "taken over, %ld ACKs lost their port to a SYN, %ld "
			 "forwarded without promoting",
			 RACE_ROUNDS, RACE_PORTS, promoted, taken, met, stray);
	printf("  promote vs takeover: %s\n", why);
	report_line("concurrent_promote_against_takeover_pairs_whole", ok, why);
	free(w);
	fx_unload(&lb);
}

int main(void)
{
	char why[WHY_LEN] = "";
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nthreads = ncpu < 1 ? 1 : ncpu > MAX_THREADS ? MAX_THREADS : ncpu;
	int ifindex;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (fx_netns_enter(why, sizeof(why))) {
		xtest_skip("concurrency", "%s", why);
		return xtest_done();
	}
	if (fx_topology_setup(why, sizeof(why))) {
		xtest_fail("concurrent_fixture_topology", "%s", why);
		return xtest_done();
	}
	ifindex = fx_ifindex(FX_IF);
	test_schedule_under_load(ifindex, nthreads);
	test_port_contention(ifindex, nthreads);
	test_takeover_under_load(ifindex, nthreads);
	test_handshakes_under_load(ifindex, nthreads);
	test_promote_against_takeover(ifindex, nthreads);
	return xtest_done();
}
