// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <bpf/bpf.h>

#include "conntrack.h"
#include "maps.h"
#include "tables.h"

#define WALK_CHUNK 4096

__u64 xlb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * XLB_NS_PER_SEC + ts.tv_nsec;
}

enum xlb_tcp_state xlb_conn_state(const struct xlb_conn *c)
{
	__u8 fwd = c->fwd.flags, rev = c->has_rev ? c->rev.flags : 0;

	if (c->key.proto != IPPROTO_TCP)
		return XLB_UDP;
	/* a pending client FIN that the backend has acknowledged counts
	 * (bpf/flow.h flow_fin_acked) */
	if (c->has_rev && (fwd & XLB_FLOW_FIN_PENDING) &&
	    (__s32)(ntohl(c->rev.ack_seq) - ntohl(c->fwd.fin_seq)) > 0)
		fwd |= XLB_FLOW_FIN_SEEN;
	if ((fwd | rev) & XLB_FLOW_RST_SEEN)
		return XLB_TCP_CLOSED;
	if ((fwd & XLB_FLOW_FIN_SEEN) && (rev & XLB_FLOW_FIN_SEEN))
		return XLB_TCP_CLOSED;
	if ((fwd | rev) & XLB_FLOW_FIN_SEEN)
		return XLB_TCP_CLOSING;
	/* the backend->client entry is touched by the backend's first packet */
	if (!c->has_rev || c->rev.last_seen_ns == 0)
		return XLB_TCP_SYN_SENT;
	/* promoted only when the client confirmed the backend's answer */
	return c->half_open ? XLB_TCP_SYN_RECV : XLB_TCP_ESTABLISHED;
}

const char *xlb_conn_state_name(enum xlb_tcp_state s)
{
	switch (s) {
	case XLB_TCP_SYN_SENT:
		return "syn_sent";
	case XLB_TCP_SYN_RECV:
		return "syn_recv";
	case XLB_TCP_ESTABLISHED:
		return "established";
	case XLB_TCP_CLOSING:
		return "closing";
	case XLB_TCP_CLOSED:
		return "closed";
	case XLB_UDP:
		return "udp";
	}
	return "?";
}

__u64 xlb_conn_last_seen_ns(const struct xlb_conn *c)
{
	__u64 t = c->fwd.last_seen_ns;

	if (c->has_rev && c->rev.last_seen_ns > t)
		t = c->rev.last_seen_ns;
	return t;
}

__u64 xlb_conn_timeout_ns(const struct xlb_conn *c,
			  const struct xlb_timeouts *t)
{
	switch (xlb_conn_state(c)) {
	case XLB_TCP_SYN_SENT:
	case XLB_TCP_SYN_RECV:
		return t->syn_ns;
	case XLB_TCP_ESTABLISHED:
		return t->established_ns;
	case XLB_TCP_CLOSING:
		return t->closing_ns;
	case XLB_TCP_CLOSED:
		return t->closed_ns;
	case XLB_UDP:
		return t->udp_ns;
	}
	return t->closed_ns;
}

/* The same tuple seen from the other side. */
static void swap_key(const struct xlb_flow_key *in, struct xlb_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->src = in->dst;
	k->dst = in->src;
	k->sport = in->dport;
	k->dport = in->sport;
	k->proto = in->proto;
	k->family = in->family;
}

/* Key of the partner entry: the rewritten tuple, swapped. */
static void partner_key(const struct xlb_flow *f, struct xlb_flow_key *k)
{
	swap_key(&f->rewritten, k);
}

/* Snapshot of the whole table, read in batches. */
static int read_all(int fd, struct xlb_flow_key **keys_out,
		    struct xlb_flow **vals_out, size_t *n_out)
{
	struct xlb_flow_key *keys = NULL;
	struct xlb_flow *vals = NULL;
	size_t n = 0, cap = 0;
	__u8 batch[sizeof(struct xlb_flow_key)];
	bool first = true;
	int err = 0;

	for (;;) {
		__u32 count = WALK_CHUNK;

		if (n + WALK_CHUNK > cap) {
			size_t ncap = cap ? cap * 2 : WALK_CHUNK * 4;
			void *k = realloc(keys, ncap * sizeof(*keys));

			if (!k) {
				err = -ENOMEM;
				break;
			}
			keys = k;
			k = realloc(vals, ncap * sizeof(*vals));
			if (!k) {
				err = -ENOMEM;
				break;
			}
			vals = k;
			cap = ncap;
		}
		err = bpf_map_lookup_batch(fd, first ? NULL : batch, batch,
					   keys + n, vals + n, &count, NULL);
		first = false;
		if (err && errno != ENOENT) {
			err = -errno;
			break;
		}
		n += count;
		if (err) { /* ENOENT: done */
			err = 0;
			break;
		}
	}
	if (err) {
		free(keys);
		free(vals);
		return err;
	}
	*keys_out = keys;
	*vals_out = vals;
	*n_out = n;
	return 0;
}

/*
 * Index of a snapshot by key (open addressing, at least twice as many
 * slots as keys, slot = position + 1): the walk finds each entry's partner
 * in the snapshot itself instead of asking the kernel once per entry.
 * With a busy table that is most of the daemon's periodic work: two
 * syscalls per connection every sweep.
 */
struct snap_index {
	const struct xlb_flow_key *keys;
	__u32 *slot;
	size_t mask;
};

static size_t key_hash(const struct xlb_flow_key *k)
{
	const unsigned char *b = (const unsigned char *)k;
	__u64 h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return (size_t)(h ^ (h >> 32));
}

static int snap_index_build(struct snap_index *x,
			    const struct xlb_flow_key *keys, size_t n)
{
	size_t size = 64;

	while (size < 2 * n)
		size *= 2;
	x->keys = keys;
	x->mask = size - 1;
	x->slot = calloc(size, sizeof(*x->slot));
	if (!x->slot)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t h = key_hash(&keys[i]) & x->mask;

		while (x->slot[h])
			h = (h + 1) & x->mask;
		x->slot[h] = (__u32)(i + 1);
	}
	return 0;
}

/* Position of k in the snapshot, or -1. */
static long snap_index_find(const struct snap_index *x,
			    const struct xlb_flow_key *k)
{
	for (size_t h = key_hash(k) & x->mask; x->slot[h];
	     h = (h + 1) & x->mask)
		if (!memcmp(&x->keys[x->slot[h] - 1], k, sizeof(*k)))
			return (long)x->slot[h] - 1;
	return -1;
}

/* The partner entry pk: from the snapshot, else (inserted since, or a
 * half pair) from the map.  0 or -1. */
static int partner_of(int fd, const struct snap_index *x,
		      const struct xlb_flow *vals, const struct xlb_flow_key *pk,
		      struct xlb_flow *out)
{
	long j = snap_index_find(x, pk);

	if (j >= 0) {
		*out = vals[j];
		return 0;
	}
	return bpf_map_lookup_elem(fd, pk, out) ? -1 : 0;
}

int xlb_conn_walk(int flows_fd, bool half_open,
		  int (*cb)(const struct xlb_conn *c, void *ctx), void *ctx)
{
	struct snap_index x = { 0 };
	struct xlb_flow_key *keys;
	struct xlb_flow *vals;
	size_t n;
	int err = read_all(flows_fd, &keys, &vals, &n);

	if (err)
		return err;
	/* positions are kept as 32-bit slots */
	err = n >= UINT32_MAX ? -E2BIG : snap_index_build(&x, keys, n);
	if (err) {
		free(keys);
		free(vals);
		return err;
	}
	for (size_t i = 0; i < n && !err; i++) {
		struct xlb_conn c = { .key = keys[i], .fwd = vals[i],
				      .half_open = half_open };
		struct xlb_flow_key pk;

		if (vals[i].dir == XLB_DIR_TO_BACKEND) {
			partner_key(&vals[i], &pk);
			c.has_rev = !partner_of(flows_fd, &x, vals, &pk, &c.rev);
		} else {
			/* a backend->client entry: reported from its partner,
			 * unless the partner is gone (a half pair) */
			struct xlb_flow fwd;

			partner_key(&vals[i], &pk);
			if (!partner_of(flows_fd, &x, vals, &pk, &fwd))
				continue;
			c.key = pk;
			memset(&c.fwd, 0, sizeof(c.fwd));
			swap_key(&keys[i], &c.fwd.rewritten);
			c.fwd.dir = XLB_DIR_TO_BACKEND;
			c.fwd.backend_id = vals[i].backend_id;
			c.fwd.service_id = vals[i].service_id;
			c.fwd.created_ns = vals[i].created_ns;
			c.rev = vals[i];
			c.has_rev = true;
			/* mark: no client->backend entry */
			c.fwd.flags = XLB_FLOW_RST_SEEN;
		}
		err = cb(&c, ctx);
	}
	free(x.slot);
	free(keys);
	free(vals);
	return err;
}

/* Is the entry at k still the one of the snapshot?  0 yes; -ENOENT gone;
 * -ESTALE another connection's now (a NAT port or client tuple can be
 * reused between a snapshot and a delete); with `idle`, -EBUSY if the
 * same connection saw a packet since; or another -errno. */
static int still_same(int fd, const struct xlb_flow_key *k,
		      const struct xlb_flow *snap, bool idle)
{
	struct xlb_flow now;

	if (bpf_map_lookup_elem(fd, k, &now))
		return errno == ENOENT ? -ENOENT : -errno;
	if (now.created_ns != snap->created_ns ||
	    memcmp(&now.rewritten, &snap->rewritten, sizeof(now.rewritten)))
		return -ESTALE;
	if (idle && now.last_seen_ns != snap->last_seen_ns)
		return -EBUSY;
	return 0;
}

int xlb_conn_delete(int flows_fd, const struct xlb_conn *c, bool idle)
{
	struct xlb_flow_key pk;
	int rev = -ENOENT, fwd;

	/* both checked before either goes: an active pair stays whole */
	partner_key(&c->fwd, &pk);
	if (c->has_rev)
		rev = still_same(flows_fd, &pk, &c->rev, idle);
	fwd = still_same(flows_fd, &c->key, &c->fwd, idle);
	if (rev == -EBUSY || fwd == -EBUSY)
		return -EBUSY;
	if (rev == 0 && bpf_map_delete_elem(flows_fd, &pk) && errno != ENOENT)
		return -errno;
	if (fwd == 0 && bpf_map_delete_elem(flows_fd, &c->key))
		return errno == ENOENT ? -ENOENT : -errno;
	if (fwd == -ESTALE)
		return -ENOENT;
	return fwd;
}

struct expire_ctx {
	int fd;
	const struct xlb_timeouts *t;
	__u64 now_ns;
	__u64 removed;
};

static int expire_one(const struct xlb_conn *c, void *arg)
{
	struct expire_ctx *e = arg;
	__u64 last = xlb_conn_last_seen_ns(c);

	if (last < c->fwd.created_ns)
		last = c->fwd.created_ns;
	if (e->now_ns > last && e->now_ns - last > xlb_conn_timeout_ns(c, e->t)) {
		/* only if still the same and still idle: the walk's
		 * snapshot may be a while old */
		if (!xlb_conn_delete(e->fd, c, true))
			e->removed++;
	}
	return 0;
}

int xlb_conn_expire(int flows_fd, bool half_open,
		    const struct xlb_timeouts *t, __u64 now_ns, __u64 *removed)
{
	struct expire_ctx e = { .fd = flows_fd, .t = t, .now_ns = now_ns };
	int err = xlb_conn_walk(flows_fd, half_open, expire_one, &e);

	if (removed)
		*removed = e.removed;
	return err;
}

int xlb_conn_expire_all(const struct xlb_maps *m,
			const struct xlb_timeouts *t, __u64 now_ns,
			__u64 *removed)
{
	__u64 a = 0, b = 0;
	int err = xlb_conn_expire(m->flows, false, t, now_ns, &a);

	if (!err)
		err = xlb_conn_expire(m->embryos, true, t, now_ns, &b);
	if (removed)
		*removed = a + b;
	return err;
}

int xlb_conn_walk_all(const struct xlb_maps *m,
		      int (*cb)(const struct xlb_conn *c, void *ctx),
		      void *ctx)
{
	int err = xlb_conn_walk(m->flows, false, cb, ctx);

	return err ? err : xlb_conn_walk(m->embryos, true, cb, ctx);
}

struct port_marks {
	__u64 conns;
	__u8 seen[2][65536 / 8]; /* [udp][port]: a connection's backend port */
};

static int note_backend_port(const struct xlb_conn *c, void *ctx)
{
	struct port_marks *pm = ctx;
	__u16 port = ntohs(c->fwd.rewritten.dport);
	int udp = c->key.proto == IPPROTO_UDP;

	pm->conns++;
	pm->seen[udp][port / 8] |= 1u << (port % 8);
	return 0;
}

int xlb_conn_mark_backend_ports(const struct xlb_maps *m, __u64 *conns)
{
	struct port_marks *pm = calloc(1, sizeof(*pm));
	int err;

	if (!pm)
		return -ENOMEM;
	/* xlb_embryos first: a pair promoted meanwhile is in xlb_flows
	 * before it leaves xlb_embryos, and entries never leave xlb_flows
	 * but to go (the program may still be running) */
	err = xlb_conn_walk(m->embryos, true, note_backend_port, pm);
	if (!err)
		err = xlb_conn_walk(m->flows, false, note_backend_port, pm);
	for (__u32 port = 0; port < 65536 && !err; port++)
		for (int udp = 0; udp < 2 && !err; udp++)
			if (pm->seen[udp][port / 8] & (1u << (port % 8)))
				err = xlb_backend_port_mark(
					m, port, udp ? IPPROTO_UDP :
						       IPPROTO_TCP);
	if (conns)
		*conns = pm->conns;
	free(pm);
	return err;
}
