// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Connection tracking in user space: state of a pair from its two
 * entries, per-state timeouts, and expiry on a real BPF hash map shaped
 * like xlb_flows (pairs removed together, half pairs cleaned up), and
 * the connections a sweep keeps counted per backend.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>

#include "conntrack.h"
#include "maps.h"
#include "sweeper.h"
#include "xtest.h"

#define S XLB_NS_PER_SEC

static const struct xlb_timeouts T = XLB_TIMEOUTS_DEFAULT;

/* A connection 203.0.113.20:port -> 198.51.100.10:8000 scheduled to
 * 198.51.100.11:8000 with NAT port nat. */
static void make_pair(struct xlb_conn *c, __u8 proto, __u16 port, __u16 nat)
{
	memset(c, 0, sizeof(*c));
	c->key.family = XLB_FAMILY_V4;
	c->key.proto = proto;
	inet_pton(AF_INET, "203.0.113.20", &c->key.src.ip4);
	inet_pton(AF_INET, "198.51.100.10", &c->key.dst.ip4);
	c->key.sport = htons(port);
	c->key.dport = htons(8000);
	c->fwd.dir = XLB_DIR_TO_BACKEND;
	c->fwd.rewritten.family = XLB_FAMILY_V4;
	c->fwd.rewritten.proto = proto;
	inet_pton(AF_INET, "198.51.100.10", &c->fwd.rewritten.src.ip4);
	inet_pton(AF_INET, "198.51.100.11", &c->fwd.rewritten.dst.ip4);
	c->fwd.rewritten.sport = htons(nat);
	c->fwd.rewritten.dport = htons(8000);
	c->rev.dir = XLB_DIR_TO_CLIENT;
	c->rev.rewritten.family = XLB_FAMILY_V4;
	c->rev.rewritten.proto = proto;
	c->rev.rewritten.src = c->key.dst;
	c->rev.rewritten.dst = c->key.src;
	c->rev.rewritten.sport = c->key.dport;
	c->rev.rewritten.dport = c->key.sport;
	c->has_rev = true;
}

/* The key of the backend->SNAT entry of a pair. */
static void rev_key(const struct xlb_conn *c, struct xlb_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = c->key.family;
	k->proto = c->key.proto;
	k->src = c->fwd.rewritten.dst;
	k->dst = c->fwd.rewritten.src;
	k->sport = c->fwd.rewritten.dport;
	k->dport = c->fwd.rewritten.sport;
}

/* (test flag, not a flow flag: the backend acknowledged the pending FIN) */
#define PENDING_ACKED 0x80

static void test_states(void)
{
	static const struct {
		const char *name;
		__u8 proto, fwd_flags, rev_flags;
		bool replied, has_rev;
		enum xlb_tcp_state want;
		__u64 want_timeout;
		bool half_open;
	} cases[] = {
		{ "state_syn_sent", IPPROTO_TCP, 0, 0, false, true,
		  XLB_TCP_SYN_SENT, 60 * S, false },
		{ "state_established", IPPROTO_TCP, 0, 0, true, true,
		  XLB_TCP_ESTABLISHED, 6 * 3600 * S, false },
		{ "state_fin_client", IPPROTO_TCP, XLB_FLOW_FIN_SEEN, 0, true,
		  true, XLB_TCP_CLOSING, 120 * S, false },
		{ "state_fin_backend", IPPROTO_TCP, 0, XLB_FLOW_FIN_SEEN, true,
		  true, XLB_TCP_CLOSING, 120 * S, false },
		{ "state_fin_both", IPPROTO_TCP, XLB_FLOW_FIN_SEEN,
		  XLB_FLOW_FIN_SEEN, true, true, XLB_TCP_CLOSED, 10 * S, false },
		{ "state_rst_client", IPPROTO_TCP, XLB_FLOW_RST_SEEN, 0, true,
		  true, XLB_TCP_CLOSED, 10 * S, false },
		{ "state_rst_backend_before_answer", IPPROTO_TCP, 0,
		  XLB_FLOW_RST_SEEN, false, true, XLB_TCP_CLOSED, 10 * S, false },
		{ "state_rst_after_fin", IPPROTO_TCP, XLB_FLOW_FIN_SEEN,
		  XLB_FLOW_RST_SEEN, true, true, XLB_TCP_CLOSED, 10 * S, false },
		/* half pairs: closed, whatever the protocol (the walk marks
		 * one without its client entry RST) */
		{ "state_half_pair", IPPROTO_TCP, 0, 0, false, false,
		  XLB_TCP_CLOSED, 10 * S, false },
		{ "state_half_pair_udp", IPPROTO_UDP, 0, 0, false, false,
		  XLB_TCP_CLOSED, 10 * S, false },
		{ "state_half_pair_udp_backend_only", IPPROTO_UDP,
		  XLB_FLOW_RST_SEEN, 0, true, true, XLB_TCP_CLOSED, 10 * S,
		  false },
		{ "state_udp", IPPROTO_UDP, 0, 0, true, true, XLB_UDP,
		  300 * S, false },
		{ "state_syn_recv_half_open", IPPROTO_TCP, 0, 0, true, true,
		  XLB_TCP_SYN_RECV, 60 * S, true },
		{ "state_udp_one_way", IPPROTO_UDP, 0, 0, false, true, XLB_UDP,
		  300 * S, false },
		/* a client FIN kept pending (out of window): counts once the
		 * backend's ACK number passed it (fin_seq 5000; acked: the
		 * backend's ACK number 5001, else 4000) */
		{ "state_fin_pending_not_acked", IPPROTO_TCP,
		  XLB_FLOW_FIN_PENDING, XLB_FLOW_FIN_SEEN, true, true,
		  XLB_TCP_CLOSING, 120 * S, false },
		{ "state_fin_pending_acked_closed", IPPROTO_TCP,
		  XLB_FLOW_FIN_PENDING | PENDING_ACKED, XLB_FLOW_FIN_SEEN, true,
		  true, XLB_TCP_CLOSED, 10 * S, false },
		{ "state_fin_pending_acked_one_way", IPPROTO_TCP,
		  XLB_FLOW_FIN_PENDING | PENDING_ACKED, 0, true, true,
		  XLB_TCP_CLOSING, 120 * S, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct xlb_conn c;
		enum xlb_tcp_state got;
		__u64 timeout;

		make_pair(&c, cases[i].proto, 40000, 2000);
		c.fwd.flags = cases[i].fwd_flags & ~PENDING_ACKED;
		c.rev.flags = cases[i].rev_flags;
		c.fwd.fin_seq = htonl(5000);
		c.rev.ack_seq = htonl(cases[i].fwd_flags & PENDING_ACKED ? 5001 :
									   4000);
		c.rev.last_seen_ns = cases[i].replied ? 5 * S : 0;
		c.has_rev = cases[i].has_rev;
		c.half_open = cases[i].half_open;
		got = xlb_conn_state(&c);
		timeout = xlb_conn_timeout_ns(&c, &T);
		if (got != cases[i].want || timeout != cases[i].want_timeout)
			xtest_fail(cases[i].name,
				   "state %s timeout %llus, want %s %llus",
				   xlb_conn_state_name(got), timeout / S,
				   xlb_conn_state_name(cases[i].want),
				   cases[i].want_timeout / S);
		else
			xtest_pass(cases[i].name);
	}
}

static void test_last_seen(void)
{
	struct xlb_conn c;

	make_pair(&c, IPPROTO_TCP, 40000, 2000);
	c.fwd.last_seen_ns = 10 * S;
	c.rev.last_seen_ns = 25 * S;
	if (xlb_conn_last_seen_ns(&c) != 25 * S) {
		xtest_fail("last_seen_is_latest_direction", "got %llu",
			   xlb_conn_last_seen_ns(&c));
		return;
	}
	c.has_rev = false;
	if (xlb_conn_last_seen_ns(&c) != 10 * S)
		xtest_fail("last_seen_is_latest_direction",
			   "half pair: got %llu", xlb_conn_last_seen_ns(&c));
	else
		xtest_pass("last_seen_is_latest_direction");
}

/* A BPF hash map shaped like xlb_flows, or -1 (the test skipped). */
static int flow_map(const char *test, const char *map, __u32 entries)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, map,
				sizeof(struct xlb_flow_key),
				sizeof(struct xlb_flow), entries, NULL);

	if (fd < 0)
		xtest_skip(test, "cannot create a BPF map: %s (not root?)",
			   strerror(errno));
	return fd;
}

/* Both tables of a sweep (entries each) in m: 0, or -1 with a SKIP line
 * and nothing open. */
static int tables_of(const char *test, struct xlb_maps *m, __u32 entries)
{
	m->flows = flow_map(test, "xlb_test_flows", entries);
	m->embryos = m->flows < 0 ? -1 :
				    flow_map(test, "xlb_test_embr", entries);
	if (m->embryos >= 0)
		return 0;
	if (m->flows >= 0)
		close(m->flows);
	m->flows = -1;
	return -1;
}

/* Both tables, 16 entries each. */
static int tables(const char *test, struct xlb_maps *m)
{
	return tables_of(test, m, 16);
}

static void tables_close(struct xlb_maps *m)
{
	if (m->flows >= 0)
		close(m->flows);
	if (m->embryos >= 0)
		close(m->embryos);
}

static int insert_pair(int fd, const struct xlb_conn *c, bool with_fwd,
		       bool with_rev)
{
	struct xlb_flow_key rk;

	rev_key(c, &rk);
	if (with_fwd && bpf_map_update_elem(fd, &c->key, &c->fwd, BPF_NOEXIST))
		return -errno;
	if (with_rev && bpf_map_update_elem(fd, &rk, &c->rev, BPF_NOEXIST))
		return -errno;
	return 0;
}

static bool present(int fd, const struct xlb_flow_key *k)
{
	struct xlb_flow v;

	return bpf_map_lookup_elem(fd, k, &v) == 0;
}

static int count_entries(int fd)
{
	struct xlb_flow_key k, next;
	void *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		n++;
		k = next;
		prev = &k;
	}
	return n;
}

/* Expiry on a real map: each pair ages under its own state's timeout;
 * pairs go as pairs; a half pair (client entry lost) is removed too. */
static void test_expire(void)
{
	const char *name = "expire_by_state_on_bpf_map";
	struct {
		const char *what;
		__u8 proto, fwd_flags, rev_flags;
		__u64 last_fwd_s, last_rev_s;
		bool keep;
	} pairs[] = {
		/* now = 1000 s */
		{ "established, idle 900 s", IPPROTO_TCP, 0, 0, 100, 100, true },
		{ "syn_sent, idle 61 s", IPPROTO_TCP, 0, 0, 939, 0, false },
		{ "syn_sent, idle 30 s", IPPROTO_TCP, 0, 0, 970, 0, true },
		{ "closed, idle 11 s", IPPROTO_TCP, XLB_FLOW_RST_SEEN, 0, 989,
		  985, false },
		{ "closed, idle 5 s", IPPROTO_TCP, XLB_FLOW_FIN_SEEN,
		  XLB_FLOW_FIN_SEEN, 990, 995, true },
		{ "closing, idle 121 s", IPPROTO_TCP, XLB_FLOW_FIN_SEEN, 0,
		  870, 879, false },
		{ "udp, idle 301 s", IPPROTO_UDP, 0, 0, 699, 600, false },
		{ "udp, idle 200 s", IPPROTO_UDP, 0, 0, 800, 790, true },
	};
	const size_t n = sizeof(pairs) / sizeof(pairs[0]);
	struct xlb_conn conns[16], half;
	struct xlb_flow_key rk;
	__u64 removed = 0;
	int fd, err, kept = 0;

	fd = flow_map(name, "xlb_test_flows", 64);
	if (fd < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		make_pair(&conns[i], pairs[i].proto, 40000 + i, 2000 + i);
		conns[i].fwd.flags = pairs[i].fwd_flags;
		conns[i].rev.flags = pairs[i].rev_flags;
		conns[i].fwd.created_ns = 1;
		conns[i].fwd.last_seen_ns = pairs[i].last_fwd_s * S;
		conns[i].rev.last_seen_ns = pairs[i].last_rev_s * S;
		err = insert_pair(fd, &conns[i], true, true);
		if (err) {
			xtest_fail(name, "insert: %s", strerror(-err));
			goto out;
		}
	}
	/* a backend->client entry whose client entry is gone, old */
	make_pair(&half, IPPROTO_TCP, 50000, 3000);
	half.rev.created_ns = 100 * S;
	insert_pair(fd, &half, false, true);

	err = xlb_conn_expire(fd, false, &T, 1000 * S, &removed);
	if (err) {
		xtest_fail(name, "xlb_conn_expire: %s", strerror(-err));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		bool f = present(fd, &conns[i].key);

		rev_key(&conns[i], &rk);
		if (f != present(fd, &rk)) {
			xtest_fail(name, "%s: one half removed, not the pair",
				   pairs[i].what);
			goto out;
		}
		if (f != pairs[i].keep) {
			xtest_fail(name, "%s: %s, want %s", pairs[i].what,
				   f ? "kept" : "removed",
				   pairs[i].keep ? "kept" : "removed");
			goto out;
		}
		kept += f;
	}
	rev_key(&half, &rk);
	if (present(fd, &rk)) {
		xtest_fail(name, "an old half pair survived expiry");
		goto out;
	}
	if (count_entries(fd) != 2 * kept) {
		xtest_fail(name, "%d entries left, want %d", count_entries(fd),
			   2 * kept);
		goto out;
	}
	/* the half pair counts too, as the walk reports it */
	if (removed != n - kept + 1) {
		xtest_fail(name, "removed %llu connections, want %zu", removed,
			   n - kept + 1);
		goto out;
	}
	xtest_pass(name);
out:
	close(fd);
}

/* The walk pairs entries from its snapshot of the table: 12,000 full
 * pairs (more than a batch, an index with collisions), 50 client entries
 * without partner and 50 backend entries without partner; every
 * connection reported exactly once, with its own partner's values. */
#define WALK_PAIRS 12000
#define WALK_HALVES 50

struct walk_seen {
	__u8 *hits; /* per client port - 1024 */
	int full, fwd_only, rev_only, wrong;
};

static int walk_one(const struct xlb_conn *c, void *arg)
{
	struct walk_seen *w = arg;
	__u16 port = ntohs(c->key.sport);

	if (port < 1024 || port >= 1024 + WALK_PAIRS + 2 * WALK_HALVES) {
		w->wrong++;
		return 0;
	}
	w->hits[port - 1024]++;
	if (!c->has_rev)
		w->fwd_only++;
	else if (c->fwd.flags == XLB_FLOW_RST_SEEN && !c->fwd.last_seen_ns)
		w->rev_only++;
	else if (c->rev.last_seen_ns != (__u64)port * 7 ||
		 c->fwd.last_seen_ns != (__u64)port * 5)
		w->wrong++; /* someone else's partner */
	else
		w->full++;
	return 0;
}

static void test_walk_pairs(void)
{
	const char *name = "walk_pairs_from_snapshot";
	const int total = WALK_PAIRS + 2 * WALK_HALVES;
	struct walk_seen w = { 0 };
	int fd, err = 0, dup = 0;

	fd = flow_map(name, "xlb_test_walk", 2 * total);
	if (fd < 0)
		return;
	w.hits = calloc(total, 1);
	for (int i = 0; i < total && !err && w.hits; i++) {
		struct xlb_conn c;
		__u16 port = (__u16)(1024 + i);
		bool fwd = i < WALK_PAIRS + WALK_HALVES, rev = true;

		if (i >= WALK_PAIRS && i < WALK_PAIRS + WALK_HALVES)
			rev = false;
		make_pair(&c, IPPROTO_TCP, port, (__u16)(20000 + i));
		c.fwd.last_seen_ns = (__u64)port * 5;
		c.rev.last_seen_ns = (__u64)port * 7;
		err = insert_pair(fd, &c, fwd, rev);
	}
	if (!w.hits || err) {
		xtest_fail(name, "setup: %s", w.hits ? strerror(-err) : "no memory");
		goto out;
	}
	err = xlb_conn_walk(fd, false, walk_one, &w);
	for (int i = 0; i < total; i++)
		dup += w.hits[i] != 1;
	if (err || dup || w.wrong || w.full != WALK_PAIRS ||
	    w.fwd_only != WALK_HALVES || w.rev_only != WALK_HALVES)
		xtest_fail(name, "walk %s: %d connections not reported exactly "
			   "once, %d with a wrong partner; %d full (want %d), "
			   "%d client-only, %d backend-only (want %d each)",
			   err ? strerror(-err) : "ok", dup, w.wrong, w.full,
			   WALK_PAIRS, w.fwd_only, w.rev_only, WALK_HALVES);
	else
		xtest_pass(name);
out:
	free(w.hits);
	close(fd);
}

/* Entries whose partner does not point back are halves, reported on
 * their own: a client entry whose NAT tuple now holds another
 * connection's reverse entry, and a reverse entry whose client entry now
 * names another NAT tuple.  A pair's state must not come from another
 * connection's entry (an expiry would then remove that entry). */
struct crossed_seen {
	int n, pair, fwd_only, rev_only, wrong;
};

static int crossed_one(const struct xlb_conn *c, void *arg)
{
	struct crossed_seen *w = arg;
	__u16 port = ntohs(c->key.sport);

	w->n++;
	if (c->fwd.flags == XLB_FLOW_RST_SEEN && !c->fwd.last_seen_ns)
		w->rev_only += port == 41999 || port == 43000;
	else if (!c->has_rev)
		w->fwd_only += port == 41000;
	else if (port == 43000 && ntohs(c->rev.rewritten.dport) == 43000)
		w->pair++;
	else
		w->wrong++;
	return 0;
}

static void test_walk_crossed_pair(void)
{
	const char *name = "walk_entries_not_pointing_back_are_halves";
	struct crossed_seen w = { 0 };
	struct xlb_conn c, q, stale;
	struct xlb_flow_key rk;
	int fd, err;

	fd = flow_map(name, "xlb_test_cross", 16);
	if (fd < 0)
		return;
	/* client entry 41000 -> NAT 2100, whose reverse entry names 41999 */
	make_pair(&c, IPPROTO_TCP, 41000, 2100);
	c.fwd.last_seen_ns = 5 * S;
	c.rev.rewritten.dport = htons(41999);
	err = insert_pair(fd, &c, true, true);
	/* connection 43000 <-> NAT 2300, and a stale reverse entry (NAT
	 * 2301) that names 43000 too */
	make_pair(&q, IPPROTO_TCP, 43000, 2300);
	q.fwd.last_seen_ns = 7 * S;
	make_pair(&stale, IPPROTO_TCP, 43000, 2301);
	rev_key(&stale, &rk);
	if (!err)
		err = insert_pair(fd, &q, true, true);
	if (!err && bpf_map_update_elem(fd, &rk, &stale.rev, BPF_NOEXIST))
		err = -errno;
	if (!err)
		err = xlb_conn_walk(fd, false, crossed_one, &w);
	if (err || w.n != 4 || w.pair != 1 || w.fwd_only != 1 ||
	    w.rev_only != 2 || w.wrong)
		xtest_fail(name, "%s: %d reports (want 4): %d pair, %d client "
			   "half, %d backend halves (want 1, 1, 2), %d wrong",
			   err ? strerror(-err) : "walk ok", w.n, w.pair,
			   w.fwd_only, w.rev_only, w.wrong);
	else
		xtest_pass(name);
	close(fd);
}

/* A walk asked to stop ends with -ECANCELED and removes nothing. */
static void test_expire_cancelled(void)
{
	const char *name = "expire_cancelled_removes_nothing";
	struct xlb_maps m = { .flows = -1, .embryos = -1 };
	struct xlb_sweep_args a = { .t = &T, .now_ns = 1000 * S };
	struct xlb_expire_counts n;
	struct xlb_conn c;
	bool cancel = true;
	int err;

	if (tables(name, &m))
		return;
	/* an expired pair in each table */
	make_pair(&c, IPPROTO_TCP, 44000, 2400);
	c.fwd.flags = XLB_FLOW_RST_SEEN;
	c.fwd.last_seen_ns = c.rev.last_seen_ns = S;
	err = insert_pair(m.flows, &c, true, true);
	if (!err)
		err = insert_pair(m.embryos, &c, true, true);
	a.cancel = &cancel;
	if (!err)
		err = xlb_conn_expire_all(&m, &a, &n);
	if (err != -ECANCELED || count_entries(m.flows) != 2 ||
	    count_entries(m.embryos) != 2)
		xtest_fail(name, "got %s with %d + %d entries left (want "
			   "ECANCELED, 2 + 2)", strerror(-err),
			   count_entries(m.flows), count_entries(m.embryos));
	else if ((a.cancel = NULL, xlb_conn_expire_all(&m, &a, &n)) ||
		 count_entries(m.flows) || count_entries(m.embryos) ||
		 n.removed != 2 || n.flow_entries)
		xtest_fail(name, "without cancel: %d + %d entries left, %llu "
			   "removed, %llu counted (want 0, 2, 0)",
			   count_entries(m.flows), count_entries(m.embryos),
			   (unsigned long long)n.removed,
			   (unsigned long long)n.flow_entries);
	else
		xtest_pass(name);
	tables_close(&m);
}

/* Do the counts differ from: backend a with a_act / a_inact, backend b
 * with b_act / b_inact, every other backend none? */
static bool conns_differ(const struct xlb_backend_conns *c, __u32 a,
			 __u32 a_act, __u32 a_inact, __u32 b, __u32 b_act,
			 __u32 b_inact)
{
	for (__u32 id = 0; id < XLB_MAX_BACKENDS; id++) {
		__u32 act = id == a ? a_act : id == b ? b_act : 0;
		__u32 inact = id == a ? a_inact : id == b ? b_inact : 0;

		if (c[id].active != act || c[id].inactive != inact)
			return true;
	}
	return false;
}

/* A connection of the counting test, as it is in the tables. */
struct counted_conn {
	const char *what;
	__u8 proto, fwd_flags;
	bool half_open; /* in xlb_embryos */
	bool replied;   /* the backend has answered */
	bool fwd_entry; /* false: its backend entry alone (a half pair) */
	__u64 idle_s;
	__u32 backend, service;
};

/* A sweep counts per backend the connections it keeps, established
 * ones active and any other state inactive; not those it expires or
 * flushes.  The counts are set, not added to. */
static void test_expire_counts_conns(void)
{
	const char *name = "expire_counts_kept_conns_per_backend";
	static const struct counted_conn cc[] = {
		/* backend 5: 1 active, 3 inactive */
		{ "established", IPPROTO_TCP, 0, false, true, true, 10, 5, 1 },
		{ "syn_recv", IPPROTO_TCP, 0, true, true, true, 5, 5, 1 },
		{ "closing", IPPROTO_TCP, XLB_FLOW_FIN_SEEN, false, true, true,
		  50, 5, 1 },
		{ "udp", IPPROTO_UDP, 0, false, true, true, 100, 5, 1 },
		/* backend 9: 2 active, 3 inactive */
		{ "established", IPPROTO_TCP, 0, false, true, true, 1, 9, 1 },
		{ "established", IPPROTO_TCP, 0, false, true, true, 3000, 9,
		  1 },
		{ "syn_sent", IPPROTO_TCP, 0, true, false, true, 5, 9, 1 },
		{ "closed (RST)", IPPROTO_TCP, XLB_FLOW_RST_SEEN, false, true,
		  true, 5, 9, 1 },
		{ "half pair", IPPROTO_TCP, 0, false, true, false, 2, 9, 1 },
		/* expired: not counted */
		{ "established, idle 7 h", IPPROTO_TCP, 0, false, true, true,
		  7 * 3600, 9, 1 },
		{ "closed, idle 30 s", IPPROTO_TCP, XLB_FLOW_RST_SEEN, false,
		  true, true, 30, 9, 1 },
		{ "udp, idle 400 s", IPPROTO_UDP, 0, true, false, true, 400, 5,
		  1 },
		/* service 2 removed: flushed, not counted */
		{ "established, flushed", IPPROTO_TCP, 0, false, true, true, 1,
		  9, 2 },
		{ "syn_recv, flushed", IPPROTO_TCP, 0, true, true, true, 1, 5,
		  2 },
	};
	const size_t n_cc = sizeof(cc) / sizeof(cc[0]);
	const __u64 now = 100000 * S;
	__u8 flush[XLB_MAX_SERVICES / 8] = { [0] = 1u << 2 };
	struct xlb_maps m = { .flows = -1, .embryos = -1 };
	struct xlb_sweep_args a = { .t = &T, .now_ns = now, .flush = flush };
	struct xlb_expire_counts n;
	char why[200] = "";
	int err = 0;

	if (tables_of(name, &m, 64))
		return;
	a.conns = malloc(XLB_MAX_BACKENDS * sizeof(*a.conns));
	if (!a.conns)
		err = -ENOMEM;
	for (size_t i = 0; i < n_cc && !err; i++) {
		const struct counted_conn *k = &cc[i];
		__u64 last = now - k->idle_s * S;
		struct xlb_conn c;

		make_pair(&c, k->proto, 45000 + i, 2500 + i);
		c.fwd.flags = k->fwd_flags;
		c.fwd.created_ns = c.rev.created_ns = last - S;
		c.fwd.last_seen_ns = last;
		c.rev.last_seen_ns = k->replied ? last : 0;
		c.fwd.backend_id = c.rev.backend_id = k->backend;
		c.fwd.service_id = c.rev.service_id = k->service;
		err = insert_pair(k->half_open ? m.embryos : m.flows, &c,
				  k->fwd_entry, true);
	}
	/* what a previous sweep left: overwritten */
	if (a.conns)
		memset(a.conns, 0xff, XLB_MAX_BACKENDS * sizeof(*a.conns));
	if (err) {
		xtest_fail(name, "setup: %s", strerror(-err));
		goto out;
	}
	/* twice: the second sweep expires nothing more, counts the same */
	for (int pass = 1; pass <= 2 && !why[0]; pass++) {
		err = xlb_conn_expire_all(&m, &a, &n);
		if (err)
			snprintf(why, sizeof(why), "sweep %d: %s", pass,
				 strerror(-err));
		else if (conns_differ(a.conns, 5, 1, 3, 9, 2, 3))
			snprintf(why, sizeof(why), "sweep %d: backend 5 %u "
				 "active %u inactive (want 1, 3), backend 9 %u "
				 "%u (want 2, 3), or others counted", pass,
				 a.conns[5].active, a.conns[5].inactive,
				 a.conns[9].active, a.conns[9].inactive);
		else if (pass == 1 && (n.removed != 3 || n.flushed != 2))
			snprintf(why, sizeof(why), "expired %llu, flushed %llu "
				 "(want 3, 2)", (unsigned long long)n.removed,
				 (unsigned long long)n.flushed);
	}
	if (why[0])
		xtest_fail(name, "%s", why);
	else
		xtest_pass(name);
out:
	free(a.conns);
	tables_close(&m);
}

/* The daemon's sweeper thread: its first sweep (2 s after the start)
 * removes the idle pair and keeps the active one; new timeouts hold
 * from the next sweep; it stops at once while waiting. */
static bool wait_sweeps(struct xlb_sweeper *sw, __u64 n,
			struct xlb_sweep_stats *st)
{
	for (int i = 0; i < 120; i++) { /* 6 s */
		xlb_sweeper_stats(sw, st);
		if (st->sweeps >= n)
			return true;
		usleep(50000);
	}
	return false;
}

/* A sweeper on m, and one whose sweeps fail (no such maps). */
static int two_sweepers(const struct xlb_maps *m, const struct xlb_timeouts *t,
			struct xlb_sweeper **good, struct xlb_sweeper **bad)
{
	static const struct xlb_maps none = { .flows = -1, .embryos = -1 };
	int err = xlb_sweeper_start(good, m, t);

	return err ? err : xlb_sweeper_start(bad, &none, t);
}

static void test_sweeper(void)
{
	const char *name = "sweeper_expires_in_its_thread";
	struct xlb_maps m = { .flows = -1, .embryos = -1 };
	int embryos = -1; /* m.embryos while the sweeps are made to fail */
	struct xlb_timeouts t = T;
	struct xlb_sweeper *sw = NULL, *bad = NULL;
	struct xlb_backend_conns *conns = NULL;
	struct xlb_sweep_stats st = { 0 };
	struct xlb_conn idle, busy;
	char why[200] = "";
	__u64 now = xlb_now_ns(), t0;
	int err;

	if (tables(name, &m))
		return;
	/* closed 30 s ago (closed: 10 s), and established, seen 1 s ago */
	make_pair(&idle, IPPROTO_TCP, 42000, 2200);
	idle.fwd.flags = XLB_FLOW_RST_SEEN;
	idle.fwd.created_ns = idle.rev.created_ns = now - 40 * S;
	idle.fwd.last_seen_ns = idle.rev.last_seen_ns = now - 30 * S;
	make_pair(&busy, IPPROTO_TCP, 42001, 2201);
	busy.fwd.created_ns = busy.rev.created_ns = now - 40 * S;
	busy.fwd.last_seen_ns = busy.rev.last_seen_ns = now - S;
	idle.fwd.backend_id = idle.rev.backend_id = 7;
	busy.fwd.backend_id = busy.rev.backend_id = 7;
	err = insert_pair(m.flows, &idle, true, true);
	if (!err)
		err = insert_pair(m.flows, &busy, true, true);
	if (!err)
		err = two_sweepers(&m, &t, &sw, &bad);
	if (!err && !(conns = calloc(XLB_MAX_BACKENDS, sizeof(*conns))))
		err = -ENOMEM;
	if (err) {
		xtest_fail(name, "setup: %s", strerror(-err));
		goto out;
	}
	/* its first sweep is 2 s away: no counts yet */
	if (xlb_sweeper_conns(sw, conns))
		snprintf(why, sizeof(why), "connection counts before a sweep");
	else if (!wait_sweeps(sw, 1, &st))
		snprintf(why, sizeof(why), "no sweep within 6 s");
	else if (present(m.flows, &idle.key) || !present(m.flows, &busy.key) ||
		 count_entries(m.flows) != 2)
		snprintf(why, sizeof(why), "first sweep: want the idle pair "
			 "gone and the busy one kept, %d entries left",
			 count_entries(m.flows));
	else if (st.removed != 1 || st.conns != 2 || st.last_err ||
		 st.errors || !st.counted || st.flow_entries != 2 ||
		 st.half_open_entries ||
		 st.interval_ns != XLB_SWEEP_INTERVAL_NS)
		snprintf(why, sizeof(why), "first sweep: removed %llu (want "
			 "1), walked %llu (want 2), left %llu + %llu entries "
			 "(want 2 + 0), err %d, interval %llu ns",
			 (unsigned long long)st.removed,
			 (unsigned long long)st.conns,
			 (unsigned long long)st.flow_entries,
			 (unsigned long long)st.half_open_entries, st.last_err,
			 (unsigned long long)st.interval_ns);
	else if (!xlb_sweeper_conns(sw, conns) ||
		 conns_differ(conns, 7, 1, 0, 0, 0, 0))
		snprintf(why, sizeof(why), "first sweep: backend 7's "
			 "connections not 1 active, 0 inactive (and none "
			 "elsewhere): %u, %u",
			 conns[7].active, conns[7].inactive);
	if (!why[0]) {
		struct xlb_sweep_stats b;

		if (!wait_sweeps(bad, 1, &b))
			snprintf(why, sizeof(why), "no failed sweep within 6 s");
		else if (b.errors != 1 || b.last_err >= 0 || b.counted ||
			 b.flow_entries)
			snprintf(why, sizeof(why), "a failed sweep: %llu errors, "
				 "last %d, counted %d (want 1, < 0, 0)",
				 (unsigned long long)b.errors, b.last_err,
				 b.counted);
		else if (xlb_sweeper_conns(bad, conns))
			snprintf(why, sizeof(why), "a failed sweep published "
				 "connection counts");
	}
	xlb_sweeper_stop(bad);
	bad = NULL;
	t.established_ns = S / 2;
	xlb_sweeper_set_timeouts(sw, &t);
	if (!why[0] && !wait_sweeps(sw, 2, &st))
		snprintf(why, sizeof(why), "no second sweep within 6 s");
	else if (!why[0] && (count_entries(m.flows) || st.removed != 2))
		snprintf(why, sizeof(why), "second sweep, established "
			 "timeout 0.5 s: %d entries left, removed %llu "
			 "(want 0, 2)", count_entries(m.flows),
			 (unsigned long long)st.removed);
	else if (!why[0] && (!xlb_sweeper_conns(sw, conns) ||
			     conns_differ(conns, 7, 0, 0, 0, 0, 0)))
		snprintf(why, sizeof(why), "second sweep: the expired "
			 "connection still counted (%u active)",
			 conns[7].active);
	/* counts are no longer shown once a sweep fails (the sweeper reads
	 * m at each sweep: the next ones fail), not the last good ones */
	embryos = m.embryos;
	__atomic_store_n(&m.embryos, -1, __ATOMIC_RELAXED);
	for (__u64 n = st.sweeps + 1; !why[0] && !st.errors; n++)
		if (n > st.sweeps + 3 || !wait_sweeps(sw, n, &st))
			snprintf(why, sizeof(why), "no failed sweep");
	if (!why[0] && xlb_sweeper_conns(sw, conns))
		snprintf(why, sizeof(why), "counts still shown after a "
			 "failed sweep");
	t0 = xlb_now_ns();
	xlb_sweeper_stop(sw);
	sw = NULL;
	if (!why[0] && xlb_now_ns() - t0 > S / 2)
		snprintf(why, sizeof(why), "stop took %llu ms while waiting",
			 (unsigned long long)((xlb_now_ns() - t0) / 1000000));
	if (why[0])
		xtest_fail(name, "%s", why);
	else
		xtest_pass(name);
out:
	xlb_sweeper_stop(sw);
	xlb_sweeper_stop(bad);
	if (embryos >= 0)
		m.embryos = embryos;
	tables_close(&m);
	free(conns);
}

/* A connection of service svc, active a second ago. */
static void make_active(struct xlb_conn *c, __u16 port, __u16 nat, __u32 svc)
{
	__u64 now = xlb_now_ns();

	make_pair(c, IPPROTO_TCP, port, nat);
	c->fwd.service_id = c->rev.service_id = svc;
	c->fwd.created_ns = c->rev.created_ns = now - 10 * S;
	c->fwd.last_seen_ns = c->rev.last_seen_ns = now - S;
}

/* A sweep told to flush service 3 removes its connections whatever their
 * state, in both tables, halves too, and nothing of service 4 (a flush
 * alone, without timeouts, expires nothing). */
static void test_expire_flush(void)
{
	const char *name = "expire_flushes_removed_services";
	struct xlb_maps m = { .flows = -1, .embryos = -1 };
	__u8 flush[XLB_MAX_SERVICES / 8] = { [0] = 1u << 3 };
	struct xlb_sweep_args a = { .t = &T, .now_ns = xlb_now_ns(),
				    .flush = flush };
	struct xlb_expire_counts n;
	struct xlb_conn est, half, emb, kept, idle;
	int err;

	if (tables(name, &m))
		return;
	make_active(&est, 43000, 2300, 3);
	make_active(&half, 43001, 2301, 3);
	make_active(&emb, 43002, 2302, 3);
	make_active(&kept, 43003, 2303, 4);
	err = insert_pair(m.flows, &est, true, true);
	if (!err)
		err = insert_pair(m.flows, &half, false, true);
	if (!err)
		err = insert_pair(m.embryos, &emb, true, true);
	if (!err)
		err = insert_pair(m.flows, &kept, true, true);
	/* service 4's, closed long ago: a flush alone (no timeouts) keeps
	 * it */
	make_active(&idle, 43004, 2304, 4);
	idle.fwd.flags = XLB_FLOW_RST_SEEN;
	idle.fwd.last_seen_ns = idle.rev.last_seen_ns = S;
	if (!err)
		err = insert_pair(m.flows, &idle, true, true);
	a.t = NULL;
	if (!err)
		err = xlb_conn_expire_all(&m, &a, &n);
	if (err)
		xtest_fail(name, "%s", strerror(-err));
	else if (n.flushed != 3 || n.removed || n.conns != 5 ||
		 count_entries(m.flows) != 4 || count_entries(m.embryos) ||
		 !present(m.flows, &kept.key) || n.flow_entries != 4 ||
		 n.half_open_entries || n.incomplete)
		xtest_fail(name, "flushed %llu (want 3), expired %llu (want "
			   "0), walked %llu (want 5), left %d + %d entries "
			   "(want 4 + 0: service 4's pairs), counted %llu + %llu",
			   (unsigned long long)n.flushed,
			   (unsigned long long)n.removed,
			   (unsigned long long)n.conns, count_entries(m.flows),
			   count_entries(m.embryos),
			   (unsigned long long)n.flow_entries,
			   (unsigned long long)n.half_open_entries);
	else
		xtest_pass(name);
	tables_close(&m);
}

static int count_removed(const struct xlb_conn *c, void *arg)
{
	void **a = arg;
	int rc = xlb_conn_remove(a[0], c);

	if (rc < 0)
		return rc;
	*(int *)a[1] += rc;
	return 0;
}

/* xlb conns flush: every connection walked is removed and counted, half
 * pairs too (a backend-only half's delete says -ENOENT for its missing
 * client entry), whichever table holds it. */
static void test_remove_counts_halves(void)
{
	const char *name = "remove_counts_half_pairs";
	struct xlb_maps m = { .flows = -1, .embryos = -1 };
	struct xlb_conn pair, be_half, cli_half, emb;
	int removed = 0, err;
	void *arg[2] = { &m, &removed };

	if (tables(name, &m))
		return;
	make_active(&pair, 44000, 2400, 1);
	make_active(&be_half, 44001, 2401, 1);
	make_active(&cli_half, 44002, 2402, 1);
	make_active(&emb, 44003, 2403, 1);
	err = insert_pair(m.flows, &pair, true, true);
	if (!err)
		err = insert_pair(m.flows, &be_half, false, true);
	if (!err)
		err = insert_pair(m.flows, &cli_half, true, false);
	if (!err)
		err = insert_pair(m.embryos, &emb, true, true);
	if (!err)
		err = xlb_conn_walk_all(&m, count_removed, arg);
	if (err)
		xtest_fail(name, "%s", strerror(-err));
	else if (removed != 4 || count_entries(m.flows) ||
		 count_entries(m.embryos))
		xtest_fail(name, "counted %d (want 4), left %d + %d entries",
			   removed, count_entries(m.flows),
			   count_entries(m.embryos));
	else
		xtest_pass(name);
	tables_close(&m);
}

/* The sweeper flushes at once when asked (its regular sweep is 2 s
 * away), says so, and keeps a flush whose sweep failed for the next. */
static void test_sweeper_flush(void)
{
	const char *name = "sweeper_flushes_when_asked";
	struct xlb_maps m = { .flows = -1, .embryos = -1 };
	__u8 flush[XLB_MAX_SERVICES / 8] = { [0] = 1u << 3 };
	struct xlb_sweeper *sw = NULL, *bad = NULL;
	struct xlb_sweep_stats st = { 0 };
	struct xlb_conn gone, kept;
	char why[200] = "";
	__u64 t0;
	int err;

	if (tables(name, &m))
		return;
	make_active(&gone, 44000, 2400, 3);
	make_active(&kept, 44001, 2401, 4);
	err = insert_pair(m.flows, &gone, true, true);
	if (!err)
		err = insert_pair(m.flows, &kept, true, true);
	if (!err)
		err = two_sweepers(&m, &T, &sw, &bad);
	if (err) {
		xtest_fail(name, "setup: %s", strerror(-err));
		goto out;
	}
	t0 = xlb_now_ns();
	if (!xlb_sweeper_flushed(sw))
		snprintf(why, sizeof(why), "flushed() false before any ask");
	xlb_sweeper_flush(sw, flush);
	xlb_sweeper_flush(bad, flush);
	if (!why[0] && !wait_sweeps(sw, 1, &st))
		snprintf(why, sizeof(why), "no sweep within 6 s");
	else if (!why[0] && xlb_now_ns() - t0 > S)
		snprintf(why, sizeof(why), "the flush waited %llu ms for a "
			 "regular sweep",
			 (unsigned long long)((xlb_now_ns() - t0) / 1000000));
	else if (!why[0] && (present(m.flows, &gone.key) ||
			     !present(m.flows, &kept.key) ||
			     count_entries(m.flows) != 2 || st.flushed != 1 ||
			     st.removed || !xlb_sweeper_flushed(sw)))
		snprintf(why, sizeof(why), "after the flush: %d entries (want "
			 "2), flushed %llu (want 1), expired %llu, done %d",
			 count_entries(m.flows), (unsigned long long)st.flushed,
			 (unsigned long long)st.removed,
			 xlb_sweeper_flushed(sw));
	if (!why[0] && !wait_sweeps(bad, 1, &st))
		snprintf(why, sizeof(why), "no failed sweep within 6 s");
	else if (!why[0] && (xlb_sweeper_flushed(bad) || !st.errors))
		snprintf(why, sizeof(why), "a failed flush counts as done");
	if (why[0])
		xtest_fail(name, "%s", why);
	else
		xtest_pass(name);
out:
	xlb_sweeper_stop(sw);
	xlb_sweeper_stop(bad);
	tables_close(&m);
}

/* Deletes of a walk's snapshot touch only the entries it saw: a reverse
 * entry replaced since (its NAT port reused by a new connection) stays;
 * with idle, a pair that saw a packet since stays whole; without (a
 * flush), it goes. */
static int grab_first(const struct xlb_conn *c, void *arg)
{
	*(struct xlb_conn *)arg = *c;
	return 1; /* one is enough */
}

static void test_delete_checks_snapshot(void)
{
	const char *name = "delete_only_what_the_snapshot_saw";
	struct xlb_conn c, snap = { 0 }, other;
	struct xlb_flow_key rk;
	struct xlb_flow v;
	char why[160] = "";
	int fd, rc;

	fd = flow_map(name, "xlb_test_del", 16);
	if (fd < 0)
		return;
	make_pair(&c, IPPROTO_TCP, 41000, 2100);
	c.fwd.created_ns = c.rev.created_ns = 5 * S;
	c.fwd.last_seen_ns = c.rev.last_seen_ns = 6 * S;
	if (insert_pair(fd, &c, true, true) ||
	    xlb_conn_walk(fd, false, grab_first, &snap) != 1) {
		xtest_fail(name, "setup failed");
		goto out;
	}
	/* the NAT port goes to another connection meanwhile */
	rev_key(&c, &rk);
	make_pair(&other, IPPROTO_TCP, 41001, 2100);
	other.rev.created_ns = 9 * S;
	bpf_map_update_elem(fd, &rk, &other.rev, BPF_ANY);
	rc = xlb_conn_delete(fd, &snap, true);
	if (rc || present(fd, &c.key))
		snprintf(why, sizeof(why), "old client entry not removed (%d)", rc);
	else if (bpf_map_lookup_elem(fd, &rk, &v) || v.created_ns != 9 * S)
		snprintf(why, sizeof(why), "the new connection's reverse entry "
			 "was removed");
	/* a packet since the snapshot keeps an idle-expiry away */
	bpf_map_delete_elem(fd, &rk);
	if (!why[0] && (insert_pair(fd, &c, true, true) ||
			xlb_conn_walk(fd, false, grab_first, &snap) != 1))
		snprintf(why, sizeof(why), "second setup failed");
	c.fwd.last_seen_ns = 8 * S;
	bpf_map_update_elem(fd, &c.key, &c.fwd, BPF_EXIST);
	if (!why[0] && (xlb_conn_delete(fd, &snap, true) != -EBUSY ||
			!present(fd, &c.key) || !present(fd, &rk)))
		snprintf(why, sizeof(why), "an idle delete touched a pair that "
			 "saw a packet since the snapshot");
	/* a flush takes it, activity or not */
	if (!why[0] && (xlb_conn_delete(fd, &snap, false) != 0 ||
			present(fd, &c.key) || present(fd, &rk)))
		snprintf(why, sizeof(why), "a flush left the pair behind");
	if (why[0])
		xtest_fail(name, "%s", why);
	else
		xtest_pass(name);
out:
	close(fd);
}

/* Adopting state from a build without backend port marks: every
 * tracked connection's backend port gets its protocol's mark (half-open
 * ones too), and nothing else does. */
static void test_mark_backend_ports(void)
{
	const char *name = "mark_backend_ports_of_pinned_state";
	struct xlb_maps m = { .flows = -1, .embryos = -1, .service_ports = -1 };
	struct xlb_conn tcp, udp, embryo;
	__u8 bits[3] = { 0xff, 0xff, 0xff };
	__u32 ports[3] = { 9191, 5353, 8000 };
	__u64 conns = 0;
	int err;

	if (tables(name, &m))
		return;
	m.service_ports = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xlb_test_ports",
					 sizeof(__u32), sizeof(__u8), 65536,
					 NULL);
	if (m.service_ports < 0) {
		xtest_skip(name, "cannot create a BPF map: %s (not root?)",
			   strerror(errno));
		goto out;
	}
	make_pair(&tcp, IPPROTO_TCP, 40000, 20000);
	tcp.fwd.rewritten.dport = htons(9191);
	make_pair(&udp, IPPROTO_UDP, 40001, 20001);
	udp.fwd.rewritten.dport = htons(5353);
	make_pair(&embryo, IPPROTO_UDP, 40002, 20002);
	embryo.fwd.rewritten.dport = htons(9191);
	err = insert_pair(m.flows, &tcp, true, true);
	if (!err)
		err = insert_pair(m.flows, &udp, true, true);
	if (!err)
		err = insert_pair(m.embryos, &embryo, true, true);
	if (err) {
		xtest_fail(name, "setup: %s", strerror(-err));
		goto out;
	}
	err = xlb_conn_mark_backend_ports(&m, &conns);
	for (int i = 0; i < 3 && !err; i++)
		if (bpf_map_lookup_elem(m.service_ports, &ports[i], &bits[i]))
			err = -errno;
	if (err || conns != 3 ||
	    bits[0] != (XLB_PORT_BACKEND_TCP | XLB_PORT_BACKEND_UDP) ||
	    bits[1] != XLB_PORT_BACKEND_UDP || bits[2] != 0)
		xtest_fail(name, "%s, %llu connections (want 3); bits 9191 %#x "
			   "(want %#x), 5353 %#x (want %#x), 8000 %#x (want 0)",
			   err ? strerror(-err) : "ok",
			   (unsigned long long)conns, bits[0],
			   XLB_PORT_BACKEND_TCP | XLB_PORT_BACKEND_UDP, bits[1],
			   XLB_PORT_BACKEND_UDP, bits[2]);
	else
		xtest_pass(name);
out:
	tables_close(&m);
	if (m.service_ports >= 0)
		close(m.service_ports);
}

int main(void)
{
	test_states();
	test_last_seen();
	test_expire();
	test_walk_pairs();
	test_walk_crossed_pair();
	test_expire_cancelled();
	test_delete_checks_snapshot();
	test_expire_counts_conns();
	test_sweeper();
	test_expire_flush();
	test_remove_counts_halves();
	test_sweeper_flush();
	test_mark_backend_ports();
	return xtest_done();
}
