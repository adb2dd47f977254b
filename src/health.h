/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Active health checks, with HAProxy/keepalived semantics: every target is
 * checked every interval_ms (TCP connect, or HTTP GET with an expected
 * status), each check has timeout_ms to pass; `rise` consecutive passes
 * bring a down target up, `fall` consecutive failures bring an up target
 * down.  Transitions (never individual checks) are reported through a
 * callback with the target's user id (the backend id), the new state, the
 * number of consecutive results that made it and the last check's reason.
 *
 * Initial state: a target starts UP unless its conf says start_down, so a
 * (re)started daemon does not drop every backend for rise * interval before
 * the first checks pass; an up target needs `fall` failures to go down.  A
 * target added with start_down needs `rise` passes first (use it for a
 * backend added at runtime that should not get traffic before it is seen
 * alive).  Neither initial state is reported as a transition.
 *
 * Event loop.  Single-threaded and non-blocking; nothing here sleeps,
 * prints, or is thread-safe (call everything from the daemon's thread).
 * The engine owns one epoll fd, xlb_health_fd(): it becomes readable when
 * a check socket has news *and* when the next check or timeout is due (an
 * internal CLOCK_MONOTONIC timerfd armed at the next deadline is part of
 * the set), so the daemon only adds that fd (POLLIN) to its poll() set:
 *
 *	struct pollfd p[] = { { .fd = xlb_health_fd(h), .events = POLLIN },
 *			      ...daemon's other fds... };
 *	for (;;) {
 *		poll(p, n, other_timeout_ms);
 *		if (p[0].revents)
 *			xlb_health_process(h, xlb_now_ns());
 *		...
 *	}
 *
 * Calling xlb_health_process() when nothing is ready is harmless (loops
 * that prefer a poll timeout can use xlb_health_next_deadline_ns()).
 * now_ns is CLOCK_MONOTONIC in ns (xlb_now_ns() of conntrack.h).
 *
 * Callbacks run only inside xlb_health_process(), after all checks of that
 * call were handled; a callback may add, update and remove targets (any,
 * including its own), but must not call xlb_health_process() (-EBUSY) nor
 * xlb_health_free().
 *
 * Scheduling: the first check of a target starts when it is added (or a
 * random point within the first interval if jitter_pct > 0, to spread
 * many targets); checks then start interval_ms apart, start to start, each
 * interval drawn within +-jitter_pct percent; a check lasting longer than
 * the interval (timeout_ms > interval_ms) is followed at once by the next.
 * Each check is one new TCP connection from this host, closed with a RST
 * (SO_LINGER 0) when the check ends so that no TIME_WAIT piles up here
 * (as HAProxy does).  Costs: O(log n) per check, O(1) lookups by id.
 *
 * Source ports: checks do not bind(); the kernel picks source ports from
 * net.ipv4.ip_local_port_range (default 32768-60999, shared by IPv6).  The
 * XDP NAT port range (default 1024-32767) must not overlap it, or a reply
 * to a health check could be taken for a NAT reply by the data path.  The
 * daemon can check with xlb_local_port_range().
 *
 * Errors on this host (socket() failing for lack of fds or memory, no free
 * source port) are recorded in the status but counted neither as a pass
 * nor as a failure: they say nothing about the backend.
 */
#ifndef XLB_HEALTH_H
#define XLB_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include "xlb_abi.h"

enum xlb_health_kind {
	XLB_HEALTH_TCP = 0,  /* passes when the TCP handshake completes */
	XLB_HEALTH_HTTP = 1, /* HTTP/1.0 GET; passes on the expected status */
};

#define XLB_HEALTH_PATH_MAX 256   /* http_path, with the NUL */
#define XLB_HEALTH_HOST_MAX 256   /* http_host, with the NUL */
#define XLB_HEALTH_REASON_MAX 128 /* reason strings, with the NUL */

/* Defaults of xlb_health_conf_init() (HAProxy's inter 2s, rise 2,
 * fall 3). */
#define XLB_HEALTH_INTERVAL_MS_DEFAULT 2000
#define XLB_HEALTH_TIMEOUT_MS_DEFAULT 1000
#define XLB_HEALTH_RISE_DEFAULT 2
#define XLB_HEALTH_FALL_DEFAULT 3
/* Limits enforced by xlb_health_conf_check(). */
#define XLB_HEALTH_INTERVAL_MS_MIN 10
#define XLB_HEALTH_MS_MAX 3600000 /* one hour, interval and timeout */
#define XLB_HEALTH_COUNT_MAX 1000 /* rise and fall */
#define XLB_HEALTH_JITTER_PCT_MAX 50

/* One target's check.  Plain data: copy it, compare it with memcmp after
 * xlb_health_conf_init(). */
struct xlb_health_conf {
	struct xlb_addr addr; /* IPv4 in the first 4 bytes, rest zero */
	__u8 family;          /* XLB_FAMILY_V4 / XLB_FAMILY_V6 */
	__u16 port;           /* host order, 1-65535 */
	enum xlb_health_kind kind;
	/* HTTP only.  Path of the GET, starting with '/' ("" = "/"); Host
	 * header ("" = the target as ADDR:PORT, IPv6 in brackets). */
	char http_path[XLB_HEALTH_PATH_MAX];
	char http_host[XLB_HEALTH_HOST_MAX];
	__u16 http_status; /* expected status, 100-599; 0 = any 2xx or 3xx */
	__u32 interval_ms; /* between check starts */
	__u32 timeout_ms;  /* connect + request + status line */
	__u32 rise;        /* consecutive passes to go up */
	__u32 fall;        /* consecutive failures to go down */
	__u32 jitter_pct;  /* 0-50: spread of each interval, percent */
	bool start_down;   /* initial state down (default: up) */
};

/* A transition, as given to the callback (valid during the call only). */
struct xlb_health_event {
	__u64 id;           /* the target's user id */
	bool up;            /* new state */
	__u32 count;        /* consecutive passes (up) or failures (down) */
	const char *reason; /* last check, e.g. "connect refused" */
	__u64 at_ns;        /* now_ns of the xlb_health_process() call */
};

/* State of one target, for `xlb show` and the metrics. */
struct xlb_health_status {
	bool up;
	__u32 ok_streak;         /* consecutive passes (0 after a failure) */
	__u32 fail_streak;       /* consecutive failures (0 after a pass) */
	__u64 checks;            /* checks completed (passed or failed) */
	__u64 failures;          /* of which failed */
	__u64 since_ns;          /* current state since (added, or changed) */
	__u64 last_check_ns;     /* end of the last check, 0 = none yet */
	__u64 last_duration_ns;  /* its duration */
	char last_reason[XLB_HEALTH_REASON_MAX]; /* "" before the first */
};

struct xlb_health;

/* Defaults: TCP, port 0 (to fill), intervals and counts as above, start
 * up, no jitter, empty address. */
void xlb_health_conf_init(struct xlb_health_conf *c);

/*
 * Validate a conf.  Returns 0 or -EINVAL with one message in err (at most
 * errlen bytes, NUL-terminated; err may be NULL), e.g.
 *   health check rise 0 out of range 1-1000
 *   health check path "healthz" must start with '/'
 */
int xlb_health_conf_check(const struct xlb_health_conf *c, char *err,
			  size_t errlen);

/* A new engine with no target.  on_change may be NULL.  0, -ENOMEM or the
 * -errno of epoll_create1()/timerfd_create(). */
int xlb_health_new(void (*on_change)(void *ctx,
				     const struct xlb_health_event *ev),
		   void *ctx, struct xlb_health **out);
/* Close every check and free the engine (NULL is fine). */
void xlb_health_free(struct xlb_health *h);

/*
 * Add a target (the conf is copied; its first check is scheduled from
 * now_ns).  Returns 0, -EINVAL (conf, see xlb_health_conf_check),
 * -EEXIST (id in use) or -ENOMEM.
 */
int xlb_health_add(struct xlb_health *h, __u64 id,
		   const struct xlb_health_conf *c, __u64 now_ns);

/*
 * Replace a target's conf.  If nothing but start_down differs, nothing
 * happens (a reload re-applying the same checks keeps their rhythm).
 * Otherwise a check in flight is abandoned (not counted) and the next one
 * starts as if the target were added at now_ns; the up/down state is
 * kept, and so are the streak counters unless what is checked changed
 * (address, port, kind, path, Host, status).  start_down only matters at
 * add.  0, -EINVAL or -ENOENT.
 */
int xlb_health_update(struct xlb_health *h, __u64 id,
		      const struct xlb_health_conf *c, __u64 now_ns);

/* Remove a target (its check in flight is closed; no event).  0 or
 * -ENOENT. */
int xlb_health_remove(struct xlb_health *h, __u64 id);

/* 0 and *st, or -ENOENT. */
int xlb_health_get(const struct xlb_health *h, __u64 id,
		   struct xlb_health_status *st);
/* Number of targets. */
size_t xlb_health_count(const struct xlb_health *h);

/* The epoll fd to poll for POLLIN (see the top of this file). */
int xlb_health_fd(const struct xlb_health *h);

/*
 * Do everything that is due at now_ns: read check sockets, end checks
 * (pass, failure, timeout), start the checks whose time has come, re-arm
 * the timer, then call on_change for each transition, in order.  Returns
 * the number of transitions reported (>= 0), or -EBUSY (called from a
 * callback), or the -errno of epoll_wait() (the engine stays usable).
 */
int xlb_health_process(struct xlb_health *h, __u64 now_ns);

/* When xlb_health_process() next has something to do (CLOCK_MONOTONIC
 * ns), ignoring socket readiness; 0 when there is no target. */
__u64 xlb_health_next_deadline_ns(const struct xlb_health *h);

/*
 * Parse the start of an HTTP response: "HTTP/" DIGIT "." DIGIT SP
 * 3DIGIT, then SP, CR or LF (the reason phrase is not needed).  Returns 1
 * with *status set when decided, 0 when buf (len bytes, need not be
 * NUL-terminated) is a valid but incomplete prefix, -EBADMSG when it
 * cannot be a status line.
 */
int xlb_health_parse_status_line(const char *buf, size_t len, int *status);

/* Default of xlb_slow_start.steps. */
#define XLB_SLOW_START_STEPS_DEFAULT 10

/*
 * Slow start: a backend that comes up gets a growing share of its weight
 * during window_ns, so that it is not flooded with new connections.  The
 * window is cut into `steps` equal parts; during part k (1..steps) the
 * effective weight is ceil(weight * k / steps), at least 1: with weight
 * 100 and 10 steps, 10, 20, ... 100.  The daemon rebuilds the service's
 * schedule at each change (xlb_slow_start_next_ns).
 */
struct xlb_slow_start {
	__u64 window_ns; /* 0 = off: full weight at once */
	__u32 steps;     /* weight changes in the window; 0 = default */
};

/* Effective weight at now_ns of a backend of `weight` that came up at
 * up_since_ns.  Pure; weight 0 stays 0; now before up_since counts as
 * the start. */
__u32 xlb_slow_start_weight(const struct xlb_slow_start *s, __u32 weight,
			    __u64 up_since_ns, __u64 now_ns);
/* When the effective weight next changes (the start of the next step, or
 * the end of the window), or 0 when the ramp is over (or off). */
__u64 xlb_slow_start_next_ns(const struct xlb_slow_start *s,
			     __u64 up_since_ns, __u64 now_ns);

/* net.ipv4.ip_local_port_range: the source ports of health checks and of
 * every other connection this host makes.  0 or -errno. */
int xlb_local_port_range(__u16 *min, __u16 *max);

#endif /* XLB_HEALTH_H */
