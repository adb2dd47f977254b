// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Configuration transactions (see txn.h). */
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "stats.h"
#include "bitmap.h"
#include "sched.h"
#include "errmsg.h"
#include "tables.h"
#include "txn.h"
#include "view.h"

struct idset {
	__u8 backends[XLB_MAX_BACKENDS / 8];
	__u8 services[XLB_MAX_SERVICES / 8];
};


#define msg xlb_errmsg

/* The services set in services go into flush, and their ids are held. */
static void to_flush(struct xlb_txn *t, const __u8 *services)
{
	xlb_bits_or(t->flush, services, sizeof(t->flush));
	xlb_bits_or(t->held, services, sizeof(t->held));
}

/* ------------------------------------------------------------------ */
/* Ids named by tracked flows                                          */
/* ------------------------------------------------------------------ */

struct ref_ctx {
	struct idset *ids;
	__s64 max_backend, max_service;
};

static int ref_one(const struct xlb_conn *c, void *arg)
{
	struct ref_ctx *r = arg;
	__u32 b = c->fwd.backend_id, s = c->fwd.service_id;

	if (b < XLB_MAX_BACKENDS) {
		xlb_bit_set(r->ids->backends, b);
		if (b > r->max_backend)
			r->max_backend = b;
	}
	if (s < XLB_MAX_SERVICES) {
		xlb_bit_set(r->ids->services, s);
		if (s > r->max_service)
			r->max_service = s;
	}
	return 0;
}

static int referenced_ids(const struct xlb_maps *m, struct idset *ids,
			  __s64 *max_backend, __s64 *max_service)
{
	struct ref_ctx r = { .ids = ids, .max_backend = -1, .max_service = -1 };
	int err = xlb_conn_walk_all(m, ref_one, &r);

	if (max_backend)
		*max_backend = r.max_backend;
	if (max_service)
		*max_service = r.max_service;
	return err;
}

int xlb_txn_init(struct xlb_txn *t, const struct xlb_maps *m,
		 const struct xlb_config *cur)
{
	struct idset *ids = calloc(1, sizeof(*ids));
	__s64 max_b, max_s;
	int err;

	memset(t, 0, sizeof(*t));
	t->m = m;
	if (!ids)
		return -ENOMEM;
	err = referenced_ids(m, ids, &max_b, &max_s);
	if (err) {
		free(ids);
		return err;
	}
	for (size_t i = 0; i < cur->n_svcs; i++) {
		const struct xlb_config_service *s = &cur->svcs[i];

		if (s->id < XLB_MAX_SERVICES)
			xlb_bit_clear(ids->services, s->id);
		if (s->id != XLB_ID_NONE && (__s64)s->id > max_s)
			max_s = s->id;
		for (size_t j = 0; j < s->n_backends; j++)
			if (s->backends[j].id != XLB_ID_NONE &&
			    (__s64)s->backends[j].id > max_b)
				max_b = s->backends[j].id;
	}
	/* connections of services that are gone (a flush that a daemon's
	 * stop cut short) */
	to_flush(t, ids->services);
	free(ids);
	t->next_backend_id = max_b + 1;
	t->next_service_id = max_s + 1;
	if (t->next_backend_id >= XLB_MAX_BACKENDS) {
		t->next_backend_id = 0;
		t->backend_wrapped = true;
	}
	if (t->next_service_id >= XLB_MAX_SERVICES) {
		t->next_service_id = 0;
		t->service_wrapped = true;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Reading the maps back                                               */
/* ------------------------------------------------------------------ */

static int clear_backend(const struct xlb_maps *m, __u32 id)
{
	struct xlb_backend zero = {};

	return bpf_map_update_elem(m->backends, &id, &zero, BPF_ANY) ? -errno :
									0;
}

/* The configuration the maps hold; with tidy, also clear what an
 * interrupted transaction left (backend slots naming no service,
 * schedule tables of removed services).  Only a daemon that holds the
 * instance may tidy: a transaction in progress looks the same. */
static int txn_read(const struct xlb_maps *m, struct xlb_config *c,
		    bool tidy)
{
	struct xlb_config_service **by_id;
	struct xlb_view v;
	int err;

	xlb_config_init(c);
	by_id = calloc(XLB_MAX_SERVICES, sizeof(*by_id));
	if (!by_id)
		return -ENOMEM;
	err = xlb_view_read(m, &v);
	if (err) {
		free(by_id);
		return err;
	}
	/* two passes: the array may move while services are added */
	for (size_t i = 0; i < v.n_svcs && !err; i++) {
		const struct xlb_view_service *vs = &v.svcs[i];
		struct xlb_endpoint vip = { .addr = vs->key.vip,
					    .family = vs->key.family,
					    .port = ntohs(vs->key.port) };
		struct xlb_config_service *s;

		s = xlb_config_service_add(c, &vip, vs->key.proto);
		if (!s) {
			err = -errno;
			break;
		}
		s->id = vs->svc.id;
		s->algo = vs->svc.algo;
		s->snat = vs->svc.snat;
	}
	for (size_t i = 0; i < c->n_svcs && !err; i++)
		if (c->svcs[i].id < XLB_MAX_SERVICES)
			by_id[c->svcs[i].id] = &c->svcs[i];
	for (size_t i = 0; i < v.n_backends && !err; i++) {
		const struct xlb_view_backend *vb = &v.backends[i];
		struct xlb_config_service *s = vb->b.service_id <
							       XLB_MAX_SERVICES ?
						       by_id[vb->b.service_id] :
						       NULL;
		struct xlb_endpoint ep = { .addr = vb->b.addr,
					   .family = vb->b.family,
					   .port = ntohs(vb->b.port) };
		struct xlb_config_backend *b;

		if (!s || ep.family != s->vip.family ||
		    xlb_config_backend_find(s, &ep)) {
			/* left over by an interrupted transaction, or
			 * written ahead of its service by one in progress */
			if (tidy)
				err = clear_backend(m, vb->id);
			continue;
		}
		b = xlb_config_backend_add(s, &ep, vb->b.weight);
		if (!b) {
			err = -errno;
			break;
		}
		b->id = vb->id;
		b->drain = (vb->b.flags & XLB_BACKEND_DRAIN) && vb->b.weight;
		b->down = vb->b.flags & XLB_BACKEND_DOWN;
	}
	/* schedule tables of services that are gone */
	for (__u32 id = 0; tidy && id < XLB_MAX_SERVICES && !err; id++) {
		__u32 inner_id;

		if (by_id[id] ||
		    bpf_map_lookup_elem(m->schedules, &id, &inner_id))
			continue;
		if (bpf_map_delete_elem(m->schedules, &id) && errno != ENOENT)
			err = -errno;
	}
	xlb_view_free(&v);
	free(by_id);
	if (err)
		xlb_config_free(c);
	return err;
}

int xlb_txn_read(const struct xlb_maps *m, struct xlb_config *c)
{
	return txn_read(m, c, false);
}

int xlb_txn_read_tidy(const struct xlb_maps *m, struct xlb_config *c)
{
	return txn_read(m, c, true);
}

/* ------------------------------------------------------------------ */
/* Schedules                                                           */
/* ------------------------------------------------------------------ */

/* The service's slow start (window 0: none). */
static struct xlb_slow_start slow_start_of(const struct xlb_config_service *s)
{
	return (struct xlb_slow_start){
		.window_ns = (__u64)s->slow_start_ms * 1000000,
	};
}

static __u32 sched_weight(const struct xlb_config_service *s,
			  const struct xlb_config_backend *b, __u64 now_ns,
			  __u32 scale);

__u32 xlb_txn_effective_weight(const struct xlb_config_service *s,
			       const struct xlb_config_backend *b,
			       __u64 now_ns)
{
	return sched_weight(s, b, now_ns, 1);
}

__u64 xlb_txn_next_ramp_ns(const struct xlb_config *c, __u64 now_ns)
{
	__u64 next = 0;

	for (size_t i = 0; i < c->n_svcs; i++) {
		const struct xlb_config_service *s = &c->svcs[i];
		struct xlb_slow_start ss = slow_start_of(s);

		if (!s->slow_start_ms)
			continue;
		for (size_t j = 0; j < s->n_backends; j++) {
			const struct xlb_config_backend *b = &s->backends[j];
			__u64 t;

			if (!b->up_since_ns || b->down || b->drain)
				continue;
			t = xlb_slow_start_next_ns(&ss, b->up_since_ns, now_ns);
			if (t && (!next || t < next))
				next = t;
		}
	}
	return next;
}

/*
 * The weights a service's schedule is built from.  While one of its
 * backends is in a slow start, all of them are multiplied by the number
 * of steps (when the largest still fits a weight), so that the ramping
 * one gets exactly k tenths of its share: ceil(weight * k / 10) alone
 * gave a weight-1 backend its whole share from the first step.
 */
static __u32 ramp_scale(const struct xlb_config_service *s, __u64 now_ns)
{
	struct xlb_slow_start ss = slow_start_of(s);
	__u32 max = 0;
	bool ramping = false;

	if (!s->slow_start_ms)
		return 1;
	for (size_t i = 0; i < s->n_backends; i++) {
		const struct xlb_config_backend *b = &s->backends[i];

		if (b->weight > max)
			max = b->weight;
		if (b->up_since_ns && !b->drain && !b->down &&
		    xlb_slow_start_next_ns(&ss, b->up_since_ns, now_ns))
			ramping = true;
	}
	return ramping && max * XLB_SLOW_START_STEPS_DEFAULT <= 65535 ?
		       XLB_SLOW_START_STEPS_DEFAULT :
		       1;
}

/* A backend's weight at now_ns, times scale (xlb_txn_effective_weight:
 * scale 1): 0 drained, ramped in its slow start. */
static __u32 sched_weight(const struct xlb_config_service *s,
			  const struct xlb_config_backend *b, __u64 now_ns,
			  __u32 scale)
{
	struct xlb_slow_start ss = slow_start_of(s);
	__u32 w = b->weight * scale;

	if (b->drain)
		return 0;
	if (!s->slow_start_ms || !b->up_since_ns)
		return w;
	return xlb_slow_start_weight(&ss, w, b->up_since_ns, now_ns);
}

static void fnv(__u64 *h, const void *data, size_t n)
{
	const __u8 *p = data;

	for (size_t i = 0; i < n; i++) {
		*h ^= p[i];
		*h *= 0x100000001b3ull;
	}
}

int xlb_txn_table_weights(const struct xlb_config_service *s,
			  const struct xlb_backend_conns *load, __u64 now_ns,
			  __u32 *w)
{
	__u32 scale = ramp_scale(s, now_ns);
	__u64 *held;
	int err;

	for (size_t i = 0; i < s->n_backends; i++)
		w[i] = sched_weight(s, &s->backends[i], now_ns, scale);
	if (s->algo != XLB_ALGO_WLC || !load || !s->n_backends)
		return 0;
	held = calloc(s->n_backends, sizeof(*held));
	if (!held)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_backends; i++) {
		const struct xlb_config_backend *b = &s->backends[i];

		if (b->down)
			w[i] = 0;
		else if (b->id < XLB_MAX_BACKENDS)
			held[i] = (__u64)load[b->id].active +
				  load[b->id].inactive;
	}
	err = xlb_sched_wlc(w, held, s->n_backends, w);
	free(held);
	return err;
}

/* What a service's schedule table is built from: its table weights
 * (xlb_txn_table_weights) into *w, a new array the caller frees, and
 * their hash with the rest (never 0) into *sig.  0 or -ENOMEM. */
static int sched_inputs(const struct xlb_config_service *s,
			const struct xlb_backend_conns *load, __u64 now_ns,
			__u32 **w, __u64 *sig)
{
	__u64 h = 0xcbf29ce484222325ull;
	__u32 algo = s->algo;
	int err;

	*w = calloc(s->n_backends + 1, sizeof(**w));
	err = *w ? xlb_txn_table_weights(s, load, now_ns, *w) : -ENOMEM;
	if (err)
		return err;
	fnv(&h, &algo, sizeof(algo));
	for (size_t i = 0; i < s->n_backends; i++) {
		const struct xlb_config_backend *b = &s->backends[i];
		__u8 live = !b->down;

		fnv(&h, &b->id, sizeof(b->id));
		fnv(&h, &(*w)[i], sizeof((*w)[i]));
		fnv(&h, &live, sizeof(live));
	}
	*sig = h ? h : 1;
	return 0;
}

bool xlb_txn_wlc_stale(const struct xlb_txn *t, const struct xlb_config *cur,
		       __u64 now_ns)
{
	for (size_t i = 0; i < cur->n_svcs; i++) {
		const struct xlb_config_service *s = &cur->svcs[i];
		__u32 *w = NULL;
		__u64 sig = 0;
		bool stale;

		if (s->algo != XLB_ALGO_WLC)
			continue;
		stale = t->wlc_unsure ||
			sched_inputs(s, t->load, now_ns, &w, &sig) ||
			sig != s->sched_sig;
		free(w);
		if (stale)
			return true;
	}
	return false;
}

/* Build s's table from its table weights w and swap it in. */
static int install_schedule(const struct xlb_maps *m,
			    const struct xlb_config_service *s, const __u32 *w,
			    bool *approx)
{
	struct xlb_sched_backend *in;
	__u32 *slots;
	int len, err;

	in = calloc(s->n_backends ? s->n_backends : 1, sizeof(*in));
	slots = calloc(XLB_SCHED_MAX_SLOTS, sizeof(*slots));
	if (!in || !slots) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < s->n_backends; i++) {
		in[i].id = s->backends[i].id;
		in[i].weight = w[i];
		in[i].live = !s->backends[i].down;
		in[i].ident = xlb_sched_ident(&s->backends[i].ep.addr,
					      s->backends[i].ep.port);
	}
	len = xlb_sched_build(s->algo, in, s->n_backends, slots,
			      XLB_SCHED_MAX_SLOTS, approx);
	err = len < 0 ? len : xlb_schedule_write(m, s->id, slots, len);
out:
	free(in);
	free(slots);
	return err;
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

static void backend_slot(const struct xlb_config_service *s,
			 const struct xlb_config_backend *b,
			 struct xlb_backend *v)
{
	memset(v, 0, sizeof(*v));
	v->addr = b->ep.addr;
	v->port = htons(b->ep.port);
	v->service_id = s->id;
	v->weight = b->weight;
	v->family = b->ep.family;
	v->flags = XLB_BACKEND_IN_USE;
	if (b->drain || !b->weight)
		v->flags |= XLB_BACKEND_DRAIN;
	if (b->down)
		v->flags |= XLB_BACKEND_DOWN;
}

static void service_key(const struct xlb_config_service *s,
			struct xlb_service_key *k)
{
	memset(k, 0, sizeof(*k));
	k->vip = s->vip.addr;
	k->port = htons(s->vip.port);
	k->proto = s->proto;
	k->family = s->vip.family;
}

static void service_value(const struct xlb_config_service *s,
			  struct xlb_service *v)
{
	memset(v, 0, sizeof(*v));
	v->snat = s->snat;
	v->id = s->id;
	v->algo = s->algo;
}

int xlb_txn_mark_backend_ports(const struct xlb_maps *m,
			       const struct xlb_config *c)
{
	int err = 0;

	for (size_t i = 0; i < c->n_svcs && !err; i++)
		for (size_t j = 0; j < c->svcs[i].n_backends && !err; j++)
			err = xlb_backend_port_mark(
				m, c->svcs[i].backends[j].ep.port,
				c->svcs[i].proto);
	return err;
}

/* xlb_service_ports[port]: what the services of c listen on there (the
 * backend bits stay as they are). */
static int write_port_bits(const struct xlb_maps *m,
			   const struct xlb_config *c, __u16 port)
{
	__u32 key = port;
	__u8 bits;

	if (bpf_map_lookup_elem(m->service_ports, &key, &bits))
		return -errno;
	bits &= ~XLB_PORT_SERVICE_BITS;
	for (size_t i = 0; i < c->n_svcs; i++)
		if (c->svcs[i].vip.port == port)
			bits |= xlb_port_bit(c->svcs[i].proto, false);
	return bpf_map_update_elem(m->service_ports, &key, &bits, BPF_ANY) ?
		       -errno :
		       0;
}

static int reset_cursor(const struct xlb_maps *m, __u32 id)
{
	struct xlb_cursor zero = {};

	return bpf_map_update_elem(m->cursors, &id, &zero, BPF_ANY) ? -errno :
								       0;
}

struct write_opts {
	bool force;    /* rewrite everything (rollback) */
	bool rollback; /* keep counters and cursors */
	const struct xlb_backend_conns *load; /* xlb_txn.load */
	bool redo_wlc; /* write every wlc table (xlb_txn.wlc_unsure) */
};

/* Append a line to the transaction's warnings (warn may be NULL); the
 * caller prints the first line after "xlb: warning: ", the next ones
 * start with it. */
#define WARN_NEXT "\nxlb: warning: "
static __attribute__((format(printf, 3, 4))) void
warn_add(char *warn, size_t warnlen, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (!warn || !warnlen)
		return;
	used = strlen(warn);
	if (used && used + strlen(WARN_NEXT) < warnlen) {
		strcpy(warn + used, WARN_NEXT);
		used += strlen(WARN_NEXT);
	}
	va_start(ap, fmt);
	vsnprintf(warn + used, warnlen - used, fmt, ap);
	va_end(ap);
}

/* Do s's backends have different non-zero weights?  *lo / *hi get the
 * smallest and largest. */
static bool weights_differ(const struct xlb_config_service *s, __u16 *lo,
			   __u16 *hi)
{
	*lo = *hi = 0;
	for (size_t j = 0; j < s->n_backends; j++) {
		__u16 w = s->backends[j].weight;

		if (!w)
			continue;
		if (!*lo || w < *lo)
			*lo = w;
		if (w > *hi)
			*hi = w;
	}
	return *lo != *hi;
}

/* Has a backend of s come or changed its weight since o? */
static bool weights_changed(const struct xlb_config_service *o,
			    const struct xlb_config_service *s)
{
	for (size_t j = 0; j < s->n_backends; j++) {
		const struct xlb_config_backend *ob =
			xlb_config_backend_find_near(o, &s->backends[j].ep, j);

		if (!ob || ob->weight != s->backends[j].weight)
			return true;
	}
	return false;
}

/* Is a an address of an interface of this network namespace? */
static bool address_local(const struct xlb_endpoint *a)
{
	struct ifaddrs *ifs, *i;
	bool found = false;

	if (getifaddrs(&ifs))
		return true; /* cannot tell: say nothing */
	for (i = ifs; i && !found; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr;

		if (!sa)
			continue;
		if (sa->sa_family == AF_INET && a->family == XLB_FAMILY_V4)
			found = !memcmp(&((const struct sockaddr_in *)sa)->sin_addr,
					&a->addr.ip4, 4);
		else if (sa->sa_family == AF_INET6 && a->family == XLB_FAMILY_V6)
			found = !memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr,
					a->addr.bytes, 16);
	}
	freeifaddrs(ifs);
	return found;
}

/* What the configuration says without being wrong: weights that algo rr
 * ignores (when they come, change or are read from a file) and, in a
 * file, a service without backends.  to->source: see txn.h. */
static void lint_service(const struct xlb_config *to,
			 const struct xlb_config_service *s,
			 const struct xlb_config_service *o_s, bool fresh,
			 const char *name, char *warn, size_t warnlen)
{
	char where[300] = "";
	__u16 lo, hi;

	if (to->source[0] && s->line)
		snprintf(where, sizeof(where), "%s:%d: ", to->source, s->line);
	if (s->algo == XLB_ALGO_RR && weights_differ(s, &lo, &hi) &&
	    (to->source[0] || fresh || o_s->algo != s->algo ||
	     weights_changed(o_s, s)))
		warn_add(warn, warnlen,
			 "%sservice %s: algo rr ignores the weights of its "
			 "backends (from %u to %u): each gets the same share; "
			 "--algo wrr (algo wrr in a file) makes them count",
			 where, name, lo, hi);
	/* (a VIP routed to the node, as with anycast, needs none: said
	 * once, when the service comes) */
	if (fresh && !address_local(&s->vip))
		warn_add(warn, warnlen,
			 "%sservice %s: its VIP is not an address of this "
			 "host: nothing answers ARP/ND for it, so only traffic "
			 "a router sends here reaches it (else: ip addr add "
			 "ADDR/32 dev IFACE, /128 for IPv6)",
			 where, name);
	if (!s->n_backends && to->source[0] && s->line)
		warn_add(warn, warnlen,
			 "%sservice %s has no backends: its new connections "
			 "are dropped (drop_no_backend) until one is added "
			 "(a backend line under it, or xlb backend add)",
			 where, name);
}

/* Make the maps hold `to` instead of `from` (see the order in txn.h);
 * gone (zeroed by the caller) gets the services that went. */
static int write_config(const struct xlb_maps *m, const struct xlb_config *from,
			struct xlb_config *to, __u64 now_ns,
			const struct write_opts *o, char *what, size_t whatlen,
			char *warn, size_t warnlen, __u8 *gone)
{
	char name[XLB_SPEC_MAXLEN + 8];
	bool any_gone = false;
	int err = 0;

	for (size_t i = 0; i < to->n_svcs; i++) {
		struct xlb_config_service *s = &to->svcs[i];
		const struct xlb_config_service *o_s =
			xlb_config_service_find(from, &s->vip, s->proto);
		struct xlb_service_key key;
		struct xlb_service val, old;
		bool fresh = !o_s || o_s->id != s->id, approx = false;
		__u32 *w = NULL;
		__u64 sig = 0;

		xlb_config_service_name(s, name, sizeof(name));
		if (fresh && !o->rollback) {
			err = reset_cursor(m, s->id);
			if (!err)
				err = xlb_traffic_clear(m->service_stats, s->id);
			if (err)
				return msg(what, whatlen, err,
					   "service %s: cannot reset its "
					   "counters",
					   name);
		}
		for (size_t j = 0; j < s->n_backends; j++) {
			const struct xlb_config_backend *b = &s->backends[j];
			const struct xlb_config_backend *ob =
				fresh ? NULL :
					xlb_config_backend_find_near(o_s,
								     &b->ep, j);
			struct xlb_backend v, ov;
			__u32 id = b->id;

			if (ob && ob->id != b->id)
				ob = NULL;
			backend_slot(s, b, &v);
			if (ob)
				backend_slot(o_s, ob, &ov);
			/* before the backend can be scheduled */
			err = xlb_backend_port_mark(m, b->ep.port, s->proto);
			if (!err && !ob && !o->rollback)
				err = xlb_traffic_clear(m->backend_stats, id);
			if (!err && (!ob || o->force || memcmp(&v, &ov, sizeof(v))) &&
			    bpf_map_update_elem(m->backends, &id, &v, BPF_ANY))
				err = -errno;
			if (err)
				return msg(what, whatlen, err,
					   "service %s: cannot write backend "
					   "%u",
					   name, id);
		}
		err = sched_inputs(s, o->load, now_ns, &w, &sig);
		if (!err &&
		    (fresh || o->force || o_s->sched_sig != sig ||
		     (o->redo_wlc && s->algo == XLB_ALGO_WLC)))
			err = install_schedule(m, s, w, &approx);
		free(w);
		if (err == -E2BIG && s->algo == XLB_ALGO_MH)
			return msg(what, whatlen, err,
				   "service %s: algo mh holds at most "
				   "%d live backends (its table's "
				   "slots): use algo wrr, or fewer "
				   "backends",
				   name, XLB_SCHED_MH_SLOTS);
		if (err)
			return msg(what, whatlen, err,
				   "service %s: cannot install its "
				   "schedule",
				   name);
		/* (wlc: weights of its own making, no news) */
		if (approx && s->algo != XLB_ALGO_WLC)
			warn_add(warn, warnlen,
				 "service %s: its weights need more "
				 "than %d schedule slots; they are "
				 "scaled (approximate)",
				 name,
				 s->algo == XLB_ALGO_MH ?
					 XLB_SCHED_MH_SLOTS :
					 XLB_SCHED_MAX_SLOTS);
		if (s->algo == XLB_ALGO_RR && s->slow_start_ms &&
		    (fresh || o_s->algo != s->algo ||
		     o_s->slow_start_ms != s->slow_start_ms))
			warn_add(warn, warnlen,
				 "service %s: slow-start does nothing with algo "
				 "rr (each backend has one slot, whatever its "
				 "weight): use algo wrr",
				 name);
		if (!o->rollback)
			lint_service(to, s, o_s, fresh, name, warn, warnlen);
		s->sched_sig = sig;
		service_key(s, &key);
		service_value(s, &val);
		if (fresh || o->force ||
		    bpf_map_lookup_elem(m->services, &key, &old) ||
		    memcmp(&old, &val, sizeof(val))) {
			if (bpf_map_update_elem(m->services, &key, &val,
						BPF_ANY))
				return msg(what, whatlen, -errno,
					   "service %s: cannot write its entry",
					   name);
		}
		err = write_port_bits(m, to, s->vip.port);
		if (err)
			return msg(what, whatlen, err,
				   "service %s: cannot write its port", name);
	}
	/* services that go: entry first, then ports, then the rest */
	for (size_t i = 0; i < from->n_svcs; i++) {
		const struct xlb_config_service *o_s = &from->svcs[i];
		const struct xlb_config_service *s =
			xlb_config_service_find(to, &o_s->vip, o_s->proto);
		struct xlb_service_key key;

		if (s && s->id == o_s->id)
			continue;
		xlb_bit_set(gone, o_s->id);
		any_gone = true;
		service_key(o_s, &key);
		if (!s && bpf_map_delete_elem(m->services, &key) &&
		    errno != ENOENT)
			return msg(what, whatlen, -errno,
				   "service %s: cannot delete its entry",
				   xlb_config_service_name(o_s, name,
							   sizeof(name)));
	}
	for (size_t i = 0; i < from->n_svcs && any_gone; i++) {
		const struct xlb_config_service *o_s = &from->svcs[i];

		if (!xlb_bit_test(gone, o_s->id))
			continue;
		err = write_port_bits(m, to, o_s->vip.port);
		if (err)
			return msg(what, whatlen, err, "cannot write port %u",
				   o_s->vip.port);
	}
	for (size_t i = 0; i < from->n_svcs && any_gone; i++) {
		const struct xlb_config_service *o_s = &from->svcs[i];
		__u32 id = o_s->id;
		bool reused = false;

		if (!xlb_bit_test(gone, id))
			continue;
		/* (a rollback may hand the id straight back) */
		for (size_t k = 0; k < to->n_svcs; k++)
			reused |= to->svcs[k].id == id;
		if (!reused && bpf_map_delete_elem(m->schedules, &id) &&
		    errno != ENOENT)
			return msg(what, whatlen, -errno,
				   "service %s: cannot delete its schedule",
				   xlb_config_service_name(o_s, name,
							   sizeof(name)));
		for (size_t j = 0; j < o_s->n_backends && !reused; j++) {
			err = clear_backend(m, o_s->backends[j].id);
			if (err)
				return msg(what, whatlen, err,
					   "cannot clear backend %u",
					   o_s->backends[j].id);
		}
	}
	/* backends that left a kept service */
	for (size_t i = 0; i < to->n_svcs; i++) {
		const struct xlb_config_service *s = &to->svcs[i];
		const struct xlb_config_service *o_s =
			xlb_config_service_find(from, &s->vip, s->proto);

		if (!o_s || o_s->id != s->id)
			continue;
		for (size_t j = 0; j < o_s->n_backends; j++) {
			const struct xlb_config_backend *ob = &o_s->backends[j];
			const struct xlb_config_backend *b =
				xlb_config_backend_find_near(s, &ob->ep, j);

			if (b && b->id == ob->id)
				continue;
			err = clear_backend(m, ob->id);
			if (err)
				return msg(what, whatlen, err,
					   "cannot clear backend %u", ob->id);
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Apply                                                               */
/* ------------------------------------------------------------------ */

static unsigned int held_ids(const struct xlb_txn *t)
{
	unsigned int n = 0;

	for (size_t i = 0; i < sizeof(t->held); i++)
		n += __builtin_popcount(t->held[i]);
	return n;
}

static int alloc_id(__u32 *cursor, __u32 max, bool *wrapped,
		    const __u8 *used, const __u8 *referenced, __u32 *out)
{
	for (__u32 tries = 0; tries < max; tries++) {
		__u32 id = *cursor;

		if (++*cursor == max) {
			*cursor = 0;
			*wrapped = true;
		}
		if (xlb_bit_test(used, id) || (referenced && xlb_bit_test(referenced, id)))
			continue;
		*out = id;
		return 0;
	}
	return -ENOSPC;
}

static bool in_rotation(const struct xlb_config_backend *b)
{
	return b->weight && !b->drain && !b->down;
}

/* Inherit ids and health state from cur for what has none yet; a backend
 * that comes back into rotation (undrained, a weight from 0, a health
 * check's up, by command or reload) starts its slow start at now_ns. */
static void inherit(const struct xlb_txn *t, const struct xlb_config *cur,
		    struct xlb_config *next, __u64 now_ns)
{
	for (size_t i = 0; i < next->n_svcs; i++) {
		struct xlb_config_service *s = &next->svcs[i];
		const struct xlb_config_service *o = NULL;

		if (s->id == XLB_ID_NONE) {
			o = xlb_config_service_find(cur, &s->vip, s->proto);
			s->id = o ? o->id : XLB_ID_NONE;
			s->sched_sig = o ? o->sched_sig : 0;
		} else {
			o = xlb_config_service_find(cur, &s->vip, s->proto);
		}
		for (size_t j = 0; j < s->n_backends; j++) {
			struct xlb_config_backend *b = &s->backends[j];
			const struct xlb_config_backend *ob;

			if (b->id == XLB_ID_NONE) {
				ob = o ? xlb_config_backend_find_near(o, &b->ep,
								      j) :
					 NULL;
				if (ob) {
					b->id = ob->id;
					b->down = ob->down;
					b->up_since_ns = ob->up_since_ns;
				} else {
					b->down = o && s->health &&
						  t->new_backends_down;
					b->up_since_ns = 0;
				}
			}
			if (!s->health)
				b->down = false;
			ob = o ? xlb_config_backend_find_near(o, &b->ep, j) :
				 NULL;
			if (s->slow_start_ms && ob && !in_rotation(ob) &&
			    in_rotation(b))
				b->up_since_ns = now_ns;
		}
	}
}

int xlb_txn_apply(struct xlb_txn *t, const struct xlb_config *cur,
		  struct xlb_config *next, __u64 now_ns, char *err,
		  size_t errlen, char *warn, size_t warnlen)
{
	struct write_opts fwd = { .load = t->load,
				  .redo_wlc = t->wlc_unsure },
			  back = { .force = true, .rollback = true,
				   .load = t->load };
	__u8 gone[XLB_MAX_SERVICES / 8] = {};
	struct idset *used, *ref = NULL;
	struct xlb_config undo;
	char what[256] = "";
	int rc = 0;

	if (warn && warnlen)
		warn[0] = 0;
	used = calloc(1, sizeof(*used));
	if (!used)
		return msg(err, errlen, -ENOMEM, "out of memory");
	inherit(t, cur, next, now_ns);
	/* ids whose connections are still being flushed */
	memcpy(used->services, t->held, sizeof(t->held));
	for (int pass = 0; pass < 2; pass++) {
		const struct xlb_config *c = pass ? next : cur;

		for (size_t i = 0; i < c->n_svcs; i++) {
			const struct xlb_config_service *s = &c->svcs[i];

			if (s->id < XLB_MAX_SERVICES)
				xlb_bit_set(used->services, s->id);
			for (size_t j = 0; j < s->n_backends; j++)
				if (s->backends[j].id < XLB_MAX_BACKENDS)
					xlb_bit_set(used->backends,
						s->backends[j].id);
		}
	}
	for (size_t i = 0; i < next->n_svcs && !rc; i++) {
		struct xlb_config_service *s = &next->svcs[i];

		for (int step = 0; step <= (int)s->n_backends && !rc; step++) {
			bool is_svc = step == 0;
			__u32 *id = is_svc ? &s->id : &s->backends[step - 1].id;
			bool *wrapped = is_svc ? &t->service_wrapped :
						 &t->backend_wrapped;

			if (*id != XLB_ID_NONE)
				continue;
			if (*wrapped && !ref) {
				ref = calloc(1, sizeof(*ref));
				rc = ref ? referenced_ids(t->m, ref, NULL, NULL) :
					   -ENOMEM;
				if (rc) {
					msg(err, errlen, rc,
					    "cannot read the flow table: %s",
					    strerror(-rc));
					break;
				}
			}
			if (is_svc)
				rc = alloc_id(&t->next_service_id,
					      XLB_MAX_SERVICES, wrapped,
					      used->services,
					      *wrapped ? ref->services : NULL,
					      id);
			else
				rc = alloc_id(&t->next_backend_id,
					      XLB_MAX_BACKENDS, wrapped,
					      used->backends,
					      *wrapped ? ref->backends : NULL,
					      id);
			if (rc == -ENOSPC && is_svc && held_ids(t))
				msg(err, errlen, rc,
				    "no free service id: at most %d services, "
				    "and %u of the ids wait%s until the "
				    "connections of removed services are "
				    "flushed (a sweep of the flow table; try "
				    "again in a moment)",
				    XLB_MAX_SERVICES, held_ids(t),
				    held_ids(t) == 1 ? "s" : "");
			else if (rc == -ENOSPC)
				msg(err, errlen, rc,
				    is_svc ? "no free service id: at most %d "
					     "services" :
					     "no free backend id: %d are in use "
					     "or named by tracked connections",
				    is_svc ? XLB_MAX_SERVICES :
					     XLB_MAX_BACKENDS);
			else if (!rc)
				xlb_bit_set(is_svc ? used->services :
						 used->backends,
					*id);
		}
	}
	free(used);
	free(ref);
	if (rc)
		return rc;
	rc = write_config(t->m, cur, next, now_ns, &fwd, what, sizeof(what),
			  warn, warnlen, gone);
	if (!rc) {
		t->wlc_unsure = false;
		to_flush(t, gone);
		/* its warnings are said: the running configuration is not
		 * the file's any more (changes at run time are not) */
		next->source[0] = 0;
		return 0;
	}
	msg(err, errlen, rc, "%s: %s (the previous configuration is restored)",
	    what, strerror(-rc));
	/* the rollback builds the wlc tables from the counts of now, which
	 * cur's signatures do not say: the next apply writes them again */
	t->wlc_unsure = true;
	if (xlb_config_copy(&undo, cur))
		return rc;
	/* the services of next that go again may have had connections */
	memset(gone, 0, sizeof(gone));
	write_config(t->m, next, &undo, now_ns, &back, what, sizeof(what),
		     NULL, 0, gone);
	to_flush(t, gone);
	xlb_config_free(&undo);
	return rc;
}

void xlb_txn_release(struct xlb_txn *t)
{
	for (size_t i = 0; i < sizeof(t->held); i++)
		t->held[i] = t->flush[i];
}
