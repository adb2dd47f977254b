/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Loading the XDP object (embedded skeleton). */
#ifndef XLB_LOADER_H
#define XLB_LOADER_H

#include <stdbool.h>
#include "xlb.skel.h"
#include "maps.h"

#define XLB_DEFAULT_MAX_FLOWS 262144
#define XLB_DEFAULT_NAT_PORT_MIN 1024
#define XLB_DEFAULT_NAT_PORT_MAX 32767

/* Smallest half-open table (--max-half-open; the default, max-flows / 4,
 * is raised to it): the LRU keeps a list per CPU, each of which needs
 * room. */
#define XLB_MIN_HALF_OPEN 1024

struct xlb_load_opts {
	__u32 max_flows;    /* connections; the table holds 2 entries each */
	__u32 max_half_open; /* half-open connections (0: max_flows / 4) */
	__u16 nat_port_min; /* host order, inclusive */
	__u16 nat_port_max;
	/* Restart: reuse every map pinned in this directory (the pinned
	 * sizes win); NULL = create every map. */
	const char *reuse_dir;
};

#define XLB_LOAD_OPTS_DEFAULT                                              \
	{ .max_flows = XLB_DEFAULT_MAX_FLOWS,                              \
	  .nat_port_min = XLB_DEFAULT_NAT_PORT_MIN,                        \
	  .nat_port_max = XLB_DEFAULT_NAT_PORT_MAX }

/* Size of the half-open table for these options. */
__u32 xlb_half_open_capacity(const struct xlb_load_opts *o);

/* Open and load the program with its maps; on success *skel is owned by
 * the caller (xlb__destroy) and m holds its map fds. 0 or -errno. */
int xlb_load(const struct xlb_load_opts *o, struct xlb **skel,
	     struct xlb_maps *m);

enum xlb_xdp_mode {
	XLB_XDP_AUTO = 0, /* native, else generic (skb) */
	XLB_XDP_NATIVE,
	XLB_XDP_GENERIC,
};

/* Attaching (as a pinned bpf_link) and pinning: src/pins.h. */

#endif
