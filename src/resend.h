/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packets the XDP program could not send because their next hop had no
 * neighbour entry (XLB_EVENT_PACKET records of xlb_daemon_events, already
 * rewritten), sent through the kernel's IP stack from raw sockets
 * (IPPROTO_RAW: the packet brings its own IP header).  The kernel routes
 * each as one of its own (its source is a local address: the VIP or the
 * SNAT address), resolves the next hop (ARP / ND) and holds the packet
 * until it can go.  Before, the packet was lost: the first SYN-ACK to a
 * client behind a gateway the balancer had not yet heard from (IPv6
 * learns no gateway from the gateway's solicitation of the VIP) came only
 * with the client's SYN retransmission, 1 s later.
 *
 * At most XLB_RESEND_PER_SEC packets a second, in bursts of as many: a
 * next hop that never answers must not turn the daemon into a packet
 * pump.  Not thread-safe (the daemon's poll loop only).
 */
#ifndef XLB_RESEND_H
#define XLB_RESEND_H

#include <stddef.h>
#include <linux/types.h>

#define XLB_RESEND_PER_SEC 1000

struct xlb_resend_stats {
	__u64 sent;      /* handed to the kernel */
	__u64 failed;    /* refused by the kernel (last_err) */
	__u64 limited;   /* over XLB_RESEND_PER_SEC: dropped */
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
 * namespace.  0, or -errno with nothing open. */
int xlb_resend_open(struct xlb_resend *r);

/* Send the packet of one XLB_EVENT_PACKET record of size bytes, at
 * now_ns (CLOCK_MONOTONIC).  0, or -errno (counted: -EINVAL malformed,
 * -ENOBUFS over the rate, else the kernel's refusal). */
int xlb_resend_packet(struct xlb_resend *r, const void *rec, size_t size,
		      __u64 now_ns);

/* Close what is open; fine on a struct that was never opened if it was
 * zeroed with fds set to -1 (xlb_resend_open does that first). */
void xlb_resend_close(struct xlb_resend *r);

#endif
