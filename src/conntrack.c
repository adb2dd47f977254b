// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE /* mremap */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <bpf/bpf.h>

#include "bitmap.h"
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

	/* a half pair, TCP or UDP: its backend entry is gone, or its
	 * client entry (the walk marks those RST; the program never marks
	 * a UDP entry so): expired as closed */
	if (!c->has_rev ||
	    (c->key.proto != IPPROTO_TCP && (fwd & XLB_FLOW_RST_SEEN)))
		return XLB_TCP_CLOSED;
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
	if (c->rev.last_seen_ns == 0)
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

static __u64 state_timeout_ns(enum xlb_tcp_state s,
			      const struct xlb_timeouts *t)
{
	switch (s) {
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

__u64 xlb_conn_timeout_ns(const struct xlb_conn *c,
			  const struct xlb_timeouts *t)
{
	return state_timeout_ns(xlb_conn_state(c), t);
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

/*
 * The walk's arrays: a million connections take some 300 MB for a moment.
 * Mapped (zeroed, no reservation against overcommit), grown by doubling
 * (mremap: in place, or moved by the kernel without a copy) and given
 * back after the walk.  (Huge pages, MADV_HUGEPAGE, made a sweep of a
 * million connections 5-10% faster, and each sweep of a small table zero
 * a few MB more.)
 */
static void *big_alloc(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* *p, bytes long, made nbytes long; -ENOMEM (*p unchanged) if it cannot */
static int big_grow(void **p, size_t bytes, size_t nbytes)
{
	void *q = mremap(*p, bytes, nbytes, MREMAP_MAYMOVE);

	if (q == MAP_FAILED)
		return -ENOMEM;
	*p = q;
	return 0;
}

static void big_free(void *p, size_t bytes)
{
	if (p)
		munmap(p, bytes);
}

/* A table's snapshot: its entries, read in batches. */
struct snap {
	void *keys; /* struct xlb_flow_key[kcap] */
	void *vals; /* struct xlb_flow[vcap] */
	size_t n, kcap, vcap;
	bool partial; /* the read outgrew the table and stopped short */
};

static void snap_free(struct snap *s)
{
	big_free(s->keys, s->kcap * sizeof(struct xlb_flow_key));
	big_free(s->vals, s->vcap * sizeof(struct xlb_flow));
	memset(s, 0, sizeof(*s));
}

/* Has the caller asked the walk to stop?  (cancel may be NULL.) */
static bool cancelled(const bool *cancel)
{
	return cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED);
}

/* Room for `more` entries after the n read: 0 or -ENOMEM. */
static int snap_room(struct snap *s, size_t more)
{
	size_t k = s->kcap, v = s->vcap;

	while (s->n + more > k)
		k *= 2;
	while (s->n + more > v)
		v *= 2;
	if (k != s->kcap) {
		if (big_grow(&s->keys, s->kcap * sizeof(struct xlb_flow_key),
			     k * sizeof(struct xlb_flow_key)))
			return -ENOMEM;
		s->kcap = k;
	}
	if (v != s->vcap) {
		if (big_grow(&s->vals, s->vcap * sizeof(struct xlb_flow),
			     v * sizeof(struct xlb_flow)))
			return -ENOMEM;
		s->vcap = v;
	}
	return 0;
}

static int snap_read(int fd, struct snap *s, const bool *cancel)
{
	struct bpf_map_info info = {};
	__u32 info_len = sizeof(info);
	__u8 batch[sizeof(struct xlb_flow_key)];
	bool first = true;
	size_t most;
	int err = 0;

	memset(s, 0, sizeof(*s));
	if (bpf_obj_get_info_by_fd(fd, &info, &info_len))
		return -errno;
	/* Entries that come and go during the read may be met twice; a
	 * read that outgrows the table ends there, and the next sweep sees
	 * the rest. */
	most = (size_t)info.max_entries + WALK_CHUNK;
	s->keys = big_alloc(4 * WALK_CHUNK * sizeof(struct xlb_flow_key));
	s->kcap = s->keys ? 4 * WALK_CHUNK : 0;
	s->vals = big_alloc(4 * WALK_CHUNK * sizeof(struct xlb_flow));
	s->vcap = s->vals ? 4 * WALK_CHUNK : 0;
	if (!s->keys || !s->vals)
		err = -ENOMEM;
	while (!err) {
		__u32 count = WALK_CHUNK;

		if (s->n + WALK_CHUNK > most) {
			s->partial = true;
			break;
		}

		if (cancelled(cancel)) {
			err = -ECANCELED;
			break;
		}
		err = snap_room(s, WALK_CHUNK);
		if (err)
			break;
		err = bpf_map_lookup_batch(fd, first ? NULL : batch, batch,
					   (struct xlb_flow_key *)s->keys + s->n,
					   (struct xlb_flow *)s->vals + s->n,
					   &count, NULL);
		first = false;
		if (err && errno != ENOENT) {
			err = -errno;
			break;
		}
		s->n += count;
		if (err) { /* ENOENT: done */
			err = 0;
			break;
		}
	}
	if (err)
		snap_free(s);
	return err;
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
	size_t mask; /* slots - 1 */
};

static size_t key_hash(const struct xlb_flow_key *k)
{
	/* word by word: the key is 40 bytes, and the walk hashes every
	 * entry of the table twice (index, then partner lookup) */
	__u64 w[sizeof(*k) / 8], h = 0x9e3779b97f4a7c15ull;

	_Static_assert(sizeof(*k) % 8 == 0, "xlb_flow_key: whole words");
	memcpy(w, k, sizeof(w));
	for (size_t i = 0; i < sizeof(*k) / 8; i++) {
		h = (h ^ w[i]) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return (size_t)(h ^ (h >> 29));
}

static int snap_index_build(struct snap_index *x,
			    const struct xlb_flow_key *keys, size_t n)
{
	size_t size = 64;

	while (size < 2 * n)
		size *= 2;
	x->keys = keys;
	x->mask = size - 1;
	x->slot = big_alloc(size * sizeof(*x->slot)); /* zeroed */
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

/*
 * The partner lookups of a walk are random accesses into arrays of a few
 * hundred MB at a million connections, a cache and TLB miss each: the
 * walk asks for the entry `WALK_AHEAD` positions ahead to be fetched
 * meanwhile (its index slot first, then, half as far ahead, the key and
 * value that slot names).
 */
#define WALK_AHEAD 16

static void snap_index_prefetch(const struct snap_index *x,
				const struct xlb_flow *vals, size_t n,
				size_t i, bool deep)
{
	struct xlb_flow_key pk;
	size_t h;
	__u32 slot;

	/* the walk looks up the partners of client entries only */
	if (i >= n || vals[i].dir != XLB_DIR_TO_BACKEND)
		return;
	partner_key(&vals[i], &pk);
	h = key_hash(&pk) & x->mask;
	if (!deep) {
		__builtin_prefetch(&x->slot[h]);
		return;
	}
	slot = x->slot[h];
	if (slot) {
		__builtin_prefetch(&x->keys[slot - 1]);
		__builtin_prefetch(&vals[slot - 1]);
	}
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
 * half pair) from the map.  Its position in the snapshot (-1: read from
 * the map), or -2 if it is in neither. */
static long partner_of(int fd, const struct snap_index *x,
		       const struct xlb_flow *vals, const struct xlb_flow_key *pk,
		       struct xlb_flow *out)
{
	long j = snap_index_find(x, pk);

	if (j >= 0) {
		*out = vals[j];
		return j;
	}
	return bpf_map_lookup_elem(fd, pk, out) ? -2 : -1;
}

/* Does entry (k, f) point back at key k2?  (f's partner key is k2.) */
static bool points_at(const struct xlb_flow *f, const struct xlb_flow_key *k2)
{
	struct xlb_flow_key pk;

	partner_key(f, &pk);
	return !memcmp(&pk, k2, sizeof(pk));
}

/* What a walk read. */
struct walk_read {
	__u64 entries;
	bool partial; /* not the whole table (struct snap) */
};

/*
 * Two passes over the snapshot, so that a pair costs one partner lookup,
 * not two (with a million connections the lookups, each a cache miss or
 * two, were most of a sweep): first each client->backend entry with its
 * partner, which it marks as reported; then the backend->client entries
 * not marked, which are half pairs unless their partner is there without
 * pointing back (or came in since the snapshot).
 */
static int walk(int flows_fd, bool half_open,
		int (*cb)(const struct xlb_conn *c, void *ctx), void *ctx,
		struct walk_read *read, const bool *cancel)
{
	struct snap_index x = { 0 };
	struct snap snap;
	struct xlb_flow_key *keys;
	struct xlb_flow *vals;
	__u8 *paired = NULL;
	size_t n;
	int err = snap_read(flows_fd, &snap, cancel);

	if (err)
		return err;
	keys = snap.keys;
	vals = snap.vals;
	n = snap.n;
	read->entries += n;
	read->partial |= snap.partial;
	/* positions are kept as 32-bit slots */
	err = n >= UINT32_MAX ? -E2BIG : snap_index_build(&x, keys, n);
	if (!err && !(paired = big_alloc(n ? n : 1)))
		err = -ENOMEM;
	for (size_t i = 0; i < n && !err; i++) {
		struct xlb_conn c = { .key = keys[i], .fwd = vals[i],
				      .half_open = half_open };
		struct xlb_flow_key pk;
		long j;

		snap_index_prefetch(&x, vals, n, i + 2 * WALK_AHEAD, false);
		snap_index_prefetch(&x, vals, n, i + WALK_AHEAD, true);
		if (!(i % 1024) && cancelled(cancel))
			err = -ECANCELED;
		if (err || vals[i].dir != XLB_DIR_TO_BACKEND)
			continue;
		/* its partner, if that points back: a partner that names
		 * another client tuple is another connection's (its NAT
		 * port went to a new connection): this entry is a half */
		partner_key(&vals[i], &pk);
		j = partner_of(flows_fd, &x, vals, &pk, &c.rev);
		c.has_rev = j != -2 && points_at(&c.rev, &keys[i]);
		if (j >= 0 && c.has_rev)
			paired[j] = 1;
		if (!c.has_rev)
			memset(&c.rev, 0, sizeof(c.rev));
		err = cb(&c, ctx);
	}
	for (size_t i = 0; i < n && !err; i++) {
		struct xlb_conn c = { .half_open = half_open };
		struct xlb_flow_key pk;
		struct xlb_flow fwd;

		if (!(i % 1024) && cancelled(cancel))
			err = -ECANCELED;
		if (err || vals[i].dir == XLB_DIR_TO_BACKEND || paired[i])
			continue;
		/* a backend->client entry: reported from its partner,
		 * unless the partner is gone or does not point back (a half
		 * pair); one that came in since the snapshot points back
		 * (the pair is new) */
		partner_key(&vals[i], &pk);
		if (partner_of(flows_fd, &x, vals, &pk, &fwd) != -2 &&
		    points_at(&fwd, &keys[i]))
			continue;
		c.key = pk;
		swap_key(&keys[i], &c.fwd.rewritten);
		c.fwd.dir = XLB_DIR_TO_BACKEND;
		c.fwd.backend_id = vals[i].backend_id;
		c.fwd.service_id = vals[i].service_id;
		c.fwd.created_ns = vals[i].created_ns;
		c.rev = vals[i];
		c.has_rev = true;
		/* mark: no client->backend entry */
		c.fwd.flags = XLB_FLOW_RST_SEEN;
		err = cb(&c, ctx);
	}
	big_free(paired, n ? n : 1);
	if (x.slot)
		big_free(x.slot, (x.mask + 1) * sizeof(*x.slot));
	snap_free(&snap);
	return err;
}

int xlb_conn_walk(int flows_fd, bool half_open,
		  int (*cb)(const struct xlb_conn *c, void *ctx), void *ctx)
{
	struct walk_read read = { 0 };

	return walk(flows_fd, half_open, cb, ctx, &read, NULL);
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

/* xlb_conn_delete; *gone counts the entries removed. */
static int conn_delete(int flows_fd, const struct xlb_conn *c, bool idle,
		       __u64 *gone)
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
	if (rev == 0) {
		if (!bpf_map_delete_elem(flows_fd, &pk))
			(*gone)++;
		else if (errno != ENOENT)
			return -errno;
	}
	if (fwd == 0) {
		if (bpf_map_delete_elem(flows_fd, &c->key))
			return errno == ENOENT ? -ENOENT : -errno;
		(*gone)++;
	}
	if (fwd == -ESTALE)
		return -ENOENT;
	return fwd;
}

int xlb_conn_delete(int flows_fd, const struct xlb_conn *c, bool idle)
{
	__u64 gone = 0;

	return conn_delete(flows_fd, c, idle, &gone);
}

int xlb_conn_remove(const struct xlb_maps *m, const struct xlb_conn *c)
{
	__u64 gone = 0;
	int err = conn_delete(m->flows, c, false, &gone);

	if (err && err != -ENOENT)
		return err;
	if (!gone) {
		err = conn_delete(m->embryos, c, false, &gone);
		if (err && err != -ENOENT)
			return err;
	}
	return gone > 0;
}

struct expire_ctx {
	int fd;
	const struct xlb_sweep_args *a;
	__u64 removed, flushed, conns, gone;
	bool failed; /* a flush's delete failed */
};

/* c, in state st, stays after the sweep: count it for its backend. */
static void count_kept(const struct xlb_sweep_args *a,
		       const struct xlb_conn *c, enum xlb_tcp_state st)
{
	struct xlb_backend_conns *b;

	if (!a->conns || c->fwd.backend_id >= XLB_MAX_BACKENDS)
		return;
	b = &a->conns[c->fwd.backend_id];
	if (st == XLB_TCP_ESTABLISHED)
		b->active++;
	else
		b->inactive++;
}

static int expire_one(const struct xlb_conn *c, void *arg)
{
	struct expire_ctx *e = arg;
	__u64 last = xlb_conn_last_seen_ns(c), now = e->a->now_ns;
	__u64 gone = e->gone; /* a half pair's delete says -ENOENT */
	enum xlb_tcp_state st;

	e->conns++;
	if (e->a->flush && c->fwd.service_id < XLB_MAX_SERVICES &&
	    xlb_bit_test(e->a->flush, c->fwd.service_id)) {
		/* its service is gone: active or not */
		int err = conn_delete(e->fd, c, false, &e->gone);

		e->flushed += e->gone > gone;
		e->failed |= err && err != -ENOENT;
		return 0;
	}
	st = xlb_conn_state(c);
	if (last < c->fwd.created_ns)
		last = c->fwd.created_ns;
	/* without timeouts, a flush only */
	if (e->a->t && now > last &&
	    now - last > state_timeout_ns(st, e->a->t)) {
		/* only if still the same and still idle: the walk's
		 * snapshot may be a while old */
		int err = conn_delete(e->fd, c, true, &e->gone);

		e->removed += e->gone > gone;
		if (!err || err == -ENOENT)
			return 0; /* expired (or gone meanwhile): not counted */
		/* -EBUSY: it saw a packet since the snapshot; another error:
		 * its delete failed (the next sweep tries again): it stays */
	}
	count_kept(e->a, c, st);
	return 0;
}

/* Expire the table flows_fd; *left: the entries read, less those
 * removed. */
static int expire(int flows_fd, bool half_open, const struct xlb_sweep_args *a,
		  struct xlb_expire_counts *n, __u64 *left)
{
	struct expire_ctx e = { .fd = flows_fd, .a = a };
	struct walk_read read = { 0 };
	int err = walk(flows_fd, half_open, expire_one, &e, &read, a->cancel);

	n->removed += e.removed;
	n->flushed += e.flushed;
	n->conns += e.conns;
	n->incomplete |= read.partial || e.failed;
	*left = read.entries > e.gone ? read.entries - e.gone : 0;
	return err;
}

int xlb_conn_expire(int flows_fd, bool half_open,
		    const struct xlb_timeouts *t, __u64 now_ns, __u64 *removed)
{
	struct xlb_sweep_args a = { .t = t, .now_ns = now_ns };
	struct xlb_expire_counts n = { 0 };
	__u64 left;
	int err = expire(flows_fd, half_open, &a, &n, &left);

	if (removed)
		*removed = n.removed;
	return err;
}

int xlb_conn_expire_all(const struct xlb_maps *m,
			const struct xlb_sweep_args *a,
			struct xlb_expire_counts *out)
{
	struct xlb_expire_counts n = { 0 };
	int err;

	if (a->conns)
		memset(a->conns, 0, XLB_MAX_BACKENDS * sizeof(*a->conns));
	err = expire(m->embryos, true, a, &n, &n.half_open_entries);
	if (!err)
		err = expire(m->flows, false, a, &n, &n.flow_entries);
	if (out)
		*out = n;
	return err;
}

int xlb_conn_walk_all(const struct xlb_maps *m,
		      int (*cb)(const struct xlb_conn *c, void *ctx),
		      void *ctx)
{
	/* xlb_embryos first: see xlb_conn_expire_all */
	int err = xlb_conn_walk(m->embryos, true, cb, ctx);

	return err ? err : xlb_conn_walk(m->flows, false, cb, ctx);
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
