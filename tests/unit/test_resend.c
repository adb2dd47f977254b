// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * src/resend.c against the kernel: a packet handed over for want of a
 * neighbour entry reaches its destination through the kernel's own
 * resolution (ARP, ND), IPv4 and IPv6; a record that is not a packet of
 * its family is refused and counted; the rate holds.
 *
 * Two throw-away network namespaces: this process unshares "lb", a forked
 * child unshares "peer", joined by a veth pair:
 *
 *   lb: xlbt0 198.51.100.1/24 2001:db8:100::1/64
 *     <-> peer: xlbt1 198.51.100.2/24 2001:db8:100::2/64, UDP port 40000
 *
 * lb has no neighbour entry for the peer: the kernel resolves it when the
 * first packet goes.  Nothing is named; both namespaces vanish with their
 * processes.  Documentation addresses only.  Without root: SKIP.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/sched.h> /* CLONE_NEWNET */

#include "fixture.h"
#include "pkt.h"
#include "resend.h"
#include "xtest.h"

#define PORT 40000
#define PAYLOAD 24
#define WAIT_MS 3000

/* The peer: bind on both families, say so, and exit with a bit per
 * family whose datagram came (1: IPv4, 2: IPv6) within WAIT_MS. */
static int peer(int ready_wr, int go_rd)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_port = htons(PORT) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(PORT) };
	struct pollfd p[2];
	int got = 0;
	char c;

	if (syscall(SYS_unshare, CLONE_NEWNET) || write(ready_wr, "u", 1) != 1 ||
	    read(go_rd, &c, 1) != 1) /* the parent configured us */
		return 64;
	p[0].fd = socket(AF_INET, SOCK_DGRAM, 0);
	p[1].fd = socket(AF_INET6, SOCK_DGRAM, 0);
	inet_pton(AF_INET, "198.51.100.2", &a4.sin_addr);
	inet_pton(AF_INET6, "2001:db8:100::2", &a6.sin6_addr);
	if (p[0].fd < 0 || p[1].fd < 0 ||
	    bind(p[0].fd, (struct sockaddr *)&a4, sizeof(a4)) ||
	    bind(p[1].fd, (struct sockaddr *)&a6, sizeof(a6)) ||
	    write(ready_wr, "b", 1) != 1)
		return 65;
	for (int ms = 0; ms < WAIT_MS && got != 3; ms += 100) {
		char buf[256];

		p[0].events = p[1].events = POLLIN;
		if (poll(p, 2, 100) < 0)
			break;
		for (int i = 0; i < 2; i++)
			if ((p[i].revents & POLLIN) &&
			    recv(p[i].fd, buf, sizeof(buf), 0) == PAYLOAD)
				got |= 1 << i;
	}
	return got;
}

/* A packet event: UDP from the lb's address to the peer's port. */
static size_t udp_event(struct xlb_packet_event *ev, int family)
{
	static __u8 frame[PKT_MAX_FRAME];
	struct pkt_spec s;
	size_t n;

	pkt_spec_init(&s);
	if (family == 4)
		pkt_spec_addrs(&s, "198.51.100.1", "198.51.100.2");
	else
		pkt_spec_addrs(&s, "2001:db8:100::1", "2001:db8:100::2");
	s.proto = IPPROTO_UDP;
	s.sport = 40001;
	s.dport = PORT;
	s.payload_len = PAYLOAD;
	n = pkt_build(&s, frame, sizeof(frame));
	memset(ev, 0, sizeof(*ev));
	ev->type = XLB_EVENT_PACKET;
	ev->family = family == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
	ev->len = n - 14;
	memcpy(ev->data, frame + 14, ev->len);
	return sizeof(*ev);
}

static void test_delivered(struct xlb_resend *r)
{
	const char *name = "resent_packets_reach_unresolved_next_hops";
	static struct xlb_packet_event ev;
	int ready[2], go[2], status = 0, rc4, rc6;
	char c, why[200] = "";
	pid_t pid;

	if (pipe(ready) || pipe(go)) {
		xtest_fail(name, "pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0)
		_exit(peer(ready[1], go[0]));
	if (pid < 0 || read(ready[0], &c, 1) != 1) {
		xtest_fail(name, "the peer did not start");
		return;
	}
	if (fx_sh("ip link add xlbt0 type veth peer name xlbt1 netns %d",
		  (int)pid) ||
	    /* no DAD: ND may start at once (link-local source) */
	    fx_sh("sysctl -qw net.ipv6.conf.xlbt0.accept_dad=0 && "
		  "ip addr add 198.51.100.1/24 dev xlbt0 && "
		  "ip addr add 2001:db8:100::1/64 dev xlbt0 nodad && "
		  "ip link set xlbt0 up") ||
	    fx_sh("nsenter -t %d -n sh -c 'sysctl -qw "
		  "net.ipv6.conf.xlbt1.accept_dad=0 && "
		  "ip addr add 198.51.100.2/24 dev "
		  "xlbt1 && ip addr add 2001:db8:100::2/64 dev xlbt1 nodad && "
		  "ip link set xlbt1 up && ip link set lo up'",
		  (int)pid)) {
		snprintf(why, sizeof(why), "cannot set up the veth pair");
	} else if (write(go[1], "g", 1) != 1 || read(ready[0], &c, 1) != 1) {
		snprintf(why, sizeof(why), "the peer could not bind");
	} else {
		rc4 = xlb_resend_packet(r, &ev, udp_event(&ev, 4), 1);
		rc6 = xlb_resend_packet(r, &ev, udp_event(&ev, 6), 2);
		if (rc4 || rc6)
			snprintf(why, sizeof(why), "send: %s / %s",
				 strerror(-rc4), strerror(-rc6));
	}
	if (why[0])
		kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (!why[0] && (!WIFEXITED(status) || WEXITSTATUS(status) != 3))
		snprintf(why, sizeof(why), "the peer received %s (exit %d)",
			 WIFEXITED(status) && WEXITSTATUS(status) == 1 ?
				 "the IPv4 packet only" :
			 WIFEXITED(status) && WEXITSTATUS(status) == 2 ?
				 "the IPv6 packet only" :
				 "neither packet",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	else if (!why[0] && (r->st.sent != 2 || r->st.failed))
		snprintf(why, sizeof(why), "sent %llu failed %llu, want 2, 0",
			 (unsigned long long)r->st.sent,
			 (unsigned long long)r->st.failed);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	if (why[0])
		xtest_fail(name, "%s", why);
	else
		xtest_pass(name);
}

/* Records that are not packets of their family: refused, counted. */
static void test_malformed(struct xlb_resend *r)
{
	const char *name = "resend_refuses_malformed_records";
	static struct xlb_packet_event ev;
	struct xlb_resend_stats before = r->st;
	size_t size = udp_event(&ev, 4);
	int bad = 0;

	ev.family = XLB_FAMILY_V6; /* an IPv4 packet said to be IPv6 */
	bad += xlb_resend_packet(r, &ev, size, 3) == -EINVAL;
	udp_event(&ev, 4);
	ev.len = XLB_PACKET_EVENT_BYTES + 1;
	bad += xlb_resend_packet(r, &ev, size, 3) == -EINVAL;
	udp_event(&ev, 4);
	bad += xlb_resend_packet(r, &ev, 20, 3) == -EINVAL; /* cut short */
	ev.len = 12; /* shorter than an IP header */
	bad += xlb_resend_packet(r, &ev, size, 3) == -EINVAL;
	if (bad != 4 || r->st.malformed != before.malformed + 4 ||
	    r->st.sent != before.sent)
		xtest_fail(name, "%d of 4 refused, malformed +%llu, sent +%llu",
			   bad,
			   (unsigned long long)(r->st.malformed -
						before.malformed),
			   (unsigned long long)(r->st.sent - before.sent));
	else
		xtest_pass(name);
}

/* XLB_RESEND_PER_SEC in a burst, then the rate: half a second later,
 * half as many again. */
static void test_rate(struct xlb_resend *r)
{
	const char *name = "resend_rate_limited";
	static struct xlb_packet_event ev;
	const __u64 t0 = 10ULL * 1000000000ULL;
	size_t size = udp_event(&ev, 4);
	__u64 sent = 0, limited = 0;

	/* a full bucket: a long pause since the last send */
	for (int i = 0; i < XLB_RESEND_PER_SEC + 200; i++) {
		int rc = xlb_resend_packet(r, &ev, size, t0);

		sent += rc == 0;
		limited += rc == -ENOBUFS;
	}
	for (int i = 0; i < XLB_RESEND_PER_SEC; i++) {
		int rc = xlb_resend_packet(r, &ev, size, t0 + 500000000ULL);

		sent += rc == 0;
		limited += rc == -ENOBUFS;
	}
	if (sent != XLB_RESEND_PER_SEC + XLB_RESEND_PER_SEC / 2 ||
	    limited != 200 + XLB_RESEND_PER_SEC / 2)
		xtest_fail(name, "sent %llu limited %llu, want %d and %d",
			   (unsigned long long)sent,
			   (unsigned long long)limited,
			   XLB_RESEND_PER_SEC + XLB_RESEND_PER_SEC / 2,
			   200 + XLB_RESEND_PER_SEC / 2);
	else
		xtest_pass(name);
}

int main(void)
{
	struct xlb_resend r;
	char why[200];
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (fx_netns_enter(why, sizeof(why))) {
		xtest_skip("resend", "%s", why);
		return xtest_done();
	}
	err = xlb_resend_open(&r);
	if (err) {
		xtest_fail("resend_open", "%s", strerror(-err));
		return xtest_done();
	}
	test_delivered(&r);
	test_malformed(&r);
	test_rate(&r);
	xlb_resend_close(&r);
	return xtest_done();
}
