// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Packets for unresolved next hops, sent by the kernel (see resend.h). */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <sys/socket.h>

#include "resend.h"
#include "xlb_abi.h"

#define NS_PER_SEC 1000000000.0

int xlb_resend_open(struct xlb_resend *r)
{
	int err;

	memset(r, 0, sizeof(*r));
	r->fd4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	r->fd6 = r->fd4 < 0 ? -1 :
			      socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC,
				     IPPROTO_RAW);
	if (r->fd4 < 0 || r->fd6 < 0) {
		err = -errno;
		xlb_resend_close(r);
		return err;
	}
	r->tokens = XLB_RESEND_PER_SEC;
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
	}
	r->last_ns = now_ns;
	if (r->tokens < 1)
		return false;
	r->tokens -= 1;
	return true;
}

/* The destination of the IP packet p of len bytes, into sa; its socket,
 * or -1 if p is not a packet of family. */
static int destination(const struct xlb_resend *r, const __u8 *p, size_t len,
		       __u8 family, struct sockaddr_storage *sa,
		       socklen_t *salen)
{
	memset(sa, 0, sizeof(*sa));
	if (family == XLB_FAMILY_V4 && len >= sizeof(struct iphdr) &&
	    p[0] >> 4 == 4) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;

		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, p + offsetof(struct iphdr, daddr), 4);
		*salen = sizeof(*in);
		return r->fd4;
	}
	if (family == XLB_FAMILY_V6 && len >= sizeof(struct ip6_hdr) &&
	    p[0] >> 4 == 6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;

		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, p + offsetof(struct ip6_hdr, ip6_dst),
		       16);
		*salen = sizeof(*in6);
		return r->fd6;
	}
	return -1;
}

int xlb_resend_packet(struct xlb_resend *r, const void *rec, size_t size,
		      __u64 now_ns)
{
	const struct xlb_packet_event *ev = rec;
	struct sockaddr_storage sa;
	socklen_t salen = 0;
	int fd;

	if (size < offsetof(struct xlb_packet_event, data) ||
	    ev->len > XLB_PACKET_EVENT_BYTES ||
	    size < offsetof(struct xlb_packet_event, data) + ev->len ||
	    (fd = destination(r, ev->data, ev->len, ev->family, &sa,
			      &salen)) < 0) {
		r->st.malformed++;
		return -EINVAL;
	}
	if (!take_token(r, now_ns)) {
		r->st.limited++;
		return -ENOBUFS;
	}
	if (sendto(fd, ev->data, ev->len, MSG_DONTWAIT,
		   (struct sockaddr *)&sa, salen) < 0) {
		r->st.failed++;
		r->st.last_err = -errno;
		return r->st.last_err;
	}
	r->st.sent++;
	return 0;
}
