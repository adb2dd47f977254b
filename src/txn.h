/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Configuration transactions: turn the running configuration into a new
 * one by writing only the difference into the maps, in an order that
 * never shows a new flow half a change:
 *
 *   for each service of the new configuration:
 *     its backend slots (new ones, changed weights/flags), then its
 *     schedule table swapped in as a new inner map (only if what it is
 *     built from changed), then the service entry, then its port bit;
 *   then for each service that goes: its service entry is deleted, the
 *     port bits recomputed, its schedule and backend slots cleared, and
 *     its id put in `flush` for the caller to have its connections
 *     removed (a walk of the flow tables: seconds with a million
 *     connections, which the caller runs beside its other work);
 *   then the slots of the backends that left a kept service are cleared
 *     (their service's table no longer names them, and the swap waited for
 *     every program still using the old table).
 *
 * Established flows never move: they carry their backend's address, and a
 * backend id is never given again while a flow may still name it (ids are
 * allocated in increasing order, wrapping around XLB_MAX_BACKENDS only past
 * ids that no tracked flow uses), and a removed service's id is not given
 * again until the caller says its flush is done.  Scheduling cursors are kept, so the
 * smooth WRR sequence of a service continues across weight changes; a new
 * service starts its cursor at 0.  A removed backend's flows go on until
 * they end or expire.
 *
 * Nothing here prints; functions return 0 or -errno with one message in
 * err naming the object and the cause.
 */
#ifndef XLB_TXN_H
#define XLB_TXN_H

#include "config.h"
#include "conntrack.h"
#include "maps.h"

struct xlb_txn {
	const struct xlb_maps *m;
	__u32 next_backend_id; /* allocation cursors */
	__u32 next_service_id;
	bool backend_wrapped; /* a cursor went round: ask the flow table */
	bool service_wrapped;
	/* New backends of a service that already ran, when the service has
	 * health checks, start down (until `rise` checks pass). */
	bool new_backends_down;
	/* Services whose connections must go (removed, or named by tracked
	 * connections but not by the configuration at init): the caller
	 * flushes them and clears this.  Their ids stay `held` (not given to
	 * new services) until xlb_txn_release. */
	__u8 flush[XLB_MAX_SERVICES / 8];
	__u8 held[XLB_MAX_SERVICES / 8];
	/* algo wlc: the connections each backend id holds (XLB_MAX_BACKENDS
	 * entries, the last count of the daemon's sweeper), or NULL: none
	 * counted yet, and wlc tables follow the weights alone (wrr).  A
	 * new count changes the tables at the next xlb_txn_apply. */
	const struct xlb_backend_conns *load;
	/* a failed apply's rollback wrote the wlc tables for load, which
	 * the running configuration's signatures may not say: the next
	 * apply writes every wlc table, and xlb_txn_wlc_stale says so */
	bool wlc_unsure;
};

/* Allocation cursors past every id in use in cur or named by a tracked
 * flow (one walk of the flow tables); services that tracked flows name
 * but cur does not go into flush.  0 or -errno. */
int xlb_txn_init(struct xlb_txn *t, const struct xlb_maps *m,
		 const struct xlb_config *cur);

/*
 * The running configuration as the maps hold it (services, backends, ids,
 * weights, drain and down flags, SNAT addresses); the global settings are
 * defaults.  Services in id order, backends in id order.  Backend slots
 * that name no service are skipped: xlb_txn_read writes nothing (a
 * command reading without the daemon, which may be in the middle of a
 * transaction that writes backends before their service).
 * xlb_txn_read_tidy, for a daemon that adopts pinned state and holds the
 * instance, also clears those slots and the schedule tables of removed
 * services: what an interrupted transaction left.
 */
int xlb_txn_read(const struct xlb_maps *m, struct xlb_config *c);
int xlb_txn_read_tidy(const struct xlb_maps *m, struct xlb_config *c);

/* Mark the port of every backend of c (xlb_backend_port_mark): for a
 * daemon that adopts state a build without those marks made.  0 or
 * -errno. */
int xlb_txn_mark_backend_ports(const struct xlb_maps *m,
			       const struct xlb_config *c);

/*
 * Make the maps hold next instead of cur.  Services and backends of next
 * that are in cur (same VIP:port/proto; same address:port) keep their ids
 * and health state; the others get new ids.  next's run-time fields are
 * filled in (ids, down, sched_sig); each service's snat must be set by the
 * caller.  now_ns is for slow start.  Validation (ids available) happens
 * before anything is written; if a write fails, cur is written back and
 * the error returned.  warn (may be NULL) gets warnings, e.g. approximate
 * weights, "" if none: also, for a configuration read from a file or the
 * command line (next->source set: at start and reload), every rr service
 * whose backends have different weights and, from a file, every service
 * without backends (naming SOURCE:LINE); for a change at run time, an rr
 * service whose weights came or changed.  next->source is cleared on
 * success.  Warnings are one a line; the lines after the first start
 * with "xlb: warning: " (the caller prints that before the first).
 */
int xlb_txn_apply(struct xlb_txn *t, const struct xlb_config *cur,
		  struct xlb_config *next, __u64 now_ns, char *err,
		  size_t errlen, char *warn, size_t warnlen);

/* Every flush handed on so far is done: give the held ids back (those
 * still in flush stay held). */
void xlb_txn_release(struct xlb_txn *t);

/* The weights service s's schedule table is built from at now_ns, one
 * per backend into w (s->n_backends entries): the effective weights
 * (times the ramp's scale while one ramps), and for algo wlc with counts
 * (load, as xlb_txn.load), those of the live backends levelled by the
 * connections they hold (xlb_sched_wlc).  0 or -ENOMEM. */
int xlb_txn_table_weights(const struct xlb_config_service *s,
			  const struct xlb_backend_conns *load, __u64 now_ns,
			  __u32 *w);

/* Would xlb_txn_apply(t, cur, a copy of cur, now_ns) write the schedule
 * table of a wlc service of cur (its weights for t->load changed)?  On
 * error (no memory): true. */
bool xlb_txn_wlc_stale(const struct xlb_txn *t, const struct xlb_config *cur,
		       __u64 now_ns);

/* Effective weight of a backend now (drain 0, slow start ramp). */
__u32 xlb_txn_effective_weight(const struct xlb_config_service *s,
			       const struct xlb_config_backend *b,
			       __u64 now_ns);

/* When the effective weight of some backend of c next changes (slow
 * start), 0 if never. */
__u64 xlb_txn_next_ramp_ns(const struct xlb_config *c, __u64 now_ns);

#endif /* XLB_TXN_H */
