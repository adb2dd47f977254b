// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Health-check engine (see health.h).  Every target sits in a min-heap
 * keyed by its one pending deadline (next check start when idle, end of
 * the timeout when a check is in flight) and in a hash table by user id.
 * Check sockets and a timerfd armed at the heap's top are in one epoll
 * set; the daemon polls that set's fd.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include "addr.h"
#include "errmsg.h"
#include "health.h"

#define NS_PER_MS 1000000ULL
#define EPOLL_BATCH 64
#define RX_BYTES 32 /* the status line is decided within 13 bytes */
#define REQUEST_BYTES (XLB_HEALTH_PATH_MAX + XLB_HEALTH_HOST_MAX + 128)
#define HASH_BITS_MIN 4

enum phase {
	PH_IDLE = 0,   /* waiting for due_ns to start a check */
	PH_CONNECTING, /* non-blocking connect() in progress */
	PH_SENDING,    /* HTTP: request partly sent */
	PH_RECEIVING,  /* HTTP: waiting for the status line */
};

enum outcome {
	OUT_PASS,
	OUT_FAIL,
	OUT_LOCAL, /* error on this host: not counted */
};

struct target {
	__u64 id;
	struct xlb_health_conf conf;
	struct target *hash_next;
	size_t heap_idx;
	__u64 due_ns; /* check start (PH_IDLE) or timeout (in flight) */
	enum phase phase;
	int fd;
	__u64 started_ns;
	size_t sent_bytes; /* of the HTTP request */
	size_t rx_len;
	char rx[RX_BYTES];
	struct xlb_health_status st;
};

/* A transition waiting for delivery at the end of xlb_health_process(). */
struct pending {
	__u64 id;
	__u64 at_ns;
	__u32 count;
	bool up;
	char reason[XLB_HEALTH_REASON_MAX];
};

struct xlb_health {
	int epfd;
	int tfd;
	void (*on_change)(void *ctx, const struct xlb_health_event *ev);
	void *ctx;
	struct target **buckets;
	unsigned int hash_bits;
	size_t n_targets;
	struct target **heap;
	size_t heap_cap;
	__u64 armed_ns; /* timerfd expiry, 0 = disarmed */
	struct pending *pending;
	size_t n_pending;
	size_t pending_cap;
	bool pending_lost;
	bool busy; /* inside xlb_health_process() */
	__u64 rng;
};

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

void xlb_health_conf_init(struct xlb_health_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->family = XLB_FAMILY_V4;
	c->kind = XLB_HEALTH_TCP;
	c->interval_ms = XLB_HEALTH_INTERVAL_MS_DEFAULT;
	c->timeout_ms = XLB_HEALTH_TIMEOUT_MS_DEFAULT;
	c->rise = XLB_HEALTH_RISE_DEFAULT;
	c->fall = XLB_HEALTH_FALL_DEFAULT;
}

#define conf_err(err, errlen, ...) \
	xlb_errmsg(err, errlen, -EINVAL, __VA_ARGS__)

/* Printable ASCII without space: safe in a request line or header. */
static bool token_ok(const char *s, size_t max, bool allow_empty)
{
	size_t len = strnlen(s, max);

	if (len == max || (!len && !allow_empty))
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

int xlb_health_conf_check(const struct xlb_health_conf *c, char *err,
			  size_t errlen)
{
	if (c->family != XLB_FAMILY_V4 && c->family != XLB_FAMILY_V6)
		return conf_err(err, errlen,
				"health check family %u: not IPv4 (4) or "
				"IPv6 (6)",
				c->family);
	if (!c->port)
		return conf_err(err, errlen,
				"health check port 0 out of range 1-65535");
	if (c->kind != XLB_HEALTH_TCP && c->kind != XLB_HEALTH_HTTP)
		return conf_err(err, errlen,
				"health check kind %d: not tcp or http",
				(int)c->kind);
	if (c->interval_ms < XLB_HEALTH_INTERVAL_MS_MIN ||
	    c->interval_ms > XLB_HEALTH_MS_MAX)
		return conf_err(err, errlen,
				"health check interval %u ms out of range "
				"%u-%u ms",
				c->interval_ms, XLB_HEALTH_INTERVAL_MS_MIN,
				XLB_HEALTH_MS_MAX);
	if (!c->timeout_ms || c->timeout_ms > XLB_HEALTH_MS_MAX)
		return conf_err(err, errlen,
				"health check timeout %u ms out of range "
				"1-%u ms",
				c->timeout_ms, XLB_HEALTH_MS_MAX);
	if (!c->rise || c->rise > XLB_HEALTH_COUNT_MAX)
		return conf_err(err, errlen,
				"health check rise %u out of range 1-%u",
				c->rise, XLB_HEALTH_COUNT_MAX);
	if (!c->fall || c->fall > XLB_HEALTH_COUNT_MAX)
		return conf_err(err, errlen,
				"health check fall %u out of range 1-%u",
				c->fall, XLB_HEALTH_COUNT_MAX);
	if (c->jitter_pct > XLB_HEALTH_JITTER_PCT_MAX)
		return conf_err(err, errlen,
				"health check jitter %u%% out of range 0-%u%%",
				c->jitter_pct, XLB_HEALTH_JITTER_PCT_MAX);
	if (c->kind != XLB_HEALTH_HTTP)
		return 0;
	if (!token_ok(c->http_path, sizeof(c->http_path), true))
		return conf_err(err, errlen,
				"health check path \"%.64s\": at most %zu "
				"printable characters, no spaces",
				c->http_path, sizeof(c->http_path) - 1);
	/* a fragment is never sent to a server, and '#' would start a
	 * comment where xlb save writes the path */
	if (strchr(c->http_path, '#'))
		return conf_err(err, errlen,
				"health check path \"%.64s\": no '#' (a "
				"fragment is not sent to the server): drop it",
				c->http_path);
	if (c->http_path[0] && c->http_path[0] != '/')
		return conf_err(err, errlen,
				"health check path \"%.64s\" must start with "
				"'/'",
				c->http_path);
	if (!token_ok(c->http_host, sizeof(c->http_host), true))
		return conf_err(err, errlen,
				"health check Host \"%.64s\": at most %zu "
				"printable characters, no spaces",
				c->http_host, sizeof(c->http_host) - 1);
	if (strchr(c->http_host, '#'))
		return conf_err(err, errlen,
				"health check Host \"%.64s\": no '#' (not "
				"part of a host name)",
				c->http_host);
	if (c->http_status && (c->http_status < 100 || c->http_status > 599))
		return conf_err(err, errlen,
				"health check status %u out of range 100-599",
				c->http_status);
	return 0;
}

/* Same thing checked: streaks stay meaningful across an update. */
static bool same_check(const struct xlb_health_conf *a,
		       const struct xlb_health_conf *b)
{
	if (a->family != b->family || a->port != b->port ||
	    a->kind != b->kind || memcmp(&a->addr, &b->addr, sizeof(a->addr)))
		return false;
	if (a->kind != XLB_HEALTH_HTTP)
		return true;
	return !strcmp(a->http_path, b->http_path) &&
	       !strcmp(a->http_host, b->http_host) &&
	       a->http_status == b->http_status;
}

/* ------------------------------------------------------------------ */
/* Hash table by id                                                    */
/* ------------------------------------------------------------------ */

static size_t hash_slot(const struct xlb_health *h, __u64 id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> (64 - h->hash_bits));
}

static struct target *hash_find(const struct xlb_health *h, __u64 id)
{
	struct target *t = h->buckets[hash_slot(h, id)];

	while (t && t->id != id)
		t = t->hash_next;
	return t;
}

static int hash_grow(struct xlb_health *h)
{
	unsigned int bits = h->hash_bits + 1;
	size_t old_n = (size_t)1 << h->hash_bits;
	struct target **nb = calloc((size_t)1 << bits, sizeof(*nb));
	struct target **old = h->buckets;

	if (!nb)
		return -ENOMEM;
	h->buckets = nb;
	h->hash_bits = bits;
	for (size_t i = 0; i < old_n; i++) {
		struct target *t = old[i], *next;

		for (; t; t = next) {
			size_t s = hash_slot(h, t->id);

			next = t->hash_next;
			t->hash_next = nb[s];
			nb[s] = t;
		}
	}
	free(old);
	return 0;
}

static void hash_unlink(struct xlb_health *h, struct target *t)
{
	struct target **pp = &h->buckets[hash_slot(h, t->id)];

	while (*pp != t)
		pp = &(*pp)->hash_next;
	*pp = t->hash_next;
}

/* ------------------------------------------------------------------ */
/* Deadline heap                                                       */
/* ------------------------------------------------------------------ */

static void heap_set(struct xlb_health *h, size_t i, struct target *t)
{
	h->heap[i] = t;
	t->heap_idx = i;
}

static void heap_up(struct xlb_health *h, size_t i)
{
	struct target *t = h->heap[i];

	while (i) {
		size_t parent = (i - 1) / 2;

		if (h->heap[parent]->due_ns <= t->due_ns)
			break;
		heap_set(h, i, h->heap[parent]);
		i = parent;
	}
	heap_set(h, i, t);
}

static void heap_down(struct xlb_health *h, size_t i)
{
	struct target *t = h->heap[i];
	size_t n = h->n_targets;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && h->heap[c + 1]->due_ns < h->heap[c]->due_ns)
			c++;
		if (h->heap[c]->due_ns >= t->due_ns)
			break;
		heap_set(h, i, h->heap[c]);
		i = c;
	}
	heap_set(h, i, t);
}

/* Move t after its due_ns changed. */
static void heap_fix(struct xlb_health *h, struct target *t)
{
	heap_up(h, t->heap_idx);
	heap_down(h, t->heap_idx);
}

/* Remove t (n_targets is the heap's size: it shrinks by one). */
static void heap_remove(struct xlb_health *h, struct target *t)
{
	size_t i = t->heap_idx, last = --h->n_targets;

	if (i != last) {
		heap_set(h, i, h->heap[last]);
		heap_fix(h, h->heap[i]);
	}
	h->heap[last] = NULL;
}

static void set_due(struct xlb_health *h, struct target *t, __u64 due_ns)
{
	t->due_ns = due_ns;
	heap_fix(h, t);
}

/* Arm the timerfd at the heap's top (a syscall only when it moved). */
static void arm(struct xlb_health *h)
{
	struct itimerspec its = {};
	__u64 due = h->n_targets ? h->heap[0]->due_ns : 0;

	if (due == h->armed_ns)
		return;
	if (due) {
		its.it_value.tv_sec = due / 1000000000ULL;
		its.it_value.tv_nsec = due % 1000000000ULL;
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1; /* 0 would disarm */
	}
	if (!timerfd_settime(h->tfd, TFD_TIMER_ABSTIME, &its, NULL))
		h->armed_ns = due;
	else
		h->armed_ns = 0; /* retried at the next change */
}

/* ------------------------------------------------------------------ */
/* Engine                                                              */
/* ------------------------------------------------------------------ */

static __u64 rng_next(struct xlb_health *h)
{
	__u64 z = (h->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static __u64 interval_ns(struct xlb_health *h, const struct target *t)
{
	__u64 ns = (__u64)t->conf.interval_ms * NS_PER_MS;
	__u64 spread = ns * t->conf.jitter_pct / 100;

	if (!spread)
		return ns;
	return ns - spread + rng_next(h) % (2 * spread + 1);
}

/* Due time of a target's first check after add/update at now_ns. */
static __u64 first_due(struct xlb_health *h, const struct target *t,
		       __u64 now_ns)
{
	if (!t->conf.jitter_pct)
		return now_ns;
	return now_ns + rng_next(h) % ((__u64)t->conf.interval_ms * NS_PER_MS);
}

int xlb_health_new(void (*on_change)(void *ctx,
				     const struct xlb_health_event *ev),
		   void *ctx, struct xlb_health **out)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct xlb_health *h = calloc(1, sizeof(*h));
	struct timespec ts;
	int err;

	if (!h)
		return -ENOMEM;
	h->epfd = -1;
	h->tfd = -1;
	h->on_change = on_change;
	h->ctx = ctx;
	h->hash_bits = HASH_BITS_MIN;
	h->buckets = calloc((size_t)1 << h->hash_bits, sizeof(*h->buckets));
	if (!h->buckets) {
		err = -ENOMEM;
		goto fail;
	}
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epfd < 0) {
		err = -errno;
		goto fail;
	}
	h->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (h->tfd < 0) {
		err = -errno;
		goto fail;
	}
	ev.data.ptr = h; /* the timer's tag: targets are never h */
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->tfd, &ev)) {
		err = -errno;
		goto fail;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	h->rng = (__u64)ts.tv_nsec ^ ((__u64)getpid() << 32) ^ (__u64)ts.tv_sec;
	*out = h;
	return 0;
fail:
	xlb_health_free(h);
	return err;
}

/* Close a target's check socket, if any (no result). */
static void check_close(struct xlb_health *h, struct target *t)
{
	if (t->fd >= 0) {
		/* explicit: a forked child holding the fd would keep the
		 * registration (and stale events) alive after close() */
		epoll_ctl(h->epfd, EPOLL_CTL_DEL, t->fd, NULL);
		close(t->fd);
	}
	t->fd = -1;
	t->phase = PH_IDLE;
	t->sent_bytes = 0;
	t->rx_len = 0;
}

void xlb_health_free(struct xlb_health *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n_targets; i++) {
		check_close(h, h->heap[i]);
		free(h->heap[i]);
	}
	if (h->tfd >= 0)
		close(h->tfd);
	if (h->epfd >= 0)
		close(h->epfd);
	free(h->heap);
	free(h->buckets);
	free(h->pending);
	free(h);
}

int xlb_health_add(struct xlb_health *h, __u64 id,
		   const struct xlb_health_conf *c, __u64 now_ns)
{
	struct target *t;
	size_t s;

	if (xlb_health_conf_check(c, NULL, 0))
		return -EINVAL;
	if (hash_find(h, id))
		return -EEXIST;
	if (h->n_targets == h->heap_cap) {
		size_t cap = h->heap_cap ? 2 * h->heap_cap : 16;
		struct target **heap = realloc(h->heap, cap * sizeof(*heap));

		if (!heap)
			return -ENOMEM;
		h->heap = heap;
		h->heap_cap = cap;
	}
	if (h->n_targets >= ((size_t)1 << h->hash_bits) && hash_grow(h))
		return -ENOMEM;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->id = id;
	t->conf = *c;
	t->fd = -1;
	t->st.up = !c->start_down;
	t->st.since_ns = now_ns;
	s = hash_slot(h, id);
	t->hash_next = h->buckets[s];
	h->buckets[s] = t;
	t->due_ns = first_due(h, t, now_ns);
	heap_set(h, h->n_targets++, t);
	heap_up(h, t->heap_idx);
	arm(h);
	return 0;
}

int xlb_health_update(struct xlb_health *h, __u64 id,
		      const struct xlb_health_conf *c, __u64 now_ns)
{
	struct target *t = hash_find(h, id);

	if (xlb_health_conf_check(c, NULL, 0))
		return -EINVAL;
	if (!t)
		return -ENOENT;
	if (same_check(&t->conf, c) && t->conf.interval_ms == c->interval_ms &&
	    t->conf.timeout_ms == c->timeout_ms && t->conf.rise == c->rise &&
	    t->conf.fall == c->fall && t->conf.jitter_pct == c->jitter_pct)
		return 0; /* nothing changes (a reload): keep the rhythm */
	check_close(h, t);
	if (!same_check(&t->conf, c)) {
		t->st.ok_streak = 0;
		t->st.fail_streak = 0;
	}
	t->conf = *c;
	set_due(h, t, first_due(h, t, now_ns));
	arm(h);
	return 0;
}

int xlb_health_remove(struct xlb_health *h, __u64 id)
{
	struct target *t = hash_find(h, id);

	if (!t)
		return -ENOENT;
	check_close(h, t);
	hash_unlink(h, t);
	heap_remove(h, t);
	free(t);
	arm(h);
	return 0;
}

int xlb_health_get(const struct xlb_health *h, __u64 id,
		   struct xlb_health_status *st)
{
	const struct target *t = hash_find(h, id);

	if (!t)
		return -ENOENT;
	*st = t->st;
	return 0;
}

size_t xlb_health_count(const struct xlb_health *h)
{
	return h->n_targets;
}

int xlb_health_fd(const struct xlb_health *h)
{
	return h->epfd;
}

__u64 xlb_health_next_deadline_ns(const struct xlb_health *h)
{
	return h->n_targets ? h->heap[0]->due_ns : 0;
}

/* ------------------------------------------------------------------ */
/* Checks                                                              */
/* ------------------------------------------------------------------ */

static void queue_event(struct xlb_health *h, const struct target *t,
			__u32 count, __u64 now_ns)
{
	struct pending *p;

	if (h->n_pending == h->pending_cap) {
		size_t cap = h->pending_cap ? 2 * h->pending_cap : 16;
		struct pending *np = realloc(h->pending, cap * sizeof(*np));

		if (!np) {
			h->pending_lost = true;
			return;
		}
		h->pending = np;
		h->pending_cap = cap;
	}
	p = &h->pending[h->n_pending++];
	p->id = t->id;
	p->up = t->st.up;
	p->count = count;
	p->at_ns = now_ns;
	memcpy(p->reason, t->st.last_reason, sizeof(p->reason));
}

static __u32 sat_inc(__u32 v)
{
	return v == (__u32)-1 ? v : v + 1;
}

/* End the check in flight (or the one that could not start) with a
 * result, count it, report a transition, schedule the next check. */
static void check_done(struct xlb_health *h, struct target *t,
		       enum outcome out, const char *reason, __u64 now_ns)
{
	struct xlb_health_status *st = &t->st;
	__u64 next;

	check_close(h, t);
	snprintf(st->last_reason, sizeof(st->last_reason), "%s", reason);
	st->last_check_ns = now_ns;
	st->last_duration_ns = now_ns - t->started_ns;
	if (out == OUT_PASS) {
		st->checks++;
		st->ok_streak = sat_inc(st->ok_streak);
		st->fail_streak = 0;
		if (!st->up && st->ok_streak >= t->conf.rise) {
			st->up = true;
			st->since_ns = now_ns;
			queue_event(h, t, st->ok_streak, now_ns);
		}
	} else if (out == OUT_FAIL) {
		st->checks++;
		st->failures++;
		st->fail_streak = sat_inc(st->fail_streak);
		st->ok_streak = 0;
		if (st->up && st->fail_streak >= t->conf.fall) {
			st->up = false;
			st->since_ns = now_ns;
			queue_event(h, t, st->fail_streak, now_ns);
		}
	}
	next = t->started_ns + interval_ns(h, t);
	set_due(h, t, next > now_ns ? next : now_ns);
}

static bool local_errno(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
	       err == ENOMEM || err == EADDRNOTAVAIL || err == EAGAIN;
}

static void connect_failed(struct xlb_health *h, struct target *t, int err,
			   __u64 now_ns)
{
	char reason[XLB_HEALTH_REASON_MAX];

	switch (err) {
	case ECONNREFUSED:
		snprintf(reason, sizeof(reason), "connect refused");
		break;
	case EHOSTUNREACH:
		snprintf(reason, sizeof(reason), "host unreachable");
		break;
	case ENETUNREACH:
		snprintf(reason, sizeof(reason), "network unreachable");
		break;
	case ETIMEDOUT:
		snprintf(reason, sizeof(reason), "connect timed out");
		break;
	default:
		snprintf(reason, sizeof(reason), "connect: %s%s",
			 strerror(err),
			 local_errno(err) ? " (local, not counted)" : "");
	}
	check_done(h, t, local_errno(err) ? OUT_LOCAL : OUT_FAIL, reason,
		   now_ns);
}

static int watch(struct xlb_health *h, struct target *t, __u32 events,
		 int op)
{
	struct epoll_event ev = { .events = events, .data.ptr = t };

	return epoll_ctl(h->epfd, op, t->fd, &ev) ? -errno : 0;
}

static void start_check(struct xlb_health *h, struct target *t,
			__u64 now_ns)
{
	const struct xlb_health_conf *c = &t->conf;
	struct linger no_linger = { .l_onoff = 1, .l_linger = 0 };
	struct sockaddr_storage ss = {};
	socklen_t sslen;
	int af = c->family == XLB_FAMILY_V6 ? AF_INET6 : AF_INET;
	char reason[XLB_HEALTH_REASON_MAX];
	int err;

	t->started_ns = now_ns;
	t->sent_bytes = 0;
	t->rx_len = 0;
	t->fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		err = errno;
		snprintf(reason, sizeof(reason), "socket: %s%s", strerror(err),
			 local_errno(err) ? " (local, not counted)" : "");
		check_done(h, t, OUT_LOCAL, reason, now_ns);
		return;
	}
	/* close() sends a RST: no TIME_WAIT on this host per check */
	setsockopt(t->fd, SOL_SOCKET, SO_LINGER, &no_linger,
		   sizeof(no_linger));
	if (af == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(c->port);
		sin->sin_addr.s_addr = c->addr.ip4;
		sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(c->port);
		memcpy(&sin6->sin6_addr, c->addr.bytes, 16);
		sslen = sizeof(*sin6);
	}
	/* an immediate success (possible on loopback) is seen as EPOLLOUT
	 * like a later one; only immediate failures end here */
	if (connect(t->fd, (struct sockaddr *)&ss, sslen) &&
	    errno != EINPROGRESS) {
		connect_failed(h, t, errno, now_ns);
		return;
	}
	err = watch(h, t, EPOLLOUT, EPOLL_CTL_ADD);
	if (err) {
		snprintf(reason, sizeof(reason),
			 "epoll: %s (local, not counted)", strerror(-err));
		check_done(h, t, OUT_LOCAL, reason, now_ns);
		return;
	}
	t->phase = PH_CONNECTING;
	set_due(h, t, now_ns + (__u64)c->timeout_ms * NS_PER_MS);
}

static void check_timeout(struct xlb_health *h, struct target *t,
			  __u64 now_ns)
{
	static const char *const what[] = {
		[PH_IDLE] = "",
		[PH_CONNECTING] = "connecting",
		[PH_SENDING] = "sending the request",
		[PH_RECEIVING] = "waiting for the status line",
	};
	char reason[XLB_HEALTH_REASON_MAX];

	snprintf(reason, sizeof(reason), "timeout after %u ms (%s)",
		 t->conf.timeout_ms, what[t->phase]);
	check_done(h, t, OUT_FAIL, reason, now_ns);
}

static int build_request(const struct target *t, char *buf, size_t len)
{
	const struct xlb_health_conf *c = &t->conf;
	char host[XLB_ENDPOINT_STRLEN];
	const char *hdr_host = c->http_host;
	int n;

	if (!hdr_host[0])
		hdr_host = xlb_endpoint_str(&c->addr, c->family, c->port, host,
					    sizeof(host));
	n = snprintf(buf, len,
		     "GET %s HTTP/1.0\r\n"
		     "Host: %s\r\n"
		     "User-Agent: xlb-health\r\n"
		     "Accept: */*\r\n"
		     "Connection: close\r\n"
		     "\r\n",
		     c->http_path[0] ? c->http_path : "/", hdr_host);
	return n > 0 && (size_t)n < len ? n : -E2BIG;
}

static void judge_status(struct xlb_health *h, struct target *t, int status,
			 __u64 now_ns)
{
	__u16 want = t->conf.http_status;
	char reason[XLB_HEALTH_REASON_MAX];
	bool ok;

	if (want)
		ok = status == want;
	else
		ok = status >= 200 && status <= 399;
	if (ok)
		snprintf(reason, sizeof(reason), "HTTP %d", status);
	else if (want)
		snprintf(reason, sizeof(reason), "HTTP %d (want %u)", status,
			 want);
	else
		snprintf(reason, sizeof(reason), "HTTP %d (want 2xx or 3xx)",
			 status);
	check_done(h, t, ok ? OUT_PASS : OUT_FAIL, reason, now_ns);
}

/* Returns true while the check goes on. */
static bool do_send(struct xlb_health *h, struct target *t, __u64 now_ns)
{
	char req[REQUEST_BYTES], reason[XLB_HEALTH_REASON_MAX];
	int len = build_request(t, req, sizeof(req));

	if (len < 0) { /* cannot happen with a checked conf */
		check_done(h, t, OUT_LOCAL, "request too long (not counted)",
			   now_ns);
		return false;
	}
	while (t->sent_bytes < (size_t)len) {
		ssize_t n = send(t->fd, req + t->sent_bytes,
				 len - t->sent_bytes,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n >= 0) {
			t->sent_bytes += n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (t->phase != PH_SENDING) {
				t->phase = PH_SENDING;
				watch(h, t, EPOLLOUT, EPOLL_CTL_MOD);
			}
			return true;
		}
		if (errno == ECONNRESET || errno == EPIPE)
			snprintf(reason, sizeof(reason),
				 "connection reset while sending the request");
		else
			snprintf(reason, sizeof(reason), "send: %s",
				 strerror(errno));
		check_done(h, t, OUT_FAIL, reason, now_ns);
		return false;
	}
	t->phase = PH_RECEIVING;
	if (watch(h, t, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD)) {
		check_done(h, t, OUT_LOCAL, "epoll: cannot watch (not counted)",
			   now_ns);
		return false;
	}
	return true;
}

static void do_recv(struct xlb_health *h, struct target *t, __u64 now_ns)
{
	char reason[XLB_HEALTH_REASON_MAX];

	/* each round adds bytes to rx, which the parser decides on long
	 * before it is full: bounded */
	while (t->rx_len < sizeof(t->rx)) {
		ssize_t n = recv(t->fd, t->rx + t->rx_len,
				 sizeof(t->rx) - t->rx_len, MSG_DONTWAIT);
		int status, rc;

		if (n > 0) {
			t->rx_len += n;
			rc = xlb_health_parse_status_line(t->rx, t->rx_len,
							  &status);
			if (rc > 0) {
				judge_status(h, t, status, now_ns);
				return;
			}
			if (rc < 0) {
				check_done(h, t, OUT_FAIL,
					   "bad HTTP status line", now_ns);
				return;
			}
			continue;
		}
		if (n == 0) {
			check_done(h, t, OUT_FAIL,
				   t->rx_len ? "connection closed in the "
					       "status line"
					     : "connection closed before the "
					       "status line",
				   now_ns);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == ECONNRESET)
			snprintf(reason, sizeof(reason), "connection reset");
		else
			snprintf(reason, sizeof(reason), "recv: %s",
				 strerror(errno));
		check_done(h, t, OUT_FAIL, reason, now_ns);
		return;
	}
	check_done(h, t, OUT_FAIL, "bad HTTP status line", now_ns);
}

static void on_io(struct xlb_health *h, struct target *t, __u32 events,
		  __u64 now_ns)
{
	int err = 0;
	socklen_t len = sizeof(err);

	switch (t->phase) {
	case PH_IDLE:
		return; /* stale: the check already ended */
	case PH_CONNECTING:
		if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len))
			err = errno;
		if (err) {
			connect_failed(h, t, err, now_ns);
			return;
		}
		if (!(events & EPOLLOUT)) {
			if (events & (EPOLLERR | EPOLLHUP))
				check_done(h, t, OUT_FAIL,
					   "connection closed while connecting",
					   now_ns);
			return;
		}
		if (t->conf.kind == XLB_HEALTH_TCP) {
			check_done(h, t, OUT_PASS, "connect ok", now_ns);
			return;
		}
		if (!do_send(h, t, now_ns) || t->phase != PH_RECEIVING)
			return;
		do_recv(h, t, now_ns); /* a fast answer may be there */
		return;
	case PH_SENDING:
		if (!do_send(h, t, now_ns) || t->phase != PH_RECEIVING)
			return;
		do_recv(h, t, now_ns);
		return;
	case PH_RECEIVING:
		do_recv(h, t, now_ns);
		return;
	}
}

int xlb_health_process(struct xlb_health *h, __u64 now_ns)
{
	struct epoll_event evs[EPOLL_BATCH];
	size_t rounds, steps;
	int err = 0, n;
	__u64 ticks;

	if (h->busy)
		return -EBUSY;
	h->busy = true;
	/* 1. the timer only wakes the poller: clear it */
	while (read(h->tfd, &ticks, sizeof(ticks)) > 0)
		;
	h->armed_ns = 0; /* it fired, or will be reset below */
	/* 2. socket news, before timeouts: an answer that came in time
	 * counts even if we look late */
	rounds = h->n_targets / EPOLL_BATCH + 2;
	do {
		n = epoll_wait(h->epfd, evs, EPOLL_BATCH, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		for (int i = 0; i < n; i++)
			if (evs[i].data.ptr != h)
				on_io(h, evs[i].data.ptr, evs[i].events,
				      now_ns);
	} while ((n < 0 || n == EPOLL_BATCH) && --rounds);
	/* 3. deadlines: timeouts and check starts; each target needs at
	 * most three steps before its due time passes now */
	steps = 3 * h->n_targets + 1;
	while (h->n_targets && h->heap[0]->due_ns <= now_ns && steps--) {
		struct target *t = h->heap[0];

		if (t->phase == PH_IDLE)
			start_check(h, t, now_ns);
		else
			check_timeout(h, t, now_ns);
	}
	arm(h);
	/* 4. report; callbacks may add/update/remove targets */
	for (size_t i = 0; i < h->n_pending; i++) {
		const struct pending *p = &h->pending[i];
		struct xlb_health_event ev = {
			.id = p->id,
			.up = p->up,
			.count = p->count,
			.reason = p->reason,
			.at_ns = p->at_ns,
		};

		if (h->on_change)
			h->on_change(h->ctx, &ev);
	}
	n = h->n_pending;
	h->n_pending = 0;
	if (h->pending_lost && !err)
		err = -ENOMEM;
	h->pending_lost = false;
	h->busy = false;
	return err ? err : n;
}

/* ------------------------------------------------------------------ */
/* HTTP status line                                                    */
/* ------------------------------------------------------------------ */

int xlb_health_parse_status_line(const char *buf, size_t len, int *status)
{
	/* "HTTP/d.d ddd" then SP, CR or LF: 13 bytes decide */
	static const char shape[] = "HTTP/9.9 999";
	const size_t need = sizeof(shape); /* 12 + the separator */

	for (size_t i = 0; i < len && i < need; i++) {
		char c = buf[i];

		if (i == need - 1) {
			if (c != ' ' && c != '\r' && c != '\n')
				return -EBADMSG;
		} else if (shape[i] == '9') {
			if (c < '0' || c > '9')
				return -EBADMSG;
		} else if (c != shape[i]) {
			return -EBADMSG;
		}
	}
	if (len < need)
		return 0;
	*status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	/* RFC 9110 15: status codes are 100-599 */
	return *status >= 100 && *status <= 599 ? 1 : -EBADMSG;
}

/* ------------------------------------------------------------------ */
/* Slow start                                                          */
/* ------------------------------------------------------------------ */

static __u32 slow_start_steps(const struct xlb_slow_start *s)
{
	return s->steps ? s->steps : XLB_SLOW_START_STEPS_DEFAULT;
}

/* Step 1..steps of now in the window, or 0 when past it (or off). */
static __u32 slow_start_step(const struct xlb_slow_start *s,
			     __u64 up_since_ns, __u64 now_ns)
{
	__u64 elapsed = now_ns > up_since_ns ? now_ns - up_since_ns : 0;

	if (!s->window_ns || elapsed >= s->window_ns)
		return 0;
	return (__u32)((unsigned __int128)elapsed * slow_start_steps(s) /
		       s->window_ns) +
	       1;
}

__u32 xlb_slow_start_weight(const struct xlb_slow_start *s, __u32 weight,
			    __u64 up_since_ns, __u64 now_ns)
{
	__u32 k = slow_start_step(s, up_since_ns, now_ns);
	__u32 steps = slow_start_steps(s);
	__u64 w;

	if (!k || !weight)
		return weight;
	w = ((__u64)weight * k + steps - 1) / steps;
	return w ? (__u32)w : 1;
}

__u64 xlb_slow_start_next_ns(const struct xlb_slow_start *s,
			     __u64 up_since_ns, __u64 now_ns)
{
	__u32 k = slow_start_step(s, up_since_ns, now_ns);
	__u32 steps = slow_start_steps(s);

	if (!k)
		return 0;
	/* rounded up: at that time elapsed * steps >= window * k, so the
	 * step has really changed */
	return up_since_ns + (__u64)(((unsigned __int128)s->window_ns * k +
				      steps - 1) /
				     steps);
}

/* ------------------------------------------------------------------ */
/* Ephemeral ports                                                     */
/* ------------------------------------------------------------------ */

int xlb_local_port_range(__u16 *min, __u16 *max)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	unsigned int lo, hi;
	int n;

	if (!f)
		return -errno;
	n = fscanf(f, "%u %u", &lo, &hi);
	fclose(f);
	if (n != 2 || lo > 65535 || hi > 65535 || lo > hi)
		return -EINVAL;
	*min = lo;
	*max = hi;
	return 0;
}
