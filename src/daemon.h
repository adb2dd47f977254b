/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The xlb run daemon: it owns the running configuration of one interface
 * and applies every change to it as a transaction (txn.h), runs the
 * health checks, serves the control socket (ctl.h) and the metrics, keeps
 * next hops resolved and expires connections.  It is the command layer
 * of `xlb run`: it prints its log on stdout and its errors on stderr.
 *
 * Lifetime: the data path (maps and XDP link, pinned) outlives the daemon.
 * SIGTERM and SIGINT end the daemon and leave the data path attached and
 * pinned, so that a restart or an upgrade loses no connection; `xlb stop`
 * detaches and removes everything.  SIGHUP reloads the configuration
 * file, as `xlb reload` does.
 */
#ifndef XLB_DAEMON_H
#define XLB_DAEMON_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "health.h"
#include "loader.h"
#include "maps.h"
#include "metrics.h"
#include "resend.h"
#include "show.h"
#include "txn.h"

#define XLB_DAEMON_EVENTS 32 /* health transitions kept for show */

/* Settings given on the xlb run command line: they win over the file's,
 * at start and at every reload. */
enum xlb_override {
	XLB_OV_SNAT4 = 1 << 0,
	XLB_OV_SNAT6 = 1 << 1,
	XLB_OV_MAX_FLOWS = 1 << 2,
	XLB_OV_MAX_HALF_OPEN = 1 << 3,
	XLB_OV_NAT_PORTS = 1 << 4,
	XLB_OV_XDP_MODE = 1 << 5,
	XLB_OV_TIMEOUT_SYN = 1 << 6,
	XLB_OV_TIMEOUT_ESTABLISHED = 1 << 7,
	XLB_OV_TIMEOUT_CLOSING = 1 << 8,
	XLB_OV_TIMEOUT_CLOSED = 1 << 9,
	XLB_OV_TIMEOUT_UDP = 1 << 10,
	XLB_OV_METRICS = 1 << 11,
};

/* What xlb run was asked for. */
struct xlb_run_opts {
	const char *ifname;    /* -i, NULL: the file's interface */
	const char *conf_path; /* -c FILE, NULL: none */
	struct xlb_config cli; /* --vip/--backends services, settings */
	bool cli_services;     /* services came from --vip */
	unsigned int given;    /* enum xlb_override bits set in cli */
};

struct xlb_health_change {
	__u64 id;
	bool up;
	__u32 count;
	char reason[XLB_HEALTH_REASON_MAX];
	__u64 at_ns;
	bool noop; /* the configuration already says so */
};

struct xlb_daemon {
	char ifname[IFNAMSIZ];
	int ifindex;
	char pin_dir[512];
	char pin_shown[600]; /* pin_dir for messages (xlb_pin_shown) */
	char sock_path[512], lock_path[512], state_path[512];
	char conf_path[PATH_MAX]; /* absolute, "" = none */
	const struct xlb_run_opts *opts;
	struct xlb *skel;
	struct xlb_maps m;
	int link_fd, lock_fd, listen_fd;
	bool native;
	bool mode_known; /* native is the attached link's mode */
	struct xlb_config cur; /* the running configuration */
	struct xlb_txn txn;
	struct xlb_health *health;
	struct xlb_sweeper *sweeper; /* connection expiry, while serving */
	struct xlb_metrics *metrics;
	char metrics_bound[XLB_SPEC_MAXLEN]; /* what metrics serves, "" off */
	struct ring_buffer *rb;
	/* packets for unresolved next hops, sent by the kernel */
	struct xlb_resend resend; /* fds -1 until serve() opens them */
	struct xlb_show_event events[XLB_DAEMON_EVENTS];
	size_t n_events;
	struct xlb_health_change *changes; /* from the callback, pending */
	size_t n_changes, cap_changes;
	__u64 health_retry_ns; /* pending changes failed: retry from then */
	__u64 vlans_at_ns;     /* VLAN devices last read */
	size_t n_vlans;
	bool vlans_failed;
	__u64 next_ramp_ns;
	bool ramp_failed; /* a slow-start step failed: logged once */
	/* algo wlc: the sweeper's last connection counts (the txn's load),
	 * and the sweep they are from */
	struct xlb_backend_conns *load;
	__u64 load_sweeps;
	bool load_failed; /* a table update failed: logged once */
	bool detached;    /* the interface lost the program: exit 1 */
	bool stop_requested; /* xlb stop: detach and remove everything */
};

/* xlb run: start or adopt, serve, return the exit code. */
int xlb_daemon_main(const struct xlb_run_opts *o);

/*
 * Make next the running configuration (a transaction): resolve the SNAT
 * addresses, check the settings that only a fresh start can change, apply
 * to the maps, then follow with health checks, next hops, metrics and the
 * state file.  On error nothing changed and err has the message.  next
 * is consumed (freed or kept as the running configuration).
 */
int xlb_daemon_commit(struct xlb_daemon *d, struct xlb_config *next,
		      char *err, size_t errlen, FILE *warn);

/* Read the configuration file into c with the command-line settings
 * applied over it.  0 or -errno with "FILE:LINE: ..." in err. */
int xlb_daemon_read_conf(const struct xlb_run_opts *o, const char *path,
			 struct xlb_config *c, char *err, size_t errlen);

/* Run one control request; prints on out / err; returns the exit code. */
int xlb_daemon_request(struct xlb_daemon *d, int argc, char **argv, FILE *out,
		       FILE *err);

/* Detach and remove the pinned state and the run files. */
int xlb_daemon_teardown(struct xlb_daemon *d);

/* The show context of the running daemon. */
void xlb_daemon_show(const struct xlb_daemon *d, struct xlb_show *s);

#endif /* XLB_DAEMON_H */
