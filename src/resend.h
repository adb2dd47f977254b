/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packets the XDP program could not send because their next hop had no
 * neighbour entry (XLB_EVENT_PACKET records of xlb_daemon_events, already
 * rewritten), sent through the kernel's IP stack from raw sockets
 * (IPPROTO_RAW: the packet brings its own IP header), out of the
 * interface the program's FIB lookup chose and routed from the packet's
 * own source (IP_PKTINFO / IPV6_PKTINFO), so that policy routing picks
 * the route the program did.  The kernel resolves the next hop (ARP / ND)
 * and holds the packet until it can go.  Before, the packet was lost:
 * the first SYN-ACK to a client behind a gateway the balancer had not yet
 * heard from (IPv6 learns no gateway from the gateway's solicitation of
 * the VIP) came only with the client's SYN retransmission, 1 s later.
 *
 * Refused: records older than XLB_RESEND_MAX_AGE_NS (a daemon that was
 * not running finds the ring full of them), destinations that are not
 * unicast (a spoofed multicast client would get link-layer multicast),
 * and more than XLB_RESEND_PER_SEC a second (in bursts of as many): a
 * next hop that never answers must not turn the daemon into a packet
 * pump.  The send buffer is large enough for a second's worth held in
 * the neighbour queues of next hops that never answer.  Not thread-safe
 * (the daemon's poll loop only).  Packets that go this way pass the
 * host's netfilter OUTPUT and POSTROUTING hooks, unlike the program's.
 */
#ifndef XLB_RESEND_H
#define XLB_RESEND_H

#include <stddef.h>
#include <linux/types.h>

#define XLB_RESEND_PER_SEC 1000
#define XLB_RESEND_MAX_AGE_NS 1000000000ULL
#define XLB_RESEND_SNDBUF_BYTES (4 << 20)

struct xlb_resend_stats {
	__u64 sent;      /* handed to the kernel */
	__u64 failed;    /* refused by the kernel, or no socket (last_err) */
	__u64 limited;   /* over XLB_RESEND_PER_SEC: dropped */
	__u64 refused;   /* not to a unicast address */
	__u64 stale;     /* older than XLB_RESEND_MAX_AGE_NS */
	__u64 malformed; /* a record that is not a packet of its family */
	int last_err;    /* -errno of the last failure, 0 if none */
};

struct xlb_resend {
	int fd4, fd6; /* raw sockets, -1 if not open */
	double tokens;
	__u64 last_ns;
	struct xlb_resend_stats st;
};

/* Open the raw sockets (CAP_NET_RAW) in the calling thread's network
 * namespace, each family on its own (a host without IPv6 still sends
 * IPv4).  0 if both opened, else the first -errno (what opened stays
 * open; packets of the other family count as failed). */
int xlb_resend_open(struct xlb_resend *r);

/* Send the packet of one XLB_EVENT_PACKET record of size bytes, at
 * now_ns (CLOCK_MONOTONIC, the program's clock).  0, or -errno, counted:
 * -EINVAL malformed, -EADDRNOTAVAIL refused, -ETIME stale, -EBUSY over
 * the rate, else the kernel's refusal (or -EBADF: no socket). */
int xlb_resend_packet(struct xlb_resend *r, const void *rec, size_t size,
		      __u64 now_ns);

/* Close what is open (fds -1: nothing). */
void xlb_resend_close(struct xlb_resend *r);

#endif
