/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Schedule-table builder: turns the backends of one service into the slot
 * sequence that the XDP program walks with table[cursor++ % len] (rr, wrr)
 * or indexes with table[hash(client address) % len] (mh).
 */
#ifndef XLB_SCHED_H
#define XLB_SCHED_H

#include <stdbool.h>
#include <stddef.h>

#include "xlb_abi.h" /* enum xlb_algo, XLB_SCHED_MAX_SLOTS */

/* One backend of a service, as the builder sees it. */
struct xlb_sched_backend {
	__u32 id; /* backend id written into the table */
	__u16 weight; /* 0..65535; 0 = drain: never scheduled */
	bool live; /* false = down (health check) or otherwise excluded */
	__u64 ident; /* mh: xlb_sched_ident() of the backend: its slots
		      * depend on it, not on id or position */
};

/* The length of an mh table built with max_slots XLB_SCHED_MAX_SLOTS
 * (the largest prime at most 65536): also the most live backends mh
 * takes. */
#define XLB_SCHED_MH_SLOTS 65521

/* A backend's identity for mh: a hash of its address and port, so that
 * a backend keeps its slots when others come and go. */
__u64 xlb_sched_ident(const struct xlb_addr *addr, __u16 port);

/*
 * Build the slot sequence of one service into slots[0..max_slots-1].
 * Only backends that are live with weight > 0 are scheduled.
 *
 * XLB_ALGO_RR:  each scheduled backend exactly once, in input order.
 * XLB_ALGO_WRR: one full period of nginx's smooth weighted round-robin
 *   (for every backend current += weight; pick the largest current, the
 *   first in input order on ties; the chosen one does current -= total),
 *   weights divided by their gcd first, so the period is sum(w) / gcd(w)
 *   and each backend appears exactly w / gcd(w) times: 5,1,1 gives
 *   a a b a c a a.  If that period exceeds max_slots, the weights are
 *   scaled to sum exactly max_slots (largest remainder; a backend whose
 *   share is below one slot gets one slot, the others share the rest in
 *   proportion), divided by their gcd again, and *approx is set.
 * XLB_ALGO_WLC: as XLB_ALGO_WRR (the weights are xlb_sched_wlc()'s).
 * XLB_ALGO_MH: Maglev: a table of M slots, M the largest prime at most
 *   max_slots (65521 at the cap), each slot the backend whose permutation
 *   (from its ident) reached it first, the backends taking turns in the
 *   smooth WRR order of their weights (scaled as for wrr, to sum M at
 *   most).  Each backend holds its weight's share of M to within a slot
 *   or two.  One backend scheduled: a table of one slot.
 *
 * A max_slots above XLB_SCHED_MAX_SLOTS (the table's capacity) counts as
 * XLB_SCHED_MAX_SLOTS.  approx may be NULL; on success it is set to
 * whether the table only approximates the weights.  in and slots may be
 * NULL only when n is 0.  slots is not touched on error.  Building takes
 * O(len * d + n log n) time, d the number of distinct (reduced) weights,
 * d <= sqrt(2 * len): a few ms for 1024 backends and 65536 slots.
 *
 * Returns the number of slots written (0 when no backend is live with
 * weight > 0), -EINVAL for bad arguments (NULL pointer with n > 0,
 * max_slots 0, unknown algo), -E2BIG when more backends are scheduled
 * than max_slots can hold once each, or -ENOMEM.  Never prints.
 */
int xlb_sched_build(enum xlb_algo algo, const struct xlb_sched_backend *in,
		    size_t n, __u32 *slots, size_t max_slots, bool *approx);

/* xlb_sched_wlc() hands out weights that sum to about this much at
 * least (the resolution of the shares). */
#define XLB_SCHED_WLC_MIN 4096

/*
 * Weighted least-connection (algo wlc): the table weights that bring the
 * connections per unit of weight of n backends to one level.  weight[i]
 * is backend i's weight (0: not scheduled: down, drained, weight 0),
 * conns[i] the connections it holds now; out[i] (may be weight) gets its
 * table weight, 0 for one at or above the level.
 *
 * The new connections until the next count are taken to be as many as
 * those held now (at least one per scheduled backend), and poured into
 * the backends below the level, lowest first (water-filling): each gets
 * share = level * weight - conns of them, and the table weight
 * share / poured * T, rounded, at least 1, at most 65535, where T is the
 * sum W of the scheduled weights times the least whole number that makes
 * it XLB_SCHED_WLC_MIN or more.  So a table kept until the next count
 * moves the backends toward the level without overshooting it; with no
 * connections held (or all at one level) the weights come out as
 * weight[] times T / W: exactly wrr's table (while W fits 65535 for each).
 *
 * 0, -EINVAL (NULL pointer with n > 0) or -ENOMEM.  Never prints.
 */
int xlb_sched_wlc(const __u32 *weight, const __u64 *conns, size_t n,
		  __u32 *out);

/* Parse "rr", "wrr", "mh" or "wlc" (exact, lower case) into *algo: 0 or
 * -EINVAL. */
int xlb_algo_parse(const char *s, enum xlb_algo *algo);

/* Name of an algorithm as xlb_algo_parse() accepts it; "unknown" for a
 * value outside enum xlb_algo (never NULL). */
const char *xlb_algo_name(enum xlb_algo algo);

#endif /* XLB_SCHED_H */
