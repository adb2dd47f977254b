// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Health-check engine (src/health.c) against tiny servers run in threads
 * of this process, inside a private network namespace (unshare, lo up):
 * loopback addresses only (127.0.0.1, ::1), plus 192.0.2.0/24 on a dummy
 * interface for a silent (blackholed) target.  The engine is driven the
 * way the daemon drives it: poll() on xlb_health_fd() with no timeout of
 * our own, then xlb_health_process(); a timer that did not fire would
 * show up as a case running out of time.
 *
 * Cases: TCP rise/fall/rise with reasons in order (IPv4), steady up with
 * no event (IPv6), refused (IPv6), timeout on a full accept queue and on
 * a silent address, HTTP 200/503/garbage/slow/drip/closed/3xx/404/IPv6,
 * the request bytes, runtime add/update/remove, callbacks that change
 * targets, 200 targets, the fd waking at deadlines, and the pure helpers
 * (status line parser, conf checks, slow start, ephemeral port range).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/sched.h>

#include "health.h"
#include "show.h"
#include "xtest.h"

#define NS_PER_MS 1000000ULL
#define MAX_EVENTS 512
#define MAX_TARGETS 200
#define REQ_BYTES 1024
#define WHY_BYTES 512

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int lo_up(void)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int err = 0;

	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		err = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!err && ioctl(fd, SIOCSIFFLAGS, &ifr))
		err = -errno;
	close(fd);
	return err;
}

static int sh_quiet(const char *cmd)
{
	char full[512];

	snprintf(full, sizeof(full), "(%s) >/dev/null 2>&1", cmd);
	return system(full);
}

/* A conf for family/port with the test's fast timings. */
static void conf_fast(struct xlb_health_conf *c, __u8 family, __u16 port)
{
	xlb_health_conf_init(c);
	c->family = family;
	if (family == XLB_FAMILY_V4)
		inet_pton(AF_INET, "127.0.0.1", &c->addr.ip4);
	else
		inet_pton(AF_INET6, "::1", c->addr.bytes);
	c->port = port;
	c->interval_ms = 50;
	c->timeout_ms = 200;
	c->rise = 2;
	c->fall = 2;
}

/* ------------------------------------------------------------------ */
/* Event recorder and driver                                           */
/* ------------------------------------------------------------------ */

struct rec {
	__u64 id;
	bool up;
	__u32 count;
	__u64 at_ns;
	char reason[XLB_HEALTH_REASON_MAX];
};

struct recorder {
	struct rec ev[MAX_EVENTS];
	int n;
	/* optional behaviour for the callback cases */
	struct xlb_health *h;
	bool remove_on_down;
	__u64 add_on_down_id;
	struct xlb_health_conf add_conf;
	int add_rc, remove_rc, nested_rc;
};

static void on_change(void *ctx, const struct xlb_health_event *ev)
{
	struct recorder *r = ctx;
	struct rec *e;

	if (r->n < MAX_EVENTS) {
		e = &r->ev[r->n++];
		e->id = ev->id;
		e->up = ev->up;
		e->count = ev->count;
		e->at_ns = ev->at_ns;
		snprintf(e->reason, sizeof(e->reason), "%s", ev->reason);
	}
	if (r->h && !ev->up && r->remove_on_down) {
		r->remove_rc = xlb_health_remove(r->h, ev->id);
		r->nested_rc = xlb_health_process(r->h, mono_ns());
		if (r->add_on_down_id)
			r->add_rc = xlb_health_add(r->h, r->add_on_down_id,
						   &r->add_conf, mono_ns());
	}
}

/* Drive the engine as the daemon does until r has `want` events or
 * max_ms passed.  Returns true if the events came. */
static bool run_until(struct xlb_health *h, struct recorder *r, int want,
		      unsigned int max_ms)
{
	__u64 end = mono_ns() + max_ms * NS_PER_MS;

	for (int guard = 0; guard < 100000; guard++) {
		struct pollfd p = { .fd = xlb_health_fd(h), .events = POLLIN };
		__u64 now = mono_ns();

		if (r->n >= want)
			return true;
		if (now >= end)
			return false;
		poll(&p, 1, (int)((end - now) / NS_PER_MS) + 1);
		xlb_health_process(h, mono_ns());
	}
	return r->n >= want;
}

static void run_for(struct xlb_health *h, struct recorder *r,
		    unsigned int ms)
{
	run_until(h, r, MAX_EVENTS + 1, ms);
}

static const char *ev_str(const struct recorder *r, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < r->n && used + 80 < len; i++)
		used += snprintf(buf + used, len - used,
				 "%s[%llu %s x%u \"%s\"]", i ? " " : "", (unsigned long long)r->ev[i].id,
				 r->ev[i].up ? "up" : "down", r->ev[i].count,
				 r->ev[i].reason);
	if (!r->n)
		snprintf(buf, len, "no event");
	return buf;
}

/* ------------------------------------------------------------------ */
/* Test servers                                                        */
/* ------------------------------------------------------------------ */

enum srv_mode {
	SRV_ACCEPT,   /* accept and close */
	SRV_HTTP,     /* read the request, answer "HTTP/1.1 <status>" */
	SRV_GARBAGE,  /* read the request, answer junk */
	SRV_SLOW,     /* read the request, answer after delay_ms */
	SRV_DRIP,     /* answer the status line one byte every 5 ms */
	SRV_CLOSE,    /* read the request, close without a word */
	SRV_NOACCEPT, /* listen with backlog 0, never accept */
};

/* Written by the server process, read by the test (shared mapping). */
struct srv_shared {
	atomic_int accepted;
	size_t req_len;
	char req[REQ_BYTES]; /* last request read */
};

/*
 * A server is a forked child of the test (threads are not an option:
 * -Isrc makes <pthread.h> find src/sched.h instead of <sched.h>).  It
 * dies with SIGKILL from srv_stop(), or with the test (PDEATHSIG).
 */
struct srv {
	enum srv_mode mode;
	int status;
	unsigned int delay_ms;
	int lfd;
	__u16 port;
	pid_t pid;
	struct srv_shared *sh;
};

static void read_request(struct srv *s, int fd)
{
	char buf[REQ_BYTES];
	size_t len = 0;

	/* bounded by SO_RCVTIMEO and the buffer */
	while (len < sizeof(buf) - 1) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);

		if (n <= 0)
			break;
		len += n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	memcpy(s->sh->req, buf, len);
	s->sh->req[len] = '\0';
	s->sh->req_len = len;
}

static void serve_one(struct srv *s, int fd)
{
	struct timeval tv = { .tv_sec = 1 };
	char resp[256];
	int n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (s->mode == SRV_ACCEPT)
		return;
	read_request(s, fd);
	n = snprintf(resp, sizeof(resp),
		     "HTTP/1.1 %d Whatever\r\nContent-Length: 2\r\n"
		     "Connection: close\r\n\r\nok",
		     s->status);
	switch (s->mode) {
	case SRV_HTTP:
		send(fd, resp, n, MSG_NOSIGNAL);
		break;
	case SRV_GARBAGE:
		send(fd, "<html>hello</html>\r\n", 20, MSG_NOSIGNAL);
		break;
	case SRV_SLOW:
		sleep_ms(s->delay_ms);
		send(fd, resp, n, MSG_NOSIGNAL);
		break;
	case SRV_DRIP:
		for (int i = 0; i < n; i++) {
			if (send(fd, resp + i, 1, MSG_NOSIGNAL) != 1)
				break;
			sleep_ms(5);
		}
		break;
	default:
		break;
	}
}

static void srv_child(struct srv *s)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* keep no copy of the test's other sockets (health checks) */
	for (int fd = 3; fd < 1024; fd++)
		if (fd != s->lfd)
			close(fd);
	for (;;) { /* until SIGKILL */
		int fd;

		if (s->mode == SRV_NOACCEPT) {
			pause();
			continue;
		}
		fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		s->sh->accepted++;
		serve_one(s, fd);
		close(fd);
	}
}

/* Listen on 127.0.0.1 or ::1, port `port` (0 = any), serve in a child
 * process answering `status` (HTTP modes) after delay_ms (SRV_SLOW).
 * 0 or -errno. */
static int srv_start_http(struct srv *s, enum srv_mode mode, __u8 family,
			  __u16 port, int status, unsigned int delay_ms)
{
	struct sockaddr_storage ss = {};
	socklen_t len;
	int one = 1, err;

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->status = status;
	s->delay_ms = delay_ms;
	s->pid = -1;
	s->sh = mmap(NULL, sizeof(*s->sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s->sh == MAP_FAILED) {
		s->sh = NULL;
		return -ENOMEM;
	}
	s->lfd = socket(family == XLB_FAMILY_V4 ? AF_INET : AF_INET6,
			SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0) {
		err = -errno;
		goto fail;
	}
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == XLB_FAMILY_V4) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	}
	if (bind(s->lfd, (struct sockaddr *)&ss, len) ||
	    listen(s->lfd, mode == SRV_NOACCEPT ? 0 : 512) ||
	    getsockname(s->lfd, (struct sockaddr *)&ss, &len)) {
		err = -errno;
		goto fail;
	}
	s->port = ntohs(family == XLB_FAMILY_V4
				? ((struct sockaddr_in *)&ss)->sin_port
				: ((struct sockaddr_in6 *)&ss)->sin6_port);
	fflush(stdout);
	s->pid = fork();
	if (s->pid < 0) {
		err = -errno;
		goto fail;
	}
	if (s->pid == 0) {
		srv_child(s);
		_exit(0);
	}
	return 0;
fail:
	if (s->lfd >= 0)
		close(s->lfd);
	munmap(s->sh, sizeof(*s->sh));
	s->sh = NULL;
	return err;
}

static int srv_start(struct srv *s, enum srv_mode mode, __u8 family,
		     __u16 port)
{
	return srv_start_http(s, mode, family, port, 200, 0);
}

/* Kill the server; its shared page stays readable until srv_free(). */
static void srv_stop(struct srv *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		close(s->lfd);
	}
	s->pid = -1;
}

static void srv_free(struct srv *s)
{
	srv_stop(s);
	if (s->sh)
		munmap(s->sh, sizeof(*s->sh));
	s->sh = NULL;
}

/* A port on which nothing listens (was bound, then closed). */
static __u16 dead_port(__u8 family)
{
	struct srv s;
	__u16 port;

	if (srv_start(&s, SRV_ACCEPT, family, 0))
		return 9; /* discard: nothing listens in a fresh netns */
	port = s.port;
	srv_free(&s);
	return port;
}

/* ------------------------------------------------------------------ */
/* TCP                                                                 */
/* ------------------------------------------------------------------ */

static void test_tcp_rise_fall(void)
{
	static const char *const names[] = { "tcp_rise_up_v4",
					     "tcp_fall_down_refused_v4",
					     "tcp_rise_again_v4" };
	struct recorder *r = calloc(1, sizeof(*r));
	struct xlb_health_status st;
	struct xlb_health_conf c;
	struct xlb_health *h = NULL;
	char why[WHY_BYTES];
	struct srv s;
	__u64 t0;
	__u16 port;

	if (!r || xlb_health_new(on_change, r, &h) ||
	    srv_start(&s, SRV_ACCEPT, XLB_FAMILY_V4, 0)) {
		for (int i = 0; i < 3; i++)
			xtest_fail(names[i], "setup failed");
		free(r);
		xlb_health_free(h);
		return;
	}
	port = s.port;
	conf_fast(&c, XLB_FAMILY_V4, port);
	c.start_down = true;
	c.rise = 3;
	c.fall = 2;
	t0 = mono_ns();
	xlb_health_add(h, 7, &c, t0);
	xlb_health_get(h, 7, &st);
	if (st.up)
		xtest_fail(names[0], "start_down target starts up");
	else if (!run_until(h, r, 1, 2000) || !r->ev[0].up ||
		 r->ev[0].id != 7 || r->ev[0].count != 3 ||
		 strcmp(r->ev[0].reason, "connect ok"))
		xtest_fail(names[0], "want [7 up x3 \"connect ok\"], got %s",
			   ev_str(r, why, sizeof(why)));
	else if (r->ev[0].at_ns - t0 < 2 * c.interval_ms * NS_PER_MS)
		xtest_fail(names[0], "up after %llu ms: faster than 3 checks "
			   "50 ms apart",
			   (unsigned long long)(r->ev[0].at_ns - t0) /
				   NS_PER_MS);
	else if (xlb_health_get(h, 7, &st) || !st.up || st.checks != 3 ||
		 st.failures || st.ok_streak != 3)
		xtest_fail(names[0], "status up %d checks %llu failures %llu "
			   "streak %u",
			   st.up, (unsigned long long)st.checks,
			   (unsigned long long)st.failures, st.ok_streak);
	else
		xtest_pass(names[0]);

	srv_free(&s);
	t0 = mono_ns();
	if (!run_until(h, r, 2, 2000) || r->ev[1].up || r->ev[1].count != 2 ||
	    strcmp(r->ev[1].reason, "connect refused"))
		xtest_fail(names[1], "want [7 down x2 \"connect refused\"] "
			   "second, got %s",
			   ev_str(r, why, sizeof(why)));
	else if (xlb_health_get(h, 7, &st) || st.up || st.fail_streak != 2 ||
		 st.since_ns != r->ev[1].at_ns)
		xtest_fail(names[1], "status up %d fail_streak %u", st.up,
			   st.fail_streak);
	else
		xtest_pass(names[1]);

	if (srv_start(&s, SRV_ACCEPT, XLB_FAMILY_V4, port)) {
		xtest_fail(names[2], "cannot listen on port %u again", port);
	} else {
		if (!run_until(h, r, 3, 2000) || !r->ev[2].up ||
		    r->ev[2].count != 3 || r->n != 3)
			xtest_fail(names[2], "want up, down, up (x3): got %s",
				   ev_str(r, why, sizeof(why)));
		else
			xtest_pass(names[2]);
		srv_free(&s);
	}
	xlb_health_free(h);
	free(r);
}

static void test_tcp_steady_up_v6(void)
{
	const char *name = "tcp_steady_up_no_event_v6";
	struct recorder *r = calloc(1, sizeof(*r));
	struct xlb_health_status st;
	struct xlb_health_conf c;
	struct xlb_health *h = NULL;
	char why[WHY_BYTES];
	struct srv s;

	if (!r || xlb_health_new(on_change, r, &h) ||
	    srv_start(&s, SRV_ACCEPT, XLB_FAMILY_V6, 0)) {
		xtest_skip(name, "no IPv6 loopback listener");
		xlb_health_free(h);
		free(r);
		return;
	}
	conf_fast(&c, XLB_FAMILY_V6, s.port);
	xlb_health_add(h, 1, &c, mono_ns());
	run_for(h, r, 300);
	xlb_health_get(h, 1, &st);
	if (r->n)
		xtest_fail(name, "an up target that passes reported %s",
			   ev_str(r, why, sizeof(why)));
	else if (!st.up || st.checks < 4 || st.failures ||
		 strcmp(st.last_reason, "connect ok"))
		xtest_fail(name, "up %d checks %llu failures %llu last \"%s\"",
			   st.up, (unsigned long long)st.checks,
			   (unsigned long long)st.failures, st.last_reason);
	else if (s.sh->accepted < 4)
		xtest_fail(name, "server saw %d connections",
			   (int)s.sh->accepted);
	else
		xtest_pass(name);
	srv_free(&s);
	xlb_health_free(h);
	free(r);
}

/* One target, one expected down event with a reason prefix. */
static void expect_down(const char *name, const struct xlb_health_conf *c,
			const char *want_reason, unsigned int max_ms)
{
	struct recorder *r = calloc(1, sizeof(*r));
	struct xlb_health *h = NULL;
	char why[WHY_BYTES];
	__u64 t0 = mono_ns();

	if (!r || xlb_health_new(on_change, r, &h)) {
		xtest_fail(name, "setup failed");
		free(r);
		return;
	}
	xlb_health_add(h, 42, c, t0);
	if (!run_until(h, r, 1, max_ms) || r->ev[0].up ||
	    r->ev[0].count != c->fall ||
	    strncmp(r->ev[0].reason, want_reason, strlen(want_reason)))
		xtest_fail(name, "want [42 down x%u \"%s...\"], got %s",
			   c->fall, want_reason, ev_str(r, why, sizeof(why)));
	else
		xtest_pass(name);
	xlb_health_free(h);
	free(r);
}

static void test_tcp_refused_v6(void)
{
	struct xlb_health_conf c;

	conf_fast(&c, XLB_FAMILY_V6, dead_port(XLB_FAMILY_V6));
	c.fall = 1;
	expect_down("tcp_refused_fall1_v6", &c, "connect refused", 1000);
}

/* Nonblocking connect to 127.0.0.1:port, left open. */
static int connect_nb(__u16 port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd >= 0)
		connect(fd, (struct sockaddr *)&a, sizeof(a));
	return fd;
}

static void test_timeout_backlog_full(void)
{
	const char *name = "tcp_timeout_accept_queue_full";
	struct xlb_health_conf c;
	int fill[3];
	struct srv s;

	if (srv_start(&s, SRV_NOACCEPT, XLB_FAMILY_V4, 0)) {
		xtest_fail(name, "cannot listen");
		return;
	}
	/* backlog 0 holds one connection; later SYNs are dropped */
	for (int i = 0; i < 3; i++)
		fill[i] = connect_nb(s.port);
	sleep_ms(20);
	conf_fast(&c, XLB_FAMILY_V4, s.port);
	c.timeout_ms = 100;
	c.interval_ms = 150;
	c.fall = 1;
	expect_down(name, &c, "timeout after 100 ms (connecting)", 1500);
	for (int i = 0; i < 3; i++)
		if (fill[i] >= 0)
			close(fill[i]);
	srv_free(&s);
}

static void test_timeout_silent_address(void)
{
	const char *name = "tcp_timeout_silent_address";
	struct xlb_health_conf c;

	/* SYNs to a MAC nobody has: the peer drops them (other host) */
	if (sh_quiet("ip link add xlbh0 type veth peer name xlbh1 && "
		     "ip addr add 192.0.2.1/24 dev xlbh0 && "
		     "ip link set xlbh0 up && ip link set xlbh1 up && "
		     "ip neigh add 192.0.2.99 lladdr 02:00:00:00:00:99 "
		     "dev xlbh0 nud permanent")) {
		xtest_skip(name, "cannot create a veth pair");
		return;
	}
	conf_fast(&c, XLB_FAMILY_V4, 80);
	inet_pton(AF_INET, "192.0.2.99", &c.addr.ip4);
	c.timeout_ms = 100;
	c.interval_ms = 150;
	c.fall = 2;
	expect_down(name, &c, "timeout after 100 ms (connecting)", 2000);
	sh_quiet("ip link del xlbh0");
}

/* A blackhole route fails the connect() at once: no timeout to wait. */
static void test_blackhole_route(void)
{
	const char *name = "tcp_blackhole_route_fails_fast";
	struct xlb_health_conf c;

	if (sh_quiet("ip route add blackhole 192.0.2.98/32")) {
		xtest_skip(name, "cannot add a blackhole route");
		return;
	}
	conf_fast(&c, XLB_FAMILY_V4, 80);
	inet_pton(AF_INET, "192.0.2.98", &c.addr.ip4);
	c.timeout_ms = 1000;
	c.fall = 1;
	expect_down(name, &c, "connect: Invalid argument", 500);
	sh_quiet("ip route del blackhole 192.0.2.98/32");
}

static void test_unreachable(void)
{
	struct xlb_health_conf c;

	/* no route at all in the namespace for 203.0.113.0/24 */
	conf_fast(&c, XLB_FAMILY_V4, 80);
	inet_pton(AF_INET, "203.0.113.7", &c.addr.ip4);
	c.fall = 1;
	expect_down("tcp_network_unreachable", &c, "network unreachable",
		    1000);
}

/* ------------------------------------------------------------------ */
/* HTTP                                                                */
/* ------------------------------------------------------------------ */

struct http_case {
	const char *name;
	enum srv_mode mode;
	int status;          /* server's answer */
	unsigned int delay_ms;
	__u8 family;
	__u16 want_status;   /* conf.http_status */
	bool start_down;     /* and expect up; else expect down */
	const char *reason;  /* expected event reason (exact) */
};

static const struct http_case http_cases[] = {
	{ "http_200_up", SRV_HTTP, 200, 0, XLB_FAMILY_V4, 200, true,
	  "HTTP 200" },
	{ "http_503_down", SRV_HTTP, 503, 0, XLB_FAMILY_V4, 200, false,
	  "HTTP 503 (want 200)" },
	{ "http_garbage_down", SRV_GARBAGE, 200, 0, XLB_FAMILY_V4, 200, false,
	  "bad HTTP status line" },
	{ "http_slow_timeout", SRV_SLOW, 200, 600, XLB_FAMILY_V4, 200, false,
	  "timeout after 100 ms (waiting for the status line)" },
	{ "http_drip_partial_reads_up", SRV_DRIP, 200, 0, XLB_FAMILY_V4, 200,
	  true, "HTTP 200" },
	{ "http_closed_without_answer", SRV_CLOSE, 200, 0, XLB_FAMILY_V4, 200,
	  false, "connection closed before the status line" },
	{ "http_default_accepts_301", SRV_HTTP, 301, 0, XLB_FAMILY_V4, 0,
	  true, "HTTP 301" },
	{ "http_default_rejects_404", SRV_HTTP, 404, 0, XLB_FAMILY_V4, 0,
	  false, "HTTP 404 (want 2xx or 3xx)" },
	{ "http_exact_204_up", SRV_HTTP, 204, 0, XLB_FAMILY_V4, 204, true,
	  "HTTP 204" },
	{ "http_200_up_v6", SRV_HTTP, 200, 0, XLB_FAMILY_V6, 200, true,
	  "HTTP 200" },
};

static void test_http_case(const struct http_case *tc)
{
	struct recorder *r = calloc(1, sizeof(*r));
	struct xlb_health_conf c;
	struct xlb_health *h = NULL;
	char why[WHY_BYTES];
	struct srv s;

	if (!r || xlb_health_new(on_change, r, &h) ||
	    srv_start_http(&s, tc->mode, tc->family, 0, tc->status,
			   tc->delay_ms)) {
		xtest_fail(tc->name, "setup failed");
		xlb_health_free(h);
		free(r);
		return;
	}
	conf_fast(&c, tc->family, s.port);
	c.kind = XLB_HEALTH_HTTP;
	snprintf(c.http_path, sizeof(c.http_path), "/healthz");
	c.http_status = tc->want_status;
	c.start_down = tc->start_down;
	c.timeout_ms = tc->mode == SRV_DRIP ? 1000 : 100;
	c.interval_ms = tc->mode == SRV_DRIP ? 100 : 60;
	xlb_health_add(h, 5, &c, mono_ns());
	if (!run_until(h, r, 1, 3000) || r->ev[0].up != tc->start_down ||
	    r->ev[0].count != (tc->start_down ? c.rise : c.fall) ||
	    strcmp(r->ev[0].reason, tc->reason))
		xtest_fail(tc->name, "want [5 %s x%u \"%s\"], got %s",
			   tc->start_down ? "up" : "down",
			   tc->start_down ? c.rise : c.fall, tc->reason,
			   ev_str(r, why, sizeof(why)));
	else
		xtest_pass(tc->name);
	srv_free(&s);
	xlb_health_free(h);
	free(r);
}

struct request_case {
	const char *name;
	__u8 family;
	const char *path; /* conf */
	const char *host; /* conf */
	const char *want_first_lines; /* %u = the server's port */
};

static const struct request_case request_cases[] = {
	{ "http_request_path_and_host", XLB_FAMILY_V4, "/healthz?full=1",
	  "app.example",
	  "GET /healthz?full=1 HTTP/1.0\r\nHost: app.example\r\n" },
	{ "http_request_defaults_v4", XLB_FAMILY_V4, "", "",
	  "GET / HTTP/1.0\r\nHost: 127.0.0.1:%u\r\n" },
	{ "http_request_defaults_v6", XLB_FAMILY_V6, "", "",
	  "GET / HTTP/1.0\r\nHost: [::1]:%u\r\n" },
};

static void test_request_case(const struct request_case *tc)
{
	struct recorder *r = calloc(1, sizeof(*r));
	struct xlb_health_conf c;
	struct xlb_health *h = NULL;
	char want[256];
	struct srv s;

	if (!r || xlb_health_new(on_change, r, &h) ||
	    srv_start(&s, SRV_HTTP, tc->family, 0)) {
		xtest_fail(tc->name, "setup failed");
		xlb_health_free(h);
		free(r);
		return;
	}
	conf_fast(&c, tc->family, s.port);
	c.kind = XLB_HEALTH_HTTP;
	c.start_down = true;
	c.rise = 1;
	snprintf(c.http_path, sizeof(c.http_path), "%s", tc->path);
	snprintf(c.http_host, sizeof(c.http_host), "%s", tc->host);
	snprintf(want, sizeof(want), tc->want_first_lines, s.port);
	xlb_health_add(h, 1, &c, mono_ns());
	run_until(h, r, 1, 2000);
	srv_stop(&s);
	if (strncmp(s.sh->req, want, strlen(want)))
		xtest_fail(tc->name, "request starts \"%.80s\", want \"%s\"",
			   s.sh->req, want);
	else if (!strstr(s.sh->req, "\r\nConnection: close\r\n") ||
		 s.sh->req_len < 4 ||
		 strcmp(s.sh->req + s.sh->req_len - 4, "\r\n\r\n"))
		xtest_fail(tc->name, "request \"%s\" lacks Connection: close "
			   "or the blank line",
			   s.sh->req);
	else if (r->n != 1 || !r->ev[0].up)
		xtest_fail(tc->name, "target did not come up");
	else
		xtest_pass(tc->name);
	srv_free(&s);
	xlb_health_free(h);
	free(r);
}

/* ------------------------------------------------------------------ */
/* Runtime changes                                                     */
/* ------------------------------------------------------------------ */

static void test_runtime_changes(void)
{
	const char *name = "runtime_add_update_remove";
	struct recorder *r = calloc(1, sizeof(*r));
	struct xlb_health_conf good, slow, dead, bad;
	struct xlb_health_status st;
	struct xlb_health *h = NULL;
	struct srv s_good, s_slow;
	char why[WHY_BYTES];
	int rc;

	if (!r || xlb_health_new(on_change, r, &h) ||
	    srv_start(&s_good, SRV_ACCEPT, XLB_FAMILY_V4, 0)) {
		xtest_fail(name, "setup failed");
		xlb_health_free(h);
		free(r);
		return;
	}
	if (srv_start_http(&s_slow, SRV_SLOW, XLB_FAMILY_V4, 0, 200, 1000)) {
		xtest_fail(name, "setup failed");
		srv_free(&s_good);
		xlb_health_free(h);
		free(r);
		return;
	}
	conf_fast(&good, XLB_FAMILY_V4, s_good.port);
	conf_fast(&slow, XLB_FAMILY_V4, s_slow.port);
	slow.kind = XLB_HEALTH_HTTP;
	slow.timeout_ms = 300;
	slow.fall = 1;
	conf_fast(&dead, XLB_FAMILY_V4, dead_port(XLB_FAMILY_V4));
	dead.fall = 1;
	bad = good;
	bad.rise = 0;

	xlb_health_add(h, 1, &good, mono_ns());
	xlb_health_add(h, 2, &slow, mono_ns());
	if ((rc = xlb_health_add(h, 1, &good, mono_ns())) != -EEXIST) {
		xtest_fail(name, "second add of id 1 gave %d, want -EEXIST",
			   rc);
		goto out;
	}
	if ((rc = xlb_health_add(h, 3, &bad, mono_ns())) != -EINVAL ||
	    (rc = xlb_health_update(h, 1, &bad, mono_ns())) != -EINVAL) {
		xtest_fail(name, "rise 0 accepted (%d)", rc);
		goto out;
	}
	if (xlb_health_remove(h, 99) != -ENOENT ||
	    xlb_health_update(h, 99, &good, mono_ns()) != -ENOENT ||
	    xlb_health_get(h, 99, &st) != -ENOENT) {
		xtest_fail(name, "unknown id not -ENOENT");
		goto out;
	}
	/* the slow check is in flight after 100 ms: remove it there */
	run_for(h, r, 100);
	if (xlb_health_remove(h, 2) || xlb_health_count(h) != 1 ||
	    xlb_health_get(h, 2, &st) != -ENOENT) {
		xtest_fail(name, "remove of id 2 failed");
		goto out;
	}
	/* add a dead target at runtime: it goes down alone */
	xlb_health_add(h, 3, &dead, mono_ns());
	if (!run_until(h, r, 1, 1000) || r->ev[0].id != 3 || r->ev[0].up) {
		xtest_fail(name, "want [3 down] first, got %s",
			   ev_str(r, why, sizeof(why)));
		goto out;
	}
	/* point id 1 at the dead port: fall 2 failures */
	dead.fall = 2;
	xlb_health_update(h, 1, &dead, mono_ns());
	if (!run_until(h, r, 2, 1000) || r->ev[1].id != 1 || r->ev[1].up ||
	    r->ev[1].count != 2) {
		xtest_fail(name, "want [1 down x2] after update, got %s",
			   ev_str(r, why, sizeof(why)));
		goto out;
	}
	run_for(h, r, 400); /* id 2's server answers now: nothing may come */
	if (r->n != 2) {
		xtest_fail(name, "events after the changes: %s",
			   ev_str(r, why, sizeof(why)));
		goto out;
	}
	if (xlb_health_remove(h, 1) || xlb_health_remove(h, 3) ||
	    xlb_health_count(h) || xlb_health_next_deadline_ns(h)) {
		xtest_fail(name, "engine not empty after removing all");
		goto out;
	}
	xtest_pass(name);
out:
	srv_free(&s_good);
	srv_free(&s_slow);
	xlb_health_free(h);
	free(r);
}

/* An update that changes nothing (a reload) keeps the schedule; a real
 * change reschedules from now. */
static void test_update_same_conf(void)
{
	const char *name = "update_same_conf_keeps_schedule";
	struct xlb_health_conf c, same, other;
	struct xlb_health *h = NULL;
	const __u64 t0 = mono_ns();
	__u64 d1, d2;

	if (xlb_health_new(NULL, NULL, &h)) {
		xtest_fail(name, "setup failed");
		return;
	}
	conf_fast(&c, XLB_FAMILY_V4, 9);
	xlb_health_add(h, 1, &c, t0);
	same = c;
	same.start_down = true;
	other = c;
	other.interval_ms = 70;
	xlb_health_update(h, 1, &same, t0 + 5 * NS_PER_MS);
	d1 = xlb_health_next_deadline_ns(h);
	xlb_health_update(h, 1, &other, t0 + 7 * NS_PER_MS);
	d2 = xlb_health_next_deadline_ns(h);
	if (d1 != t0 || d2 != t0 + 7 * NS_PER_MS)
		xtest_fail(name, "deadlines +%lld and +%lld ns, want 0 and "
			   "7000000",
			   (long long)(d1 - t0), (long long)(d2 - t0));
	else
		xtest_pass(name);
	xlb_health_free(h);
}

static void test_callback_changes(void)
{
	const char *name = "callback_removes_and_adds";
	struct recorder *r = calloc(1, sizeof(*r));
	struct xlb_health_conf dead;
	struct xlb_health *h = NULL;
	char why[WHY_BYTES];

	if (!r || xlb_health_new(on_change, r, &h)) {
		xtest_fail(name, "setup failed");
		free(r);
		return;
	}
	conf_fast(&dead, XLB_FAMILY_V4, dead_port(XLB_FAMILY_V4));
	dead.fall = 1;
	r->h = h;
	r->remove_on_down = true;
	r->add_on_down_id = 11;
	r->add_conf = dead;
	xlb_health_add(h, 10, &dead, mono_ns());
	/* 10 goes down, the callback removes it and adds 11, which goes
	 * down, is removed and re-adds 11 ... */
	if (!run_until(h, r, 3, 2000))
		xtest_fail(name, "want 3 events, got %s",
			   ev_str(r, why, sizeof(why)));
	else if (r->ev[0].id != 10 || r->ev[1].id != 11 || r->ev[2].id != 11)
		xtest_fail(name, "want ids 10, 11, 11: %s",
			   ev_str(r, why, sizeof(why)));
	else if (r->remove_rc || r->add_rc || r->nested_rc != -EBUSY)
		xtest_fail(name, "in callback: remove %d add %d process %d "
			   "(want 0, 0, -EBUSY)",
			   r->remove_rc, r->add_rc, r->nested_rc);
	else if (xlb_health_count(h) != 1)
		xtest_fail(name, "%zu targets, want 1", xlb_health_count(h));
	else
		xtest_pass(name);
	xlb_health_free(h);
	free(r);
}

static void test_many_targets(void)
{
	const char *name = "many_targets_200_up";
	struct recorder *r = calloc(1, sizeof(*r));
	struct xlb_health_conf c;
	struct xlb_health *h = NULL;
	char why[WHY_BYTES];
	bool seen[MAX_TARGETS] = {};
	struct srv s;
	int distinct = 0;

	if (!r || xlb_health_new(on_change, r, &h) ||
	    srv_start(&s, SRV_ACCEPT, XLB_FAMILY_V4, 0)) {
		xtest_fail(name, "setup failed");
		xlb_health_free(h);
		free(r);
		return;
	}
	conf_fast(&c, XLB_FAMILY_V4, s.port);
	c.start_down = true;
	c.rise = 1;
	c.interval_ms = 200;
	c.timeout_ms = 500;
	c.jitter_pct = 20;
	for (__u64 id = 0; id < MAX_TARGETS; id++)
		xlb_health_add(h, 1000 + id * 7919, &c, mono_ns());
	run_until(h, r, MAX_TARGETS, 3000);
	for (int i = 0; i < r->n; i++) {
		__u64 k = (r->ev[i].id - 1000) / 7919;

		if (k < MAX_TARGETS && r->ev[i].up && !seen[k]) {
			seen[k] = true;
			distinct++;
		}
	}
	if (distinct != MAX_TARGETS || r->n != MAX_TARGETS)
		xtest_fail(name,
			   "%d of %d targets up, %d events (first: %.200s)",
			   distinct, MAX_TARGETS, r->n,
			   ev_str(r, why, sizeof(why)));
	else
		xtest_pass(name);
	srv_free(&s);
	xlb_health_free(h);
	free(r);
}

/* The fd alone wakes the loop at the next deadline. */
static void test_fd_wakes(void)
{
	const char *name = "fd_readable_at_deadline";
	struct recorder *r = calloc(1, sizeof(*r));
	struct xlb_health_status st;
	struct xlb_health_conf c;
	struct xlb_health *h = NULL;
	struct pollfd p;
	__u64 t0, due, woke;
	int rc;

	if (!r || xlb_health_new(on_change, r, &h)) {
		xtest_fail(name, "setup failed");
		free(r);
		return;
	}
	p.fd = xlb_health_fd(h);
	p.events = POLLIN;
	if (poll(&p, 1, 0) != 0 || xlb_health_next_deadline_ns(h)) {
		xtest_fail(name, "empty engine is readable or has a deadline");
		goto out;
	}
	conf_fast(&c, XLB_FAMILY_V4, dead_port(XLB_FAMILY_V4));
	c.interval_ms = 120;
	t0 = mono_ns();
	xlb_health_add(h, 1, &c, t0);
	if (xlb_health_next_deadline_ns(h) != t0 || poll(&p, 1, 100) != 1) {
		xtest_fail(name, "a target due now does not make the fd "
			   "readable");
		goto out;
	}
	/* the check to the dead port ends (refused) at once or soon */
	rc = xlb_health_process(h, mono_ns());
	for (int i = 0; i < 20 && !xlb_health_get(h, 1, &st) && !st.checks;
	     i++) {
		poll(&p, 1, 50);
		rc = xlb_health_process(h, mono_ns());
	}
	due = xlb_health_next_deadline_ns(h);
	if (rc < 0 || due < t0 + c.interval_ms * NS_PER_MS) {
		xtest_fail(name, "next deadline %lld ms after start, want the "
			   "interval (%u ms); rc %d",
			   (long long)(due - t0) / 1000000, c.interval_ms, rc);
		goto out;
	}
	if (poll(&p, 1, 0) != 0) {
		xtest_fail(name, "fd readable before the deadline");
		goto out;
	}
	poll(&p, 1, 1000);
	woke = mono_ns();
	if (woke + 1000000 < due || woke > due + 50 * NS_PER_MS)
		xtest_fail(name, "woke %lld ms from the deadline",
			   ((long long)woke - (long long)due) / 1000000);
	else
		xtest_pass(name);
out:
	xlb_health_free(h);
	free(r);
}

/* ------------------------------------------------------------------ */
/* Pure helpers                                                        */
/* ------------------------------------------------------------------ */

struct status_case {
	const char *in;
	int rc;
	int status;
};

static const struct status_case status_cases[] = {
	{ "HTTP/1.1 200 OK\r\n", 1, 200 },
	{ "HTTP/1.0 503 Service Unavailable\r\n", 1, 503 },
	{ "HTTP/1.1 204\r\n", 1, 204 },
	{ "HTTP/1.1 301\n", 1, 301 },
	{ "HTTP/2.0 404 Not Found", 1, 404 },
	{ "", 0, 0 },
	{ "H", 0, 0 },
	{ "HTTP/1.1 20", 0, 0 },
	{ "HTTP/1.1 200", 0, 0 },
	{ "http/1.1 200 OK\r\n", -EBADMSG, 0 },
	{ "HTTP/1.1 20x OK\r\n", -EBADMSG, 0 },
	{ "HTTP/1.1 2000 OK\r\n", -EBADMSG, 0 },
	{ "HTTP/1.1  200 OK\r\n", -EBADMSG, 0 },
	{ "HTTP/11 200 OK\r\n", -EBADMSG, 0 },
	{ "HTTP/1.1 099 OK\r\n", -EBADMSG, 0 },
	{ "HTTP/1.1 599 Custom\r\n", 1, 599 },
	{ "HTTP/1.1 600 OK\r\n", -EBADMSG, 0 },
	{ "HTTP/1.1 999 OK\r\n", -EBADMSG, 0 },
	{ "<html>", -EBADMSG, 0 },
	{ "SSH-2.0-OpenSSH_9.2\r\n", -EBADMSG, 0 },
	{ "\r\nHTTP/1.1 200 OK\r\n", -EBADMSG, 0 },
};

static void test_parse_status(void)
{
	const char *name = "parse_status_line_table";
	int bad = 0;

	for (size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]);
	     i++) {
		const struct status_case *tc = &status_cases[i];
		int status = -1;
		int rc = xlb_health_parse_status_line(tc->in, strlen(tc->in),
						      &status);

		if (rc != tc->rc || (rc == 1 && status != tc->status)) {
			printf("  \"%s\": rc %d status %d, want %d %d\n",
			       tc->in, rc, status, tc->rc, tc->status);
			bad++;
		}
		/* every prefix of a good line is "need more", never bad */
		if (tc->rc == 1)
			for (size_t k = 0; k < 13; k++)
				if (xlb_health_parse_status_line(tc->in, k,
								 &status)) {
					printf("  prefix %zu of \"%s\" "
					       "decided\n",
					       k, tc->in);
					bad++;
				}
	}
	if (bad)
		xtest_fail(name, "%d mismatches (above)", bad);
	else
		xtest_pass(name);
}

struct conf_case {
	const char *name;
	void (*mutate)(struct xlb_health_conf *c);
	const char *want_err; /* substring; NULL = valid */
};

static void m_none(struct xlb_health_conf *c) {}
static void m_port0(struct xlb_health_conf *c) { c->port = 0; }
static void m_family(struct xlb_health_conf *c) { c->family = 5; }
static void m_interval(struct xlb_health_conf *c) { c->interval_ms = 5; }
static void m_timeout(struct xlb_health_conf *c) { c->timeout_ms = 0; }
static void m_rise(struct xlb_health_conf *c) { c->rise = 0; }
static void m_fall(struct xlb_health_conf *c) { c->fall = 1001; }
static void m_jitter(struct xlb_health_conf *c) { c->jitter_pct = 51; }
static void m_kind(struct xlb_health_conf *c) { c->kind = 7; }

static void m_http_ok(struct xlb_health_conf *c)
{
	c->kind = XLB_HEALTH_HTTP;
	strcpy(c->http_path, "/status?x=1");
	strcpy(c->http_host, "www.example.com");
	c->http_status = 204;
}

static void m_path_rel(struct xlb_health_conf *c)
{
	m_http_ok(c);
	strcpy(c->http_path, "healthz");
}

static void m_path_space(struct xlb_health_conf *c)
{
	m_http_ok(c);
	strcpy(c->http_path, "/a b");
}

/* '#' would start a comment where xlb save writes the path */
static void m_path_hash(struct xlb_health_conf *c)
{
	m_http_ok(c);
	strcpy(c->http_path, "/a#b");
}

static void m_host_hash(struct xlb_health_conf *c)
{
	m_http_ok(c);
	strcpy(c->http_host, "a#b");
}

static void m_host_crlf(struct xlb_health_conf *c)
{
	m_http_ok(c);
	strcpy(c->http_host, "a\r\nX-Evil: 1");
}

static void m_path_unterminated(struct xlb_health_conf *c)
{
	m_http_ok(c);
	memset(c->http_path, 'a', sizeof(c->http_path));
	c->http_path[0] = '/';
}

static void m_status(struct xlb_health_conf *c)
{
	m_http_ok(c);
	c->http_status = 99;
}

/* HTTP-only fields are not checked for TCP checks */
static void m_tcp_ignores_path(struct xlb_health_conf *c)
{
	strcpy(c->http_path, "no slash");
}

static const struct conf_case conf_cases[] = {
	{ "conf_default_ok", m_none, NULL },
	{ "conf_port0", m_port0, "port 0 out of range 1-65535" },
	{ "conf_family", m_family, "family 5" },
	{ "conf_interval_min", m_interval, "interval 5 ms out of range" },
	{ "conf_timeout0", m_timeout, "timeout 0 ms out of range" },
	{ "conf_rise0", m_rise, "rise 0 out of range 1-1000" },
	{ "conf_fall_max", m_fall, "fall 1001 out of range 1-1000" },
	{ "conf_jitter", m_jitter, "jitter 51% out of range 0-50%" },
	{ "conf_kind", m_kind, "kind 7" },
	{ "conf_http_ok", m_http_ok, NULL },
	{ "conf_http_path_relative", m_path_rel,
	  "path \"healthz\" must start with '/'" },
	{ "conf_http_path_space", m_path_space, "no spaces" },
	{ "conf_http_host_crlf", m_host_crlf, "Host" },
	{ "conf_http_path_hash", m_path_hash,
	  "path \"/a#b\": no '#' (a fragment is not sent to the server)" },
	{ "conf_http_host_hash", m_host_hash, "Host \"a#b\": no '#'" },
	{ "conf_http_path_unterminated", m_path_unterminated, "at most 255" },
	{ "conf_http_status", m_status, "status 99 out of range 100-599" },
	{ "conf_tcp_ignores_http_fields", m_tcp_ignores_path, NULL },
};

static void test_conf_check(void)
{
	for (size_t i = 0; i < sizeof(conf_cases) / sizeof(conf_cases[0]);
	     i++) {
		const struct conf_case *tc = &conf_cases[i];
		struct xlb_health_conf c;
		char err[256] = "";
		int rc;

		conf_fast(&c, XLB_FAMILY_V4, 80);
		tc->mutate(&c);
		rc = xlb_health_conf_check(&c, err, sizeof(err));
		if (!tc->want_err && rc)
			xtest_fail(tc->name, "rejected: %s", err);
		else if (tc->want_err && (rc != -EINVAL ||
					  !strstr(err, tc->want_err)))
			xtest_fail(tc->name, "rc %d message \"%s\", want "
				   "-EINVAL and \"%s\"",
				   rc, err, tc->want_err);
		else
			xtest_pass(tc->name);
	}
}

struct ramp_case {
	const char *name;
	__u64 window_ms;
	__u32 steps;
	__u32 weight;
	__u64 elapsed_ms; /* since up; may be "before" via negative_ms */
	__u32 want_weight;
	__u64 want_next_ms; /* from up_since; 0 = ramp over */
};

static const struct ramp_case ramp_cases[] = {
	{ "ramp_off", 0, 0, 100, 0, 100, 0 },
	{ "ramp_start_10pct", 10000, 10, 100, 0, 10, 1000 },
	{ "ramp_mid_step", 10000, 10, 100, 999, 10, 1000 },
	{ "ramp_second_step", 10000, 10, 100, 1000, 20, 2000 },
	{ "ramp_half", 10000, 10, 100, 5500, 60, 6000 },
	{ "ramp_last_step", 10000, 10, 100, 9999, 100, 10000 },
	{ "ramp_done", 10000, 10, 100, 10000, 100, 0 },
	{ "ramp_long_after", 10000, 10, 100, 3600000, 100, 0 },
	{ "ramp_weight1_min1", 10000, 10, 1, 0, 1, 1000 },
	{ "ramp_weight3_ceil", 10000, 10, 3, 0, 1, 1000 },
	{ "ramp_weight3_mid", 10000, 10, 3, 4000, 2, 5000 },
	{ "ramp_weight0_stays0", 10000, 10, 0, 0, 0, 1000 },
	{ "ramp_default_steps", 60000, 0, 50, 0, 5, 6000 },
	{ "ramp_4_steps", 8000, 4, 65535, 2000, 32768, 4000 },
	{ "ramp_max_weight_end", 8000, 4, 65535, 7999, 65535, 8000 },
};

static void test_slow_start(void)
{
	const __u64 up = 5000 * NS_PER_MS; /* arbitrary monotonic time */

	for (size_t i = 0; i < sizeof(ramp_cases) / sizeof(ramp_cases[0]);
	     i++) {
		const struct ramp_case *tc = &ramp_cases[i];
		struct xlb_slow_start s = { tc->window_ms * NS_PER_MS,
					    tc->steps };
		__u64 now = up + tc->elapsed_ms * NS_PER_MS;
		__u32 w = xlb_slow_start_weight(&s, tc->weight, up, now);
		__u64 next = xlb_slow_start_next_ns(&s, up, now);
		__u64 want_next = tc->want_next_ms
					  ? up + tc->want_next_ms * NS_PER_MS
					  : 0;

		if (w != tc->want_weight || next != want_next)
			xtest_fail(tc->name, "weight %u next %llu ms, want %u "
				   "%llu ms",
				   w,
				   next ? (unsigned long long)(next - up) /
						  NS_PER_MS
					: 0ULL,
				   tc->want_weight,
				   (unsigned long long)tc->want_next_ms);
		else
			xtest_pass(tc->name);
	}
}

/* Walking the ramp with next_ns visits every step once, weights only
 * grow, and a clock before up_since counts as the start. */
static void test_slow_start_walk(void)
{
	const char *name = "ramp_walk_monotonic";
	struct xlb_slow_start s = { 3 * 1000 * NS_PER_MS, 7 };
	const __u64 up = 123456789;
	__u64 now = up;
	__u32 prev = 0, changes = 0;

	if (xlb_slow_start_weight(&s, 70, up, up - 1000) != 10) {
		xtest_fail(name, "before up_since: %u, want 10",
			   xlb_slow_start_weight(&s, 70, up, up - 1000));
		return;
	}
	for (int guard = 0; guard < 100 && now; guard++) {
		__u32 w = xlb_slow_start_weight(&s, 70, up, now);

		if (w < prev) {
			xtest_fail(name, "weight fell from %u to %u", prev, w);
			return;
		}
		changes += w != prev;
		prev = w;
		now = xlb_slow_start_next_ns(&s, up, now);
	}
	if (prev != 70 || changes != 7)
		xtest_fail(name, "ended at %u after %u changes, want 70 and 7",
			   prev, changes);
	else
		xtest_pass(name);
}

static void test_port_range(void)
{
	const char *name = "local_port_range";
	__u16 lo = 0, hi = 0;
	int rc = xlb_local_port_range(&lo, &hi);

	if (rc)
		xtest_fail(name, "rc %d", rc);
	else if (lo == 0 || lo > hi)
		xtest_fail(name, "range %u-%u", lo, hi);
	else if (lo <= 32767)
		xtest_fail(name, "ephemeral range %u-%u overlaps the default "
			   "NAT range 1024-32767",
			   lo, hi);
	else
		xtest_pass(name);
}

/* xlb show's health column after exactly one check: "1 check", not
 * "1 checks". */
static void test_show_one_check(void)
{
	const char *name = "show_one_check_singular";
	struct xlb_config_service *svc;
	struct xlb_config_backend *b;
	struct xlb_health_status st = {};
	struct xlb_health_conf c;
	struct xlb_health *h = NULL;
	struct xlb_endpoint vip = { .family = XLB_FAMILY_V4, .port = 80 };
	struct xlb_config cfg;
	struct xlb_show s = { .ifname = "t", .pid = 1 };
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	xlb_config_init(&cfg);
	inet_pton(AF_INET, "127.0.0.1", &vip.addr.ip4);
	svc = xlb_config_service_add(&cfg, &vip, IPPROTO_TCP);
	b = svc ? xlb_config_backend_add(svc, &vip, 1) : NULL;
	if (!b || xlb_health_new(NULL, NULL, &h)) {
		xtest_fail(name, "setup failed");
		goto out;
	}
	svc->health = true;
	svc->id = 0;
	b->id = 1;
	conf_fast(&c, XLB_FAMILY_V4, dead_port(XLB_FAMILY_V4));
	c.interval_ms = 10000; /* one check, the next one far away */
	xlb_health_add(h, 1, &c, mono_ns());
	for (int i = 0; i < 40 && !xlb_health_get(h, 1, &st) && !st.checks;
	     i++) {
		struct pollfd p = { .fd = xlb_health_fd(h), .events = POLLIN };

		xlb_health_process(h, mono_ns());
		poll(&p, 1, 50);
	}
	if (st.checks != 1) {
		xtest_fail(name, "%llu checks after the first one",
			   (unsigned long long)st.checks);
		goto out;
	}
	s.c = &cfg;
	s.health = h;
	s.now_ns = mono_ns();
	f = open_memstream(&text, &len);
	if (!f) {
		xtest_fail(name, "open_memstream");
		goto out;
	}
	xlb_show_text(&s, f);
	fclose(f);
	if (!strstr(text, ", 1 check, 1 failed"))
		xtest_fail(name, "show says: %s", text);
	else
		xtest_pass(name);
out:
	free(text);
	xlb_health_free(h);
	xlb_config_free(&cfg);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);

	/* pure functions first: no namespace needed */
	test_parse_status();
	test_conf_check();
	test_slow_start();
	test_slow_start_walk();

	if (geteuid() != 0 || syscall(SYS_unshare, CLONE_NEWNET) || lo_up()) {
		xtest_skip("health_network_cases",
			   "needs root for a private network namespace (%s)",
			   strerror(errno));
		return xtest_done();
	}
	test_port_range();
	test_tcp_rise_fall();
	test_tcp_steady_up_v6();
	test_tcp_refused_v6();
	test_timeout_backlog_full();
	test_timeout_silent_address();
	test_blackhole_route();
	test_unreachable();
	for (size_t i = 0; i < sizeof(http_cases) / sizeof(http_cases[0]); i++)
		test_http_case(&http_cases[i]);
	for (size_t i = 0;
	     i < sizeof(request_cases) / sizeof(request_cases[0]); i++)
		test_request_case(&request_cases[i]);
	test_runtime_changes();
	test_update_same_conf();
	test_callback_changes();
	test_many_targets();
	test_fd_wakes();
	test_show_one_check();
	return xtest_done();
}
