/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Connection tracking in user space: state of a pair, expiry, listing. */
#ifndef XLB_CONNTRACK_H
#define XLB_CONNTRACK_H

#include <stdbool.h>
#include "xlb_abi.h"

#define XLB_NS_PER_SEC 1000000000ULL

/* Idle timeouts per state (nanoseconds). */
struct xlb_timeouts {
	__u64 syn_ns;         /* handshake not complete (syn_sent, syn_recv) */
	__u64 established_ns; /* both sides have spoken */
	__u64 closing_ns;     /* FIN seen in one direction */
	__u64 closed_ns;      /* RST seen, or FIN in both directions */
	__u64 udp_ns;         /* UDP */
};

/* Defaults close to IPVS / Cilium. */
#define XLB_TIMEOUTS_DEFAULT                                               \
	{ .syn_ns = 60 * XLB_NS_PER_SEC,                                   \
	  .established_ns = 6 * 3600 * XLB_NS_PER_SEC,                     \
	  .closing_ns = 120 * XLB_NS_PER_SEC,                              \
	  .closed_ns = 10 * XLB_NS_PER_SEC,                                \
	  .udp_ns = 300 * XLB_NS_PER_SEC }

/* One connection: its client->backend entry and (if present) its
 * backend->client entry. */
struct xlb_conn {
	struct xlb_flow_key key; /* client -> VIP */
	struct xlb_flow fwd;
	struct xlb_flow rev; /* zero if missing */
	bool has_rev;
	bool half_open; /* the pair is in xlb_embryos */
};

enum xlb_tcp_state xlb_conn_state(const struct xlb_conn *c);
const char *xlb_conn_state_name(enum xlb_tcp_state s);
/* Last packet in either direction. */
__u64 xlb_conn_last_seen_ns(const struct xlb_conn *c);
__u64 xlb_conn_timeout_ns(const struct xlb_conn *c,
			  const struct xlb_timeouts *t);

/* Call cb for every connection in the table flows_fd (snapshot): the
 * pairs (from their client->backend entry), then the backend->client
 * entries without a partner; half_open says which table it is.  cb
 * returns 0 to go on, anything else stops the walk and is returned. */
int xlb_conn_walk(int flows_fd, bool half_open,
		  int (*cb)(const struct xlb_conn *c, void *ctx), void *ctx);

/* Remove both entries of a connection c (from a walk's snapshot) from the
 * table flows_fd, each only if it is still the same connection's (same
 * created_ns and rewritten tuple: a NAT port or client tuple may have been
 * reused since).  With idle, nothing is removed if either entry saw a
 * packet since the snapshot (-EBUSY).  0 if the client->VIP entry was
 * removed, -ENOENT if it was not there as seen (a half pair, the other
 * table, or since replaced), or another -errno. */
int xlb_conn_delete(int flows_fd, const struct xlb_conn *c, bool idle);

/* Remove c, a pair or a half pair, from whichever table holds it: 1 if an
 * entry of it was removed, 0 if none was there as seen, or -errno. */
struct xlb_maps;
int xlb_conn_remove(const struct xlb_maps *m, const struct xlb_conn *c);

/* Remove every connection idle longer than its state's timeout, and
 * half pairs older than closed_ns.  *removed counts connections. */
int xlb_conn_expire(int flows_fd, bool half_open,
		    const struct xlb_timeouts *t, __u64 now_ns, __u64 *removed);

/* What a sweep of both tables found and did. */
struct xlb_expire_counts {
	__u64 removed;           /* connections removed: idle too long */
	__u64 flushed;           /* connections removed: service flushed */
	__u64 conns;             /* connections walked */
	__u64 flow_entries;      /* entries of xlb_flows read, less removed */
	__u64 half_open_entries; /* likewise, xlb_embryos */
	/* a table was not read whole (it churned faster than the read), or
	 * a flush's delete failed: a flush must be done again */
	bool incomplete;
};

/* The connections of one backend as a sweep left them: ipvsadm's
 * ActiveConn and InActConn. */
struct xlb_backend_conns {
	__u32 active;   /* TCP established */
	__u32 inactive; /* the rest: TCP handshake, closing, closed; UDP */
};

/* What a sweep does. */
struct xlb_sweep_args {
	const struct xlb_timeouts *t; /* NULL: no expiry, a flush only */
	__u64 now_ns;
	/* bitmap of XLB_MAX_SERVICES service ids whose connections all go,
	 * whatever their state (removed services); NULL: none */
	const __u8 *flush;
	/* the walk ends with -ECANCELED soon after *cancel turns true
	 * (NULL: never) */
	const bool *cancel;
	/* NULL, or XLB_MAX_BACKENDS counts indexed by backend id, set by
	 * xlb_conn_expire_all: the connections the sweep kept (those it
	 * expired or flushed are not counted), by state.  Under churn a
	 * connection may be counted twice (promoted between the reads of
	 * the two tables, or moved within a table's read). */
	struct xlb_backend_conns *conns;
};

/* Expire both tables: half-open pairs (xlb_embryos, which is LRU-bounded
 * but expired all the same), then established ones (xlb_flows: a pair
 * promoted meanwhile is there before it leaves xlb_embryos, so a flush
 * misses none).  out (may be NULL) gets the counts, also on error (as far
 * as it went), and a->conns (if set) the connections kept per backend
 * (whole if it returns 0 and out->incomplete is false; a table that
 * churned faster than its read is counted as far as it was read). */
int xlb_conn_expire_all(const struct xlb_maps *m,
			const struct xlb_sweep_args *a,
			struct xlb_expire_counts *out);

/* Walk both tables (xlb_embryos, then xlb_flows: a pair promoted
 * meanwhile is seen in one or the other). */
int xlb_conn_walk_all(const struct xlb_maps *m,
		      int (*cb)(const struct xlb_conn *c, void *ctx),
		      void *ctx);

/* Mark the backend port of every tracked connection in
 * xlb_service_ports (xlb_backend_port_mark), for state that a build
 * without those marks made.  A program still running may create
 * connections meanwhile: the caller marks the ports of the backends it
 * can schedule (xlb_txn_mark_backend_ports) first.  *conns (may be
 * NULL): connections seen.  0 or -errno. */
int xlb_conn_mark_backend_ports(const struct xlb_maps *m, __u64 *conns);

/* CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns(). */
__u64 xlb_now_ns(void);

#endif
