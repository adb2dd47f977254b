/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Routes and neighbours through rtnetlink (AF_NETLINK, NETLINK_ROUTE; no
 * libnl), in the network namespace of the calling thread.  Each call
 * opens its own socket, so calls may come from any thread.  Families are
 * XLB_FAMILY_V4 / XLB_FAMILY_V6.  Return 0 or a negative errno; nothing
 * prints.
 */
#ifndef XLB_NEIGH_H
#define XLB_NEIGH_H

#include "xlb_abi.h"

/*
 * Which next hop and output interface reach dst (what `ip route get DST`
 * answers): the route's gateway if it has one, else dst itself.
 * Errors: -ENETUNREACH (no route, blackhole or throw route),
 * -EHOSTUNREACH (unreachable route), -EACCES (prohibit route),
 * -EADDRNOTAVAIL (dst is local, broadcast or multicast: not forwarded
 * through an interface), -EAFNOSUPPORT (bad family, or an IPv4 route via
 * an IPv6 next hop), other -errno from the socket.
 */
int xlb_route_nexthop(__u8 family, const struct xlb_addr *dst,
		      struct xlb_addr *nexthop, int *ifindex);

/* One neighbour entry as the kernel reports it. */
struct xlb_neigh_info {
	__u16 state;      /* NUD_* bits (linux/neighbour.h) */
	__u8 flags;       /* NTF_* */
	__u8 lladdr_len;  /* 0: no link-layer address yet */
	__u32 ext_flags;  /* NTF_EXT_* (NTF_EXT_MANAGED), 0 if not reported */
	__u8 lladdr[32];  /* link-layer address (MAC), lladdr_len bytes */
};

/* Read the entry for addr on ifindex.  -ENOENT if there is none. */
int xlb_neigh_get(__u8 family, const struct xlb_addr *addr, int ifindex,
		  struct xlb_neigh_info *info);

/*
 * Make the kernel keep a resolved neighbour entry for addr on ifindex, so
 * that bpf_fib_lookup() finds one without anyone sending traffic first:
 * create the entry "managed" (NTF_EXT_MANAGED, `ip neigh add ADDR dev DEV
 * managed`); the kernel then resolves it (ARP / ND) in the background and
 * re-probes it so that it stays REACHABLE.
 *
 * An existing entry is never replaced: one that is valid (PERMANENT,
 * NOARP, REACHABLE, STALE, DELAY, PROBE) or already managed is left as it
 * is.  An existing unresolved one (NONE, INCOMPLETE, FAILED) is made
 * managed in place.  Returns 0 also when the answer is still pending (a
 * managed entry that is INCOMPLETE or FAILED keeps being probed).
 * -EOPNOTSUPP if the kernel ignores NTF_EXT_MANAGED (before 5.16),
 * -ENODEV for a bad ifindex, -EAFNOSUPPORT for a bad family.
 *
 * IPv6: the kernel sends the neighbour solicitation from a link-local
 * address; while the interface has none that finished DAD, the first
 * probes are not sent and resolution waits for the next retry (~1 s).
 */
int xlb_neigh_ensure_managed(__u8 family, const struct xlb_addr *addr,
			     int ifindex);

#endif /* XLB_NEIGH_H */
