// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "stats.h"

const char *const xlb_stat_names[XLB_STAT_MAX] = {
	[XLB_STAT_FWD_TO_BACKEND] = "fwd_to_backend",
	[XLB_STAT_FWD_TO_CLIENT] = "fwd_to_client",
	[XLB_STAT_FWD_ICMP] = "fwd_icmp",
	[XLB_STAT_PASS_NOT_IP] = "pass_not_ip",
	[XLB_STAT_PASS_NOT_L4] = "pass_not_l4",
	[XLB_STAT_PASS_NO_SERVICE] = "pass_no_service",
	[XLB_STAT_PASS_FRAGMENT] = "pass_fragment",
	[XLB_STAT_PASS_IPV6_EXT] = "pass_ipv6_ext",
	[XLB_STAT_PASS_MALFORMED] = "pass_malformed",
	[XLB_STAT_PASS_ICMP] = "pass_icmp",
	[XLB_STAT_DROP_NO_FLOW] = "drop_no_flow",
	[XLB_STAT_DROP_NO_BACKEND] = "drop_no_backend",
	[XLB_STAT_DROP_NAT_PORTS] = "drop_nat_ports",
	[XLB_STAT_DROP_TABLE_FULL] = "drop_table_full",
	[XLB_STAT_DROP_TTL] = "drop_ttl",
	[XLB_STAT_DROP_FIB_NO_NEIGH] = "drop_fib_no_neigh",
	[XLB_STAT_DROP_FIB_FRAG] = "drop_fib_frag",
	[XLB_STAT_DROP_FIB_UNREACH] = "drop_fib_unreach",
	[XLB_STAT_DROP_FIB_OTHER] = "drop_fib_other",
	[XLB_STAT_DROP_REDIRECT] = "drop_redirect",
	[XLB_STAT_NEW_FLOW] = "new_flow",
	[XLB_STAT_SYN_RESCHEDULED] = "syn_rescheduled",
	[XLB_STAT_PROMOTED] = "promoted",
	[XLB_STAT_PORT_TAKEOVER] = "port_takeover",
	[XLB_STAT_EVENT_LOST] = "event_lost",
	[XLB_STAT_RST_IGNORED] = "rst_ignored",
	[XLB_STAT_TOO_BIG_SENT] = "too_big_sent",
	[XLB_STAT_TOO_BIG_LIMITED] = "too_big_limited",
	[XLB_STAT_FRAG_FORWARDED] = "frag_forwarded",
};

static int percpu_sum_u64(int fd, __u32 key, size_t words, __u64 *out)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	vals = calloc((size_t)ncpu * words, sizeof(__u64));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, vals)) {
		int err = -errno;

		free(vals);
		return err;
	}
	memset(out, 0, words * sizeof(__u64));
	for (int cpu = 0; cpu < ncpu; cpu++)
		for (size_t w = 0; w < words; w++)
			out[w] += vals[cpu * words + w];
	free(vals);
	return 0;
}

int xlb_stats_read(const struct xlb_maps *m, __u64 out[XLB_STAT_MAX],
		   __u64 *rx_out)
{
	__u64 rx = 0;

	for (__u32 i = 0; i < XLB_STAT_MAX; i++) {
		int err = percpu_sum_u64(m->stats, i, 1, &out[i]);

		/* an older version's daemon, whose array ends before the
		 * counters added since (until it restarts with this one) */
		if (err == -ENOENT && i >= XLB_STAT_VERDICT_MAX) {
			out[i] = 0;
			continue;
		}
		if (err)
			return err;
		if (i < XLB_STAT_VERDICT_MAX)
			rx += out[i];
	}
	if (rx_out)
		*rx_out = rx;
	return 0;
}

int xlb_traffic_read(int map_fd, __u32 id, struct xlb_traffic *out)
{
	_Static_assert(sizeof(*out) % sizeof(__u64) == 0, "u64 words");
	return percpu_sum_u64(map_fd, id, sizeof(*out) / sizeof(__u64),
			      (__u64 *)out);
}

int xlb_traffic_clear(int map_fd, __u32 id)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xlb_traffic *zero;
	int err = 0;

	if (ncpu <= 0)
		return -EINVAL;
	zero = calloc(ncpu, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	if (bpf_map_update_elem(map_fd, &id, zero, BPF_ANY))
		err = -errno;
	free(zero);
	return err;
}
