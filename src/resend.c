// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Packets for unresolved next hops, sent by the kernel (see resend.h). */
#define _GNU_SOURCE /* struct in6_pktinfo */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <sys/socket.h>

#include "resend.h"
#include "xlb_abi.h"

#define NS_PER_SEC 1000000000.0
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78 /* linux/in6.h */
#endif

static int raw_socket(int family)
{
	int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	int bytes = XLB_RESEND_SNDBUF_BYTES, one = 1;

	/* packets held for next hops that never answer count against it:
	 * the default (~200 KB) ran out within a second and refused every
	 * other destination; the plain option caps at wmem_max */
	if (fd >= 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
	/* IPv6: IPV6_PKTINFO with a source the node does not have (a VIP
	 * only routed to it) is refused (EINVAL) unless the socket may bind
	 * to any address; IPv4's own header may carry any source */
	if (fd >= 0 && family == AF_INET6 &&
	    setsockopt(fd, SOL_IPV6, IPV6_FREEBIND, &one, sizeof(one))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd < 0 ? -errno : fd;
}

int xlb_resend_open(struct xlb_resend *r)
{
	memset(r, 0, sizeof(*r));
	r->tokens = XLB_RESEND_PER_SEC;
	r->fd4 = raw_socket(AF_INET);
	r->fd6 = raw_socket(AF_INET6);
	if (r->fd4 < 0 || r->fd6 < 0) {
		int err = r->fd4 < 0 ? r->fd4 : r->fd6;

		if (r->fd4 < 0)
			r->fd4 = -1;
		if (r->fd6 < 0)
			r->fd6 = -1;
		return err;
	}
	return 0;
}

void xlb_resend_close(struct xlb_resend *r)
{
	if (r->fd4 >= 0)
		close(r->fd4);
	if (r->fd6 >= 0)
		close(r->fd6);
	r->fd4 = r->fd6 = -1;
}

/* One token of the rate, if there is one. */
static bool take_token(struct xlb_resend *r, __u64 now_ns)
{
	if (now_ns > r->last_ns) {
		r->tokens += (now_ns - r->last_ns) / NS_PER_SEC *
			     XLB_RESEND_PER_SEC;
		if (r->tokens > XLB_RESEND_PER_SEC)
			r->tokens = XLB_RESEND_PER_SEC;
		r->last_ns = now_ns;
	}
	if (r->tokens < 1)
		return false;
	r->tokens -= 1;
	return true;
}

/* A packet of ev's family with a header and a unicast destination:
 * 0, -EINVAL (not such a packet) or -EADDRNOTAVAIL (not unicast). */
static int check_packet(const struct xlb_packet_event *ev)
{
	const __u8 *p = ev->data;

	if (ev->family == XLB_FAMILY_V4) {
		__u32 dst;

		if (ev->len < sizeof(struct iphdr) || p[0] >> 4 != 4)
			return -EINVAL;
		memcpy(&dst, p + offsetof(struct iphdr, daddr), 4);
		dst = ntohl(dst);
		/* 0/8, 127/8, multicast 224/4, 240/4 and broadcast */
		if (dst >> 24 == 0 || dst >> 24 == 127 || dst >> 28 >= 14)
			return -EADDRNOTAVAIL;
		return 0;
	}
	if (ev->family == XLB_FAMILY_V6) {
		struct in6_addr dst;

		if (ev->len < sizeof(struct ip6_hdr) || p[0] >> 4 != 6)
			return -EINVAL;
		memcpy(&dst, p + offsetof(struct ip6_hdr, ip6_dst), 16);
		if (IN6_IS_ADDR_MULTICAST(&dst) ||
		    IN6_IS_ADDR_UNSPECIFIED(&dst) || IN6_IS_ADDR_LOOPBACK(&dst))
			return -EADDRNOTAVAIL;
		return 0;
	}
	return -EINVAL;
}

/* One control message (level, type, len bytes of data) in c; its space. */
static size_t cmsg(struct cmsghdr *c, int level, int type, const void *data,
		   size_t len)
{
	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(c), data, len);
	return CMSG_SPACE(len);
}

/* sendmsg() of ev to its destination, out of ev->ifindex and routed from
 * its source.  0 or -errno. */
static int send_packet(const struct xlb_resend *r,
		       const struct xlb_packet_event *ev)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)ev->data, ev->len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.buf };
	struct cmsghdr *c = (struct cmsghdr *)ctl.buf;
	struct sockaddr_in in4 = { .sin_family = AF_INET };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
	int fd;

	memset(&ctl, 0, sizeof(ctl));
	if (ev->family == XLB_FAMILY_V4) {
		struct in_pktinfo pi = { .ipi_ifindex = ev->ifindex };

		memcpy(&in4.sin_addr, ev->data + offsetof(struct iphdr, daddr),
		       4);
		memcpy(&pi.ipi_spec_dst,
		       ev->data + offsetof(struct iphdr, saddr), 4);
		msg.msg_controllen = cmsg(c, IPPROTO_IP, IP_PKTINFO, &pi,
					  sizeof(pi));
		msg.msg_name = &in4;
		msg.msg_namelen = sizeof(in4);
		fd = r->fd4;
	} else {
		struct in6_pktinfo pi = { .ipi6_ifindex = ev->ifindex };

		memcpy(&in6.sin6_addr,
		       ev->data + offsetof(struct ip6_hdr, ip6_dst), 16);
		memcpy(&pi.ipi6_addr,
		       ev->data + offsetof(struct ip6_hdr, ip6_src), 16);
		if (IN6_IS_ADDR_LINKLOCAL(&in6.sin6_addr))
			in6.sin6_scope_id = ev->ifindex;
		msg.msg_controllen = cmsg(c, IPPROTO_IPV6, IPV6_PKTINFO, &pi,
					  sizeof(pi));
		msg.msg_name = &in6;
		msg.msg_namelen = sizeof(in6);
		fd = r->fd6;
	}
	if (fd < 0)
		return -EBADF;
	return sendmsg(fd, &msg, MSG_DONTWAIT) < 0 ? -errno : 0;
}

int xlb_resend_packet(struct xlb_resend *r, const void *rec, size_t size,
		      __u64 now_ns)
{
	const size_t head = offsetof(struct xlb_packet_event, data);
	const struct xlb_packet_event *ev = rec;
	int err;

	if (size < head || ev->len > XLB_PACKET_EVENT_BYTES ||
	    size < head + ev->len) {
		r->st.malformed++;
		return -EINVAL;
	}
	err = check_packet(ev);
	if (err) {
		if (err == -EINVAL)
			r->st.malformed++;
		else
			r->st.refused++;
		return err;
	}
	if (now_ns > ev->ts_ns && now_ns - ev->ts_ns > XLB_RESEND_MAX_AGE_NS) {
		r->st.stale++;
		return -ETIME;
	}
	if (!take_token(r, now_ns)) {
		r->st.limited++;
		return -EBUSY;
	}
	err = send_packet(r, ev);
	if (err) {
		r->st.failed++;
		r->st.last_err = err;
		return err;
	}
	r->st.sent++;
	return 0;
}
