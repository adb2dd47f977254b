/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The daemon's connection expiry, in a thread of its own.
 *
 * A sweep reads the whole of both flow tables (xlb_conn_expire_all): with
 * a million connections that is 1-2 s of CPU, which in the daemon's poll
 * loop held up health checks, control commands and metrics scrapes for as
 * long, every 2 s.  Here it runs beside them, every XLB_SWEEP_INTERVAL_NS,
 * or XLB_SWEEP_DUTY times the last sweep's duration if that is longer (at
 * most 1 / XLB_SWEEP_DUTY of a CPU), unless xlb_flows is more than
 * XLB_SWEEP_FULL_PCT % full: then every XLB_SWEEP_INTERVAL_NS again, as
 * idle connections must go.  The thread touches only the maps (by fd) and
 * its own copy of the timeouts; a failed sweep is logged (the first of a
 * run of failures, and the recovery) and counted.  A sweep also counts
 * the connections it keeps, per backend and state (xlb_sweeper_conns:
 * what xlb show and the metrics give as active and inactive).
 *
 * It also flushes the connections of removed services (xlb_sweeper_flush):
 * a request starts a sweep at once, which removes them whatever their
 * state; with a million connections that is seconds, which in the
 * transaction that removed the service held up the daemon.  Until the
 * flush is done (xlb_sweeper_flushed) their service ids must not be given
 * to new services: the sweep would take the new ones' connections too.
 */
#ifndef XLB_SWEEPER_H
#define XLB_SWEEPER_H

#include <stdbool.h>
#include <linux/types.h>
#include "conntrack.h"

#define XLB_SWEEP_INTERVAL_NS (2 * XLB_NS_PER_SEC)
#define XLB_SWEEP_DUTY 10
#define XLB_SWEEP_FULL_PCT 80

struct xlb_maps;
struct xlb_sweeper;

/* What the sweeps did so far. */
struct xlb_sweep_stats {
	__u64 sweeps;      /* sweeps done, failed ones included */
	__u64 errors;      /* sweeps that failed (last_err) */
	__u64 removed;     /* connections expired, all sweeps */
	__u64 flushed;     /* connections of removed services, all sweeps */
	__u64 conns;       /* connections walked by the last sweep */
	/* entries left in xlb_flows and xlb_embryos by the last sweep that
	 * succeeded (counted == true): what it read, less what it removed */
	__u64 flow_entries, half_open_entries;
	bool counted;
	__u64 last_ns;     /* how long the last sweep took */
	__u64 interval_ns; /* from the last sweep's start to the next's */
	int last_err;      /* the last sweep's error (-errno), 0 if none */
};

/* Start sweeping the tables of m (which must outlive the sweeper) with
 * the timeouts t (copied).  The thread blocks every signal: they stay the
 * caller's.  0 or -errno. */
int xlb_sweeper_start(struct xlb_sweeper **out, const struct xlb_maps *m,
		      const struct xlb_timeouts *t);
/* New timeouts, from the next sweep on. */
void xlb_sweeper_set_timeouts(struct xlb_sweeper *s,
			      const struct xlb_timeouts *t);
void xlb_sweeper_stats(struct xlb_sweeper *s, struct xlb_sweep_stats *st);
/* The connections of every backend (out: XLB_MAX_BACKENDS counts, by
 * backend id) as the last sweep left them (see xlb_sweep_args.conns):
 * true; false (out untouched) before the first sweep that succeeded and
 * after one that failed, so that no stale counts are shown.  They lag by
 * up to a sweep interval (interval_ns). */
bool xlb_sweeper_conns(struct xlb_sweeper *s, struct xlb_backend_conns *out);
/* Remove every connection of the services set in services (a bitmap of
 * XLB_MAX_SERVICES ids): a sweep starts now (or after the one under way).
 * A sweep that fails keeps them for the next. */
void xlb_sweeper_flush(struct xlb_sweeper *s, const __u8 *services);
/* Has every flush asked for so far been done? */
bool xlb_sweeper_flushed(struct xlb_sweeper *s);
/* Before and after each transaction of t: give back the ids of removed
 * services whose flush is done (xlb_txn_release), then hand t's new
 * flushes on.  s may be NULL (not started): t keeps them meanwhile. */
struct xlb_txn;
void xlb_sweeper_sync(struct xlb_sweeper *s, struct xlb_txn *t);
/* Without the thread, in the caller's: remove the connections of t's
 * services to flush and give their ids back (a daemon's start, before
 * its first transaction: the ids of services that no longer exist would
 * otherwise stay held until the thread runs).  *flushed (may be NULL):
 * connections removed.  Only while no sweeper has flushes of t under
 * way: every held id comes back.  0; or -errno, or -EAGAIN if the tables
 * were not read whole, with the flush left in t. */
int xlb_sweeper_flush_now(const struct xlb_maps *m, struct xlb_txn *t,
			  __u64 *flushed);
/* Stop (a sweep under way ends within a batch of the walk) and free;
 * NULL is fine. */
void xlb_sweeper_stop(struct xlb_sweeper *s);

#endif
