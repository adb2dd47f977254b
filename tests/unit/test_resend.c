// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * src/resend.c against the kernel: a packet handed over for want of a
 * neighbour entry reaches its destination through the kernel's own
 * resolution (ARP, ND), IPv4 and IPv6, out of the interface the program
 * chose and routed from its own source (a rule "from VIP" that the main
 * table would miss); records that are not packets of their family,
 * packets to multicast addresses and stale records are refused and
 * counted; the rate holds.
 *
 * Two throw-away network namespaces: this process unshares "lb", a forked
 * child unshares "peer", joined by a veth pair:
 *
 *   lb: xlbt0 198.51.100.1/24 2001:db8:100::1/64  <->  peer: xlbt1
 *       lo 198.51.100.10 (a VIP)                      198.51.100.2/24
 *       xlbd0 192.0.2.1/24 (<-> xlbd1,                2001:db8:100::2/64
 *         192.0.2.2 a permanent neighbour)
 *       203.0.113.0/24 via 192.0.2.2 (xlbd0)          lo 203.0.113.7
 *       rule from 198.51.100.10: table 100,           UDP port 40000
 *         203.0.113.0/24 via 198.51.100.2
 *
 * lb has no neighbour entry for the peer: the kernel resolves it when the
 * first packet goes.  Nothing is named; both namespaces vanish with their
 * processes.  Documentation addresses only.  Without root: SKIP.
 */
#include <errno.h>
#include <net/if.h>
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

#include "conntrack.h"
#include "fixture.h"
#include "pkt.h"
#include "resend.h"
#include "xtest.h"

#define PORT 40000
#define PAYLOAD 24
#define WAIT_MS 3000

/* The datagrams the peer must get: payload byte 0 says which. */
enum { GOT_V4 = 1, GOT_V6 = 2, GOT_POLICY = 4, GOT_ALL = 7 };

/* The peer: bind on both families, say so, and exit with the GOT_ bits
 * of the datagrams that came within WAIT_MS. */
static int peer(int ready_wr, int go_rd)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_port = htons(PORT) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(PORT) };
	struct pollfd p[2];
	int got = 0, on = 1;
	char c;

	if (syscall(SYS_unshare, CLONE_NEWNET) || write(ready_wr, "u", 1) != 1 ||
	    read(go_rd, &c, 1) != 1) /* the parent configured us */
		return 64;
	p[0].fd = socket(AF_INET, SOCK_DGRAM, 0);
	p[1].fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (p[0].fd < 0 || p[1].fd < 0 ||
	    setsockopt(p[1].fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) ||
	    bind(p[0].fd, (struct sockaddr *)&a4, sizeof(a4)) ||
	    bind(p[1].fd, (struct sockaddr *)&a6, sizeof(a6)) ||
	    write(ready_wr, "b", 1) != 1)
		return 65;
	for (int ms = 0; ms < WAIT_MS && got != GOT_ALL; ms += 100) {
		char buf[256];

		p[0].events = p[1].events = POLLIN;
		if (poll(p, 2, 100) < 0)
			break;
		for (int i = 0; i < 2; i++)
			if ((p[i].revents & POLLIN) &&
			    recv(p[i].fd, buf, sizeof(buf), 0) == PAYLOAD)
				got |= buf[0] & GOT_ALL;
	}
	return got;
}

/* A packet event at now_ns: UDP src -> dst:PORT out of ifindex, its
 * payload starting with the byte tag. */
static size_t udp_event(struct xlb_packet_event *ev, const char *src,
			const char *dst, int ifindex, __u64 now_ns, __u8 tag)
{
	static __u8 frame[PKT_MAX_FRAME];
	struct pkt_spec s;
	size_t n;

	pkt_spec_init(&s);
	pkt_spec_addrs(&s, src, dst);
	s.proto = IPPROTO_UDP;
	s.sport = 40001;
	s.dport = PORT;
	s.payload_len = PAYLOAD;
	s.payload_seed = tag; /* the first payload byte */
	n = pkt_build(&s, frame, sizeof(frame));
	memset(ev, 0, sizeof(*ev));
	ev->ts_ns = now_ns;
	ev->type = XLB_EVENT_PACKET;
	ev->family = s.family == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
	ev->ifindex = ifindex;
	ev->len = n - 14;
	memcpy(ev->data, frame + 14, ev->len);
	return sizeof(*ev);
}

static int setup(pid_t pid)
{
	return fx_sh("ip link add xlbt0 type veth peer name xlbt1 netns %d",
		     (int)pid) ||
	       /* no DAD: ND may start at once (link-local source) */
	       fx_sh("sysctl -qw net.ipv6.conf.xlbt0.accept_dad=0 && "
		     "ip link set lo up && "
		     "ip addr add 198.51.100.10/32 dev lo && "
		     "ip addr add 198.51.100.1/24 dev xlbt0 && "
		     "ip addr add 2001:db8:100::1/64 dev xlbt0 nodad && "
		     "ip link set xlbt0 up && "
		     "ip link add xlbd0 type veth peer name xlbd1 && "
		     "ip addr add 192.0.2.1/24 dev xlbd0 && "
		     "ip link set xlbd0 up && ip link set xlbd1 up && "
		     "ip neigh add 192.0.2.2 lladdr 02:00:00:00:00:99 "
		     "dev xlbd0 nud permanent && "
		     "ip route add 203.0.113.0/24 via 192.0.2.2 && "
		     "ip route add 203.0.113.0/24 via 198.51.100.2 table 100 && "
		     "ip rule add from 198.51.100.10 lookup 100") ||
	       fx_sh("nsenter -t %d -n sh -c 'sysctl -qw "
		     "net.ipv6.conf.xlbt1.accept_dad=0 && "
		     "ip link set lo up && ip addr add 203.0.113.7/32 dev lo && "
		     "ip addr add 198.51.100.2/24 dev xlbt1 && "
		     "ip addr add 2001:db8:100::2/64 dev xlbt1 nodad && "
		     "ip link set xlbt1 up'",
		     (int)pid);
}

static void test_delivered(struct xlb_resend *r)
{
	const char *name = "resent_packets_reach_unresolved_next_hops";
	static struct xlb_packet_event ev;
	int ready[2], go[2], status = 0, rc[3] = { 0 }, got, if0;
	char c, why[200] = "";
	__u64 now = xlb_now_ns();
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
	if (setup(pid)) {
		snprintf(why, sizeof(why), "cannot set up the namespaces");
	} else if (write(go[1], "g", 1) != 1 || read(ready[0], &c, 1) != 1) {
		snprintf(why, sizeof(why), "the peer could not bind");
	} else {
		if0 = if_nametoindex("xlbt0");
		rc[0] = xlb_resend_packet(r, &ev,
					  udp_event(&ev, "198.51.100.1",
						    "198.51.100.2", if0, now,
						    GOT_V4),
					  now);
		rc[1] = xlb_resend_packet(r, &ev,
					  udp_event(&ev, "2001:db8:100::1",
						    "2001:db8:100::2", if0, now,
						    GOT_V6),
					  now);
		/* the main table says xlbd0; the rule from the VIP, the
		 * peer (where the program's FIB lookup went) */
		rc[2] = xlb_resend_packet(r, &ev,
					  udp_event(&ev, "198.51.100.10",
						    "203.0.113.7", if0, now,
						    GOT_POLICY),
					  now);
		if (rc[0] || rc[1] || rc[2])
			snprintf(why, sizeof(why), "send: %s / %s / %s",
				 strerror(-rc[0]), strerror(-rc[1]),
				 strerror(-rc[2]));
	}
	if (why[0])
		kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	got = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (!why[0] && got != GOT_ALL)
		snprintf(why, sizeof(why), "the peer got the IPv4 packet: %s, "
			 "the IPv6 one: %s, the one from the VIP: %s (exit %d)",
			 got >= 0 && (got & GOT_V4) ? "yes" : "no",
			 got >= 0 && (got & GOT_V6) ? "yes" : "no",
			 got >= 0 && (got & GOT_POLICY) ? "yes" : "no", got);
	else if (!why[0] && (r->st.sent != 3 || r->st.failed))
		snprintf(why, sizeof(why), "sent %llu failed %llu, want 3, 0",
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

/* Records the kernel must not get: not packets of their family
 * (malformed), not to unicast addresses (refused), over a second old
 * (stale).  Nothing is sent. */
static void test_refused(struct xlb_resend *r)
{
	const char *name = "resend_refuses_bad_records";
	static struct xlb_packet_event ev;
	struct xlb_resend_stats b = r->st;
	int ifd = if_nametoindex("xlbd0"), bad = 0;
	__u64 now = xlb_now_ns();
	size_t size = udp_event(&ev, "192.0.2.1", "192.0.2.2", ifd, now, 0);

	ev.family = XLB_FAMILY_V6; /* an IPv4 packet said to be IPv6 */
	bad += xlb_resend_packet(r, &ev, size, now) == -EINVAL;
	udp_event(&ev, "192.0.2.1", "192.0.2.2", ifd, now, 0);
	ev.len = XLB_PACKET_EVENT_BYTES + 1;
	bad += xlb_resend_packet(r, &ev, size, now) == -EINVAL;
	udp_event(&ev, "192.0.2.1", "192.0.2.2", ifd, now, 0);
	bad += xlb_resend_packet(r, &ev, 30, now) == -EINVAL; /* cut short */
	ev.len = 12; /* shorter than an IP header */
	bad += xlb_resend_packet(r, &ev, size, now) == -EINVAL;
	udp_event(&ev, "192.0.2.1", "224.0.0.251", ifd, now, 0);
	bad += xlb_resend_packet(r, &ev, size, now) == -EADDRNOTAVAIL;
	udp_event(&ev, "2001:db8:100::1", "ff02::fb", ifd, now, 0);
	bad += xlb_resend_packet(r, &ev, size, now) == -EADDRNOTAVAIL;
	udp_event(&ev, "192.0.2.1", "192.0.2.2", ifd, now - 2000000000ULL, 0);
	bad += xlb_resend_packet(r, &ev, size, now) == -ETIME;
	if (bad != 7 || r->st.malformed != b.malformed + 4 ||
	    r->st.refused != b.refused + 2 || r->st.stale != b.stale + 1 ||
	    r->st.sent != b.sent || r->st.failed != b.failed)
		xtest_fail(name, "%d of 7 refused as they should; malformed "
			   "+%llu refused +%llu stale +%llu sent +%llu",
			   bad,
			   (unsigned long long)(r->st.malformed - b.malformed),
			   (unsigned long long)(r->st.refused - b.refused),
			   (unsigned long long)(r->st.stale - b.stale),
			   (unsigned long long)(r->st.sent - b.sent));
	else
		xtest_pass(name);
}

/* XLB_RESEND_PER_SEC in a burst, then the rate: half a second later,
 * half as many again (to xlbd0's permanent neighbour: they go out at
 * once, to nobody). */
static void test_rate(struct xlb_resend *r)
{
	const char *name = "resend_rate_limited";
	static struct xlb_packet_event ev;
	const __u64 t0 = xlb_now_ns() + 10ULL * 1000000000ULL;
	int ifd = if_nametoindex("xlbd0");
	__u64 sent = 0, limited = 0, failed = r->st.failed;

	for (int i = 0; i < XLB_RESEND_PER_SEC + 200; i++) {
		size_t size = udp_event(&ev, "192.0.2.1", "192.0.2.2", ifd,
					t0, 0);
		int rc = xlb_resend_packet(r, &ev, size, t0);

		sent += rc == 0;
		limited += rc == -EBUSY;
	}
	for (int i = 0; i < XLB_RESEND_PER_SEC; i++) {
		__u64 t = t0 + 500000000ULL;
		size_t size = udp_event(&ev, "192.0.2.1", "192.0.2.2", ifd,
					t, 0);
		int rc = xlb_resend_packet(r, &ev, size, t);

		sent += rc == 0;
		limited += rc == -EBUSY;
	}
	if (sent != XLB_RESEND_PER_SEC + XLB_RESEND_PER_SEC / 2 ||
	    limited != 200 + XLB_RESEND_PER_SEC / 2 || r->st.failed != failed)
		xtest_fail(name, "sent %llu limited %llu failed +%llu, want %d, "
			   "%d, 0 (last error %s)",
			   (unsigned long long)sent,
			   (unsigned long long)limited,
			   (unsigned long long)(r->st.failed - failed),
			   XLB_RESEND_PER_SEC + XLB_RESEND_PER_SEC / 2,
			   200 + XLB_RESEND_PER_SEC / 2,
			   strerror(-r->st.last_err));
	else
		xtest_pass(name);
}

/* An IPv6 packet from a source the node does not have (a VIP only routed
 * to it) is sent too: IPV6_PKTINFO refused such a source (EINVAL)
 * before the socket could bind to any address.  On a veth pair of this
 * namespace, the next hop's neighbour entry made by hand. */
static void test_nonlocal_source6(struct xlb_resend *r)
{
	const char *name = "resent_ipv6_from_a_source_not_on_the_node";
	static struct xlb_packet_event ev;
	__u64 now = xlb_now_ns(), sent = r->st.sent;
	int rc, ifx;

	if (system("ip link add xlbt8 type veth peer name xlbt9 && "
		   "ip link set xlbt8 up && ip link set xlbt9 up && "
		   "ip addr add 2001:db8:108::1/64 dev xlbt8 nodad && "
		   "ip -6 neigh replace 2001:db8:108::2 lladdr "
		   "02:00:00:00:08:02 dev xlbt8 nud permanent")) {
		xtest_fail(name, "setup failed");
		return;
	}
	ifx = if_nametoindex("xlbt8");
	rc = xlb_resend_packet(r, &ev,
			       udp_event(&ev, "2001:db8:300::10",
					 "2001:db8:108::2", ifx, now, 0),
			       now);
	if (rc || r->st.sent != sent + 1)
		xtest_fail(name, "send: %s (sent %llu, want %llu)",
			   strerror(-rc), (unsigned long long)r->st.sent,
			   (unsigned long long)sent + 1);
	else
		xtest_pass(name);
	system("ip link del xlbt8 2>/dev/null");
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
	test_refused(&r);
	test_nonlocal_source6(&r);
	test_rate(&r);
	xlb_resend_close(&r);
	return xtest_done();
}
