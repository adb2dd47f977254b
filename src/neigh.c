// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Route and neighbour queries over plain rtnetlink (see neigh.h). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "neigh.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define NL_TIMEOUT_S 5      /* wait for one kernel answer at most this long */
#define NL_RECV_BYTES 16384 /* one read from the socket */
#define NL_REPLY_BYTES 4096 /* one answer (a route or a neighbour) */
#define NL_RECV_TRIES 16    /* reads that may carry messages not for us */

/* Kernel-internal (include/net/neighbour.h): states with a usable lladdr */
#define XLB_NUD_VALID                                                    \
	(NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | \
	 NUD_DELAY)

/* Attempts when an entry appears or disappears under us. */
#define NEIGH_ENSURE_TRIES 3

struct nl_sock {
	int fd;
	__u32 port_id;
	__u32 seq;
};

#define NL_REQ_BYTES 128 /* a request: header, family message, attributes */

static int family_to_af(__u8 family, size_t *addr_bytes)
{
	switch (family) {
	case XLB_FAMILY_V4:
		*addr_bytes = 4;
		return AF_INET;
	case XLB_FAMILY_V6:
		*addr_bytes = 16;
		return AF_INET6;
	default:
		return -EAFNOSUPPORT;
	}
}

static int nl_open(struct nl_sock *s)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval timeout = { .tv_sec = NL_TIMEOUT_S };
	socklen_t salen = sizeof(sa);
	int one = 1, err;

	s->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s->fd < 0)
		return -errno;
	/* errors carry no copy of the request; harmless if unsupported */
	setsockopt(s->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &timeout,
		       sizeof(timeout)) ||
	    setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &timeout,
		       sizeof(timeout)) ||
	    bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(s->fd, (struct sockaddr *)&sa, &salen)) {
		err = -errno;
		close(s->fd);
		return err;
	}
	s->port_id = sa.nl_pid;
	s->seq = 0;
	return 0;
}

static void nl_close(struct nl_sock *s)
{
	close(s->fd);
}

/* Start a request of type in buf[NL_REQ_BYTES] with a zeroed family
 * message of msg_bytes; returns the header, the message is NLMSG_DATA. */
static struct nlmsghdr *nl_req_init(char *buf, __u16 type, __u16 flags,
				    size_t msg_bytes)
{
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;

	memset(buf, 0, NL_REQ_BYTES);
	nh->nlmsg_len = NLMSG_LENGTH(msg_bytes);
	nh->nlmsg_type = type;
	nh->nlmsg_flags = NLM_F_REQUEST | flags;
	return nh;
}

static int nl_put_attr(struct nlmsghdr *nh, size_t cap, int type,
		       const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(nh->nlmsg_len);
	struct rtattr *rta;

	if (off + RTA_SPACE(len) > cap)
		return -EMSGSIZE;
	rta = (struct rtattr *)((char *)nh + off);
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = off + RTA_SPACE(len);
	return 0;
}

/*
 * Send req and wait for its answer: the first reply message (copied into
 * reply, which must hold NL_REPLY_BYTES) or the kernel's ack / error.
 * Returns 0 or a negative errno (the kernel's, -ETIMEDOUT, -EPROTO).
 */
static int nl_talk(struct nl_sock *s, struct nlmsghdr *req, void *reply)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	char buf[NL_RECV_BYTES] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *nh;
	ssize_t len;
	int tries;

	req->nlmsg_seq = ++s->seq;
	req->nlmsg_pid = 0;
	if (sendto(s->fd, req, req->nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0)
		return -errno;

	for (tries = 0; tries < NL_RECV_TRIES; tries++) {
		len = recv(s->fd, buf, sizeof(buf), MSG_TRUNC);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return -ETIMEDOUT;
			return -errno;
		}
		if ((size_t)len > sizeof(buf))
			return -EMSGSIZE;
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, len);
		     nh = NLMSG_NEXT(nh, len)) {
			if (nh->nlmsg_seq != req->nlmsg_seq ||
			    nh->nlmsg_pid != s->port_id)
				continue;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nh);

				if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EPROTO;
				return e->error; /* 0: ack */
			}
			if (nh->nlmsg_type == NLMSG_NOOP ||
			    nh->nlmsg_type == NLMSG_DONE)
				continue;
			if (!reply)
				continue;
			if (nh->nlmsg_len > NL_REPLY_BYTES)
				return -EMSGSIZE;
			memcpy(reply, nh, nh->nlmsg_len);
			return 0;
		}
	}
	return -ETIMEDOUT;
}

int xlb_route_nexthop(__u8 family, const struct xlb_addr *dst,
		      struct xlb_addr *nexthop, int *ifindex)
{
	char reply[NL_REPLY_BYTES] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *nh = (struct nlmsghdr *)reply;
	const void *gateway = NULL;
	char req_buf[NL_REQ_BYTES] __attribute__((aligned(NLMSG_ALIGNTO)));
	bool via_other_family = false;
	struct nlmsghdr *req;
	size_t addr_bytes;
	struct rtattr *rta;
	struct rtmsg *rt;
	struct nl_sock s;
	__u32 oif = 0;
	int af, ret, len;

	af = family_to_af(family, &addr_bytes);
	if (af < 0)
		return af;
	req = nl_req_init(req_buf, RTM_GETROUTE, 0, sizeof(*rt));
	rt = NLMSG_DATA(req);
	rt->rtm_family = af;
	rt->rtm_dst_len = addr_bytes * 8;
	ret = nl_put_attr(req, NL_REQ_BYTES, RTA_DST, dst->bytes, addr_bytes);
	if (ret)
		return ret;

	ret = nl_open(&s);
	if (ret)
		return ret;
	ret = nl_talk(&s, req, reply);
	nl_close(&s);
	/* The lookup reports a blackhole route as -EINVAL and a throw route
	 * as -EAGAIN (the kernel's fib_props); our request itself is valid. */
	if (ret == -EINVAL || ret == -EAGAIN)
		return -ENETUNREACH;
	if (ret)
		return ret;

	if (nh->nlmsg_type != RTM_NEWROUTE ||
	    nh->nlmsg_len < NLMSG_LENGTH(sizeof(*rt)))
		return -EPROTO;
	rt = NLMSG_DATA(nh);
	switch (rt->rtm_type) {
	case RTN_UNICAST:
		break;
	case RTN_BLACKHOLE:
	case RTN_THROW:
		return -ENETUNREACH;
	case RTN_UNREACHABLE:
		return -EHOSTUNREACH;
	case RTN_PROHIBIT:
		return -EACCES;
	default: /* local, broadcast, multicast, ... */
		return -EADDRNOTAVAIL;
	}

	len = RTM_PAYLOAD(nh);
	for (rta = RTM_RTA(rt); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		switch (rta->rta_type) {
		case RTA_OIF:
			if (RTA_PAYLOAD(rta) >= sizeof(oif))
				memcpy(&oif, RTA_DATA(rta), sizeof(oif));
			break;
		case RTA_GATEWAY:
			if (RTA_PAYLOAD(rta) == addr_bytes)
				gateway = RTA_DATA(rta);
			break;
		case RTA_VIA: {
			const struct rtvia *via = RTA_DATA(rta);

			if (RTA_PAYLOAD(rta) < sizeof(*via))
				break;
			if (via->rtvia_family != af)
				via_other_family = true;
			else if (RTA_PAYLOAD(rta) - sizeof(*via) == addr_bytes)
				gateway = via->rtvia_addr;
			break;
		}
		}
	}
	if (!gateway && via_other_family)
		return -EAFNOSUPPORT;
	if (!oif)
		return -ENETUNREACH;

	memset(nexthop, 0, sizeof(*nexthop));
	memcpy(nexthop->bytes, gateway ? gateway : dst->bytes, addr_bytes);
	*ifindex = oif;
	return 0;
}

static int neigh_get(struct nl_sock *s, int af, const struct xlb_addr *addr,
		     size_t addr_bytes, int ifindex,
		     struct xlb_neigh_info *info)
{
	char reply[NL_REPLY_BYTES] __attribute__((aligned(NLMSG_ALIGNTO)));
	char req_buf[NL_REQ_BYTES] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *nh = (struct nlmsghdr *)reply, *req;
	struct rtattr *rta;
	struct ndmsg *ndm;
	int ret, len;

	req = nl_req_init(req_buf, RTM_GETNEIGH, 0, sizeof(*ndm));
	ndm = NLMSG_DATA(req);
	ndm->ndm_family = af;
	ndm->ndm_ifindex = ifindex;
	ret = nl_put_attr(req, NL_REQ_BYTES, NDA_DST, addr->bytes, addr_bytes);
	if (ret)
		return ret;
	ret = nl_talk(s, req, reply);
	if (ret)
		return ret;

	if (nh->nlmsg_type != RTM_NEWNEIGH ||
	    nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ndm)))
		return -EPROTO;
	ndm = NLMSG_DATA(nh);
	memset(info, 0, sizeof(*info));
	info->state = ndm->ndm_state;
	info->flags = ndm->ndm_flags;
	len = nh->nlmsg_len - NLMSG_LENGTH(sizeof(*ndm));
	for (rta = (struct rtattr *)((char *)ndm + NLMSG_ALIGN(sizeof(*ndm)));
	     RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		switch (rta->rta_type) {
		case NDA_LLADDR:
			if (RTA_PAYLOAD(rta) <= sizeof(info->lladdr)) {
				info->lladdr_len = RTA_PAYLOAD(rta);
				memcpy(info->lladdr, RTA_DATA(rta),
				       info->lladdr_len);
			}
			break;
		case NDA_FLAGS_EXT:
			if (RTA_PAYLOAD(rta) >= sizeof(info->ext_flags))
				memcpy(&info->ext_flags, RTA_DATA(rta),
				       sizeof(info->ext_flags));
			break;
		}
	}
	return 0;
}

int xlb_neigh_get(__u8 family, const struct xlb_addr *addr, int ifindex,
		  struct xlb_neigh_info *info)
{
	struct nl_sock s;
	size_t addr_bytes;
	int af, ret;

	af = family_to_af(family, &addr_bytes);
	if (af < 0)
		return af;
	if (ifindex <= 0)
		return -ENODEV;
	ret = nl_open(&s);
	if (ret)
		return ret;
	ret = neigh_get(&s, af, addr, addr_bytes, ifindex, info);
	nl_close(&s);
	return ret;
}

/*
 * RTM_NEWNEIGH for addr, state NONE, flagged managed (as `ip neigh add
 * ADDR dev DEV managed`).  nl_flags: NLM_F_CREATE | NLM_F_EXCL to create
 * only (-EEXIST if there is an entry), 0 to flag an existing entry in
 * place (-ENOENT if there is none).  Never NLM_F_REPLACE: on an existing
 * entry the kernel keeps state and lladdr and only adds the flag, except
 * that it drops PERMANENT; so the caller must not send this for one.
 */
static int neigh_new_managed(struct nl_sock *s, int af,
			     const struct xlb_addr *addr, size_t addr_bytes,
			     int ifindex, __u16 nl_flags)
{
	char req_buf[NL_REQ_BYTES] __attribute__((aligned(NLMSG_ALIGNTO)));
	__u32 ext_flags = NTF_EXT_MANAGED;
	struct nlmsghdr *req;
	struct ndmsg *ndm;
	int ret;

	req = nl_req_init(req_buf, RTM_NEWNEIGH, NLM_F_ACK | nl_flags,
			  sizeof(*ndm));
	ndm = NLMSG_DATA(req);
	ndm->ndm_family = af;
	ndm->ndm_ifindex = ifindex;
	ndm->ndm_state = NUD_NONE; /* managed excludes PERMANENT */
	ret = nl_put_attr(req, NL_REQ_BYTES, NDA_DST, addr->bytes, addr_bytes);
	if (!ret)
		ret = nl_put_attr(req, NL_REQ_BYTES, NDA_FLAGS_EXT, &ext_flags,
				  sizeof(ext_flags));
	if (ret)
		return ret;
	return nl_talk(s, req, NULL);
}

static int neigh_ensure(struct nl_sock *s, int af, const struct xlb_addr *addr,
			size_t addr_bytes, int ifindex)
{
	struct xlb_neigh_info info;
	int tries, ret = -EAGAIN;

	for (tries = 0; tries < NEIGH_ENSURE_TRIES; tries++) {
		/* create, only if there is no entry at all */
		ret = neigh_new_managed(s, af, addr, addr_bytes, ifindex,
					NLM_F_CREATE | NLM_F_EXCL);
		if (ret == 0) {
			/* kernels before 5.16 ignore NDA_FLAGS_EXT */
			if (!neigh_get(s, af, addr, addr_bytes, ifindex, &info) &&
			    !(info.ext_flags & NTF_EXT_MANAGED))
				return -EOPNOTSUPP;
			return 0;
		}
		if (ret != -EEXIST)
			return ret;

		ret = neigh_get(s, af, addr, addr_bytes, ifindex, &info);
		if (ret == -ENOENT)
			continue; /* gone meanwhile: create it */
		if (ret)
			return ret;
		/* someone's valid entry, ours, or one that another control
		 * plane (extern_learn) owns: leave it as it is */
		if (info.state & XLB_NUD_VALID ||
		    info.ext_flags & NTF_EXT_MANAGED ||
		    info.flags & NTF_EXT_LEARNED)
			return 0;

		/* unresolved dynamic entry (NONE, INCOMPLETE, FAILED): flag
		 * it managed in place, which also starts resolving it */
		ret = neigh_new_managed(s, af, addr, addr_bytes, ifindex, 0);
		if (ret != -ENOENT)
			return ret;
	}
	return ret;
}

int xlb_neigh_ensure_managed(__u8 family, const struct xlb_addr *addr,
			     int ifindex)
{
	struct nl_sock s;
	size_t addr_bytes;
	int af, ret;

	af = family_to_af(family, &addr_bytes);
	if (af < 0)
		return af;
	if (ifindex <= 0)
		return -ENODEV;
	ret = nl_open(&s);
	if (ret)
		return ret;
	ret = neigh_ensure(&s, af, addr, addr_bytes, ifindex);
	nl_close(&s);
	return ret;
}
