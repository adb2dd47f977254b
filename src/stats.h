/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Reading the per-CPU counters. */
#ifndef XLB_STATS_H
#define XLB_STATS_H

#include "maps.h"

/* Name of each enum xlb_stat, as shown by `xlb stats` ("rx" is derived). */
extern const char *const xlb_stat_names[XLB_STAT_MAX];

/* Sum over CPUs of every global counter; rx_out (may be NULL) gets the
 * sum of the verdict reasons, i.e. the packets the program saw. */
int xlb_stats_read(const struct xlb_maps *m, __u64 out[XLB_STAT_MAX],
		   __u64 *rx_out);

/* Sum over CPUs of one service's or backend's traffic counters. */
int xlb_traffic_read(int map_fd, __u32 id, struct xlb_traffic *out);

/* Zero a per-CPU traffic slot (used when an id is (re)assigned). */
int xlb_traffic_clear(int map_fd, __u32 id);

#endif
