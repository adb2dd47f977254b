/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Prometheus metrics: the text exposition format 0.0.4, rendered from a
 * snapshot, and an HTTP endpoint (libmicrohttpd) serving GET /metrics.
 *
 * Families rendered by xlb_metrics_render() (label values escaped: \\ \"
 * and \n; every family has its # HELP and # TYPE lines, even when empty):
 *   xlb_service_connections_total{vip="198.51.100.10:8000/tcp"}  counter
 *   xlb_service_packets_total{vip}                               counter
 *   xlb_service_bytes_total{vip}                                 counter
 *   xlb_backend_connections_total{vip,backend="198.51.100.11:8000"}
 *   xlb_backend_packets_total{vip,backend}                       counter
 *   xlb_backend_bytes_total{vip,backend}                         counter
 *   xlb_backend_up{vip,backend}          gauge, 1 passes health checks
 *   xlb_backend_weight{vip,backend}      gauge, configured weight
 *   xlb_backend_drained{vip,backend}     gauge, 1 out of rotation
 *   xlb_backend_current_connections{vip,backend,state="active"|"inactive"}
 *       gauge, the backend's connections as the daemon's last sweep
 *       counted them (has_conns: once a sweep has succeeded)
 *   xlb_packets_total{reason="fwd_to_backend"}   counter, one sample per
 *       verdict reason of enum xlb_stat (names of xlb_stat_names): they
 *       sum to the packets the XDP program received
 *   xlb_events_total{event="new_flow"}   counter, the enum xlb_stat
 *       entries after XLB_STAT_VERDICT_MAX (events, not packets)
 *   xlb_flows                            gauge, flow-table entries (two
 *       per tracked connection)
 *   xlb_half_open_flows                  gauge, half-open table entries
 *       (two per connection whose backend has not answered yet)
 *       (both as the sweeper's last successful sweep left them, once
 *       there is one: xlb_metrics_render_source)
 *   with has_sweep (the daemon's connection expiry, src/sweeper.h, once
 *   it has swept):
 *   xlb_conntrack_sweeps_total           counter, sweeps done
 *   xlb_conntrack_sweep_errors_total     counter, sweeps that failed
 *   xlb_conntrack_expired_total          counter, connections expired
 *   xlb_conntrack_sweep_connections      gauge, connections the last
 *       sweep walked
 *   xlb_conntrack_sweep_seconds          gauge, how long it took
 *   xlb_conntrack_sweep_interval_seconds gauge, from its start to the
 *       next sweep's (2 s, longer when sweeps are long)
 *
 * The server never prints.  It answers GET (and HEAD) /metrics with 200
 * and Content-Type "text/plain; version=0.0.4; charset=utf-8", with the
 * body written by the daemon's render callback; other methods on
 * /metrics get 405 (Allow: GET, HEAD), other paths 404, a render error
 * 500.  The query string is ignored.
 *
 * Two threading modes:
 *  - XLB_METRICS_THREAD (MHD_USE_INTERNAL_POLLING_THREAD with
 *    MHD_USE_AUTO, i.e. epoll): libmicrohttpd runs its own thread and
 *    calls render there; the callback must lock
 *    whatever it shares with the daemon's thread (the map reads of
 *    xlb_metrics_snapshot_read() are safe, the health engine is not).
 *  - XLB_METRICS_POLL (MHD_USE_EPOLL, no thread): the daemon polls
 *    xlb_metrics_fd() (an epoll fd) for POLLIN and calls
 *    xlb_metrics_process() when it is readable and at least every
 *    xlb_metrics_timeout_ms(); render runs in the daemon's thread inside
 *    xlb_metrics_process(), so no locking at all.  Recommended with the
 *    poll loop of xlb run.
 */
#ifndef XLB_METRICS_H
#define XLB_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "addr.h"
#include "maps.h"
#include "resend.h"
#include "sweeper.h"
#include "xlb_abi.h"

struct xlb_health;

/* Longest label value kept in a snapshot, with the NUL. */
#define XLB_METRICS_LABEL_MAX 128

#define XLB_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define XLB_METRICS_PATH "/metrics"

struct xlb_metrics_service {
	char vip[XLB_METRICS_LABEL_MAX]; /* "198.51.100.10:8000/tcp" */
	struct xlb_traffic traffic;
};

struct xlb_metrics_backend {
	char vip[XLB_METRICS_LABEL_MAX];     /* its service's label */
	char backend[XLB_METRICS_LABEL_MAX]; /* "198.51.100.11:8000" */
	struct xlb_traffic traffic;
	__u32 id; /* backend id */
	__u32 weight;
	bool up;
	bool drained; /* out of rotation by drain or weight 0 */
	/* connections as the daemon's last sweep counted them (the
	 * snapshot's has_conns) */
	__u32 active_conns, inactive_conns;
};

/* What one scrape shows.  Arrays are owned by whoever filled them:
 * xlb_metrics_snapshot_free() frees what xlb_metrics_snapshot_read()
 * allocated; a hand-built snapshot may point anywhere. */
struct xlb_metrics_snapshot {
	struct xlb_metrics_service *services;
	size_t n_services;
	struct xlb_metrics_backend *backends;
	size_t n_backends;
	__u64 stats[XLB_STAT_MAX]; /* by enum xlb_stat, summed over CPUs */
	__u64 flows;               /* entries in xlb_flows */
	__u64 half_open_flows;     /* entries in xlb_embryos */
	bool has_sweep;            /* the daemon's expiry: sweep below */
	struct xlb_sweep_stats sweep;
	bool has_conns; /* the backends' *_conns are set */
	bool has_resend;           /* the daemon's resends: below */
	struct xlb_resend_stats resend;
};

/*
 * Fill a snapshot from the maps: services and in-use backends (as
 * xlb_view_read(), by service id then backend id), their traffic, the
 * global counters, and the number of entries of the flow and half-open
 * tables (read in batches: a table of a million entries costs a few
 * hundred system calls).  A backend is up
 * if the health engine h (may be NULL) has a target with its id as user
 * id that is up; without such a target, if its map slot lacks
 * XLB_BACKEND_DOWN.  Backends whose service is missing (a change in
 * progress) are left out.  0 or -errno (then *out is empty).
 */
int xlb_metrics_snapshot_read(const struct xlb_maps *m,
			      const struct xlb_health *h,
			      struct xlb_metrics_snapshot *out);
void xlb_metrics_snapshot_free(struct xlb_metrics_snapshot *s);

/* Write the whole exposition of s to f.  0 or -EIO. */
int xlb_metrics_render(const struct xlb_metrics_snapshot *s, FILE *f);

/* Label value escaping of the text format: \ -> \\, " -> \", newline ->
 * \n.  0, or -ENOSPC if out (len bytes) is too small (out is then ""). */
int xlb_metrics_escape(const char *in, char *out, size_t len);

/* A ready-made render callback: ctx is a struct xlb_metrics_source; it
 * reads a snapshot and renders it.  In XLB_METRICS_THREAD mode give it no
 * health engine (or lock around it yourself). */
struct xlb_metrics_source {
	const struct xlb_maps *maps;
	const struct xlb_health *health; /* may be NULL */
	/* the daemon's sweeper, once it runs (may be NULL, or point at
	 * NULL): its figures are rendered too, and the connections per
	 * backend it counted */
	struct xlb_sweeper *const *sweeper;
	/* the daemon's sends of packets for unresolved next hops (may be
	 * NULL; read in the poll loop, where they are counted) */
	const struct xlb_resend_stats *resend;
};
int xlb_metrics_render_source(void *ctx, FILE *f);

enum xlb_metrics_mode {
	XLB_METRICS_THREAD = 0, /* libmicrohttpd's own thread */
	XLB_METRICS_POLL = 1,   /* the daemon's poll loop */
};

struct xlb_metrics_opts {
	struct xlb_endpoint listen; /* IPv4 or IPv6; port 0 = ephemeral */
	enum xlb_metrics_mode mode;
	/* Writes the body to f; returns 0, or -errno for a 500. */
	int (*render)(void *ctx, FILE *f);
	void *ctx;
};

struct xlb_metrics;

/*
 * Bind, listen and start serving.  The listening socket has SO_REUSEADDR
 * (and IPV6_V6ONLY for IPv6).  0, or -EINVAL (options), -EADDRINUSE,
 * -EADDRNOTAVAIL, -EACCES... (from socket/bind/listen), -ENOTSUP (mode
 * not available in this libmicrohttpd) or -EIO (libmicrohttpd refused to
 * start).
 */
int xlb_metrics_start(const struct xlb_metrics_opts *o,
		      struct xlb_metrics **out);
/* Stop: closes the listening socket and every connection; in THREAD
 * mode joins the thread (a render in progress finishes first).  NULL is
 * fine. */
void xlb_metrics_stop(struct xlb_metrics *s);

/* Port actually bound (host order), e.g. after port 0. */
__u16 xlb_metrics_port(const struct xlb_metrics *s);

/* POLL mode: the fd to poll for POLLIN (-EINVAL in THREAD mode). */
int xlb_metrics_fd(const struct xlb_metrics *s);
/* POLL mode: the longest the daemon may wait before calling
 * xlb_metrics_process() (connection timeouts), -1 = no limit. */
int xlb_metrics_timeout_ms(const struct xlb_metrics *s);
/* POLL mode: serve what is ready, without blocking.  0 or -EINVAL (THREAD
 * mode) or -EIO. */
int xlb_metrics_process(struct xlb_metrics *s);

#endif /* XLB_METRICS_H */
