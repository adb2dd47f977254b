// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The control channel's framing and deadlines (src/ctl.c), over socket
 * pairs: a request reads back as the argv that was sent, a reply as the
 * exit code and texts; a peer that sends its request a byte at a time,
 * or reads no reply, holds the daemon at most XLB_CTL_IO_TIMEOUT_MS for
 * the whole exchange (the daemon's loop waits meanwhile).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "conntrack.h"
#include "ctl.h"
#include "xtest.h"

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			char why_[256];                                    \
			snprintf(why_, sizeof(why_), __VA_ARGS__);         \
			xtest_fail(name, "line %d: %s: %s", __LINE__, #cond, \
				   why_);                                  \
			goto out;                                          \
		}                                                          \
	} while (0)

/* "show" and "-j" framed as the client sends them (with the final NUL) */
static const char request[] = "\x08\x00\x00\x00show\0-j";

struct trickle {
	int fd;
	int gap_ms;
};

/* Send the request one byte every gap_ms (the whole takes longer than
 * the daemon's deadline), then stop at the first error. */
static void *trickle_send(void *arg)
{
	const struct trickle *t = arg;
	struct timespec gap = { .tv_sec = t->gap_ms / 1000,
				.tv_nsec = (t->gap_ms % 1000) * 1000000L };

	for (size_t i = 0; i < sizeof(request); i++) {
		if (send(t->fd, request + i, 1, MSG_NOSIGNAL) != 1)
			break;
		nanosleep(&gap, NULL);
	}
	return NULL;
}

static double ms_since(__u64 t0)
{
	return (xlb_now_ns() - t0) / 1e6;
}

static void t_request_round_trip(void)
{
	const char *name = "request_reads_back_as_sent";
	char **argv = NULL;
	int sv[2] = { -1, -1 }, argc = 0, rc;

	CHECK(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv), "%s",
	      strerror(errno));
	CHECK(send(sv[0], request, sizeof(request), 0) ==
		      (ssize_t)sizeof(request),
	      "send");
	rc = xlb_ctl_read_request(sv[1], &argc, &argv);
	CHECK(!rc, "%s", strerror(-rc));
	CHECK(argc == 2 && !strcmp(argv[0], "show") && !strcmp(argv[1], "-j"),
	      "argc %d", argc);
	xtest_pass(name);
out:
	free(argv);
	close(sv[0]);
	close(sv[1]);
}

static void t_reply_round_trip(void)
{
	const char *name = "reply_reads_back_as_sent";
	__u32 hdr[3];
	char buf[16] = "";
	int sv[2] = { -1, -1 }, rc;

	CHECK(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv), "%s",
	      strerror(errno));
	rc = xlb_ctl_write_reply(sv[1], 1, "out\n", 4, "err\n", 4);
	CHECK(!rc, "%s", strerror(-rc));
	CHECK(recv(sv[0], hdr, sizeof(hdr), MSG_WAITALL) == sizeof(hdr) &&
		      hdr[0] == 1 && hdr[1] == 4 && hdr[2] == 4,
	      "header");
	CHECK(recv(sv[0], buf, 8, MSG_WAITALL) == 8 &&
		      !memcmp(buf, "out\nerr\n", 8),
	      "texts: %.8s", buf);
	xtest_pass(name);
out:
	close(sv[0]);
	close(sv[1]);
}

/* 12 bytes at 300 ms each would take ~3.6 s: the read gives up at the
 * deadline, not 2 s after the last byte. */
static void t_trickled_request(void)
{
	const char *name = "trickled_request_bounded_by_deadline";
	struct trickle t = { .gap_ms = 300 };
	char **argv = NULL;
	pthread_t th;
	bool started = false;
	int sv[2] = { -1, -1 }, argc = 0, rc;
	__u64 t0;
	double took;

	CHECK(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv), "%s",
	      strerror(errno));
	t.fd = sv[0];
	t0 = xlb_now_ns();
	CHECK(!pthread_create(&th, NULL, trickle_send, &t), "thread");
	started = true;
	rc = xlb_ctl_read_request(sv[1], &argc, &argv);
	took = ms_since(t0);
	CHECK(rc == -ETIMEDOUT, "rc %d (%s) after %.0f ms", rc, strerror(-rc),
	      took);
	CHECK(took >= XLB_CTL_IO_TIMEOUT_MS - 50 &&
		      took < XLB_CTL_IO_TIMEOUT_MS + 500,
	      "gave up after %.0f ms", took);
	printf("  a request sent a byte every 300 ms: given up after %.0f ms\n",
	       took);
	xtest_pass(name);
out:
	free(argv);
	/* the sender stops at its next byte */
	close(sv[1]);
	if (started)
		pthread_join(th, NULL);
	close(sv[0]);
}

/* A reply larger than the socket buffers, to a peer that never reads. */
static void t_unread_reply(void)
{
	const char *name = "unread_reply_bounded_by_deadline";
	size_t len = 8u << 20;
	char *big = calloc(1, len);
	int sv[2] = { -1, -1 }, rc;
	__u64 t0;
	double took;

	CHECK(big, "oom");
	CHECK(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv), "%s",
	      strerror(errno));
	t0 = xlb_now_ns();
	rc = xlb_ctl_write_reply(sv[1], 0, big, len, "", 0);
	took = ms_since(t0);
	CHECK(rc == -ETIMEDOUT, "rc %d (%s)", rc, strerror(-rc));
	CHECK(took >= XLB_CTL_IO_TIMEOUT_MS - 50 &&
		      took < XLB_CTL_IO_TIMEOUT_MS + 500,
	      "gave up after %.0f ms", took);
	xtest_pass(name);
out:
	free(big);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	t_request_round_trip();
	t_reply_round_trip();
	t_trickled_request();
	t_unread_reply();
	return xtest_done();
}
