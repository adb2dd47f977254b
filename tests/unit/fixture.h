/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * BPF_PROG_TEST_RUN fixture shared by the data-path unit tests: a private
 * network namespace with a veth pair and static neighbours (so that
 * bpf_fib_lookup gives fixed MAC addresses), loading xlb through
 * xlb_load(), running one packet, and reading the counters and flows.
 * Functions return 0 / -errno (or a value) and never print PASS/FAIL
 * lines: the test programs do.  Documentation addresses only.
 *
 * Topology (fx_topology_setup), all inside the test's own namespace:
 *   xlbt0 (FX_IF_MAC, mtu 9000) 198.51.100.10/24, 2001:db8:100::10/64
 *     <-> xlbt1 (peer, up, nothing attached)
 *   routes  203.0.113.0/24 via 198.51.100.2, 2001:db8:200::/64 via
 *           2001:db8:100::2
 *   static neighbours (nud permanent) on xlbt0:
 *     198.51.100.2  FX_GW4_MAC     2001:db8:100::2  FX_GW6_MAC
 *     198.51.100.11 FX_BE11_MAC    2001:db8:100::11 FX_BE6_11_MAC
 *     198.51.100.12 FX_BE12_MAC    2001:db8:100::12 FX_BE6_12_MAC
 *     198.51.100.14 FX_BE14_MAC
 *   forwarding on (IPv4 all + xlbt0, IPv6 all).
 */
#ifndef XLB_TEST_FIXTURE_H
#define XLB_TEST_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "xlb_abi.h"
#include "maps.h"

struct xlb;
struct xlb_load_opts;

#define FX_IF "xlbt0"
#define FX_PEER "xlbt1"
#define FX_IF_MAC "02:00:00:00:01:00"
#define FX_PEER_MAC "02:00:00:00:01:01"
#define FX_GW4 "198.51.100.2"
#define FX_GW4_MAC "02:00:00:00:00:02"
#define FX_GW6 "2001:db8:100::2"
#define FX_GW6_MAC "02:00:00:00:06:02"
#define FX_BE11_MAC "02:00:00:00:00:11"
#define FX_BE12_MAC "02:00:00:00:00:12"
#define FX_BE14_MAC "02:00:00:00:00:14"
#define FX_BE6_11_MAC "02:00:00:00:06:11"
#define FX_BE6_12_MAC "02:00:00:00:06:12"

/* Counters read for the services and backends with ids below these. */
#define FX_MAX_SVC 32
#define FX_MAX_BE 64

/* A loaded xlb instance. */
struct fx_lb {
	struct xlb *skel;
	struct xlb_maps m;
	int prog_fd;
};

/* Every counter of the program, summed over CPUs. */
struct fx_counters {
	__u64 stats[XLB_STAT_MAX];
	struct xlb_traffic svc[FX_MAX_SVC];
	struct xlb_traffic be[FX_MAX_BE];
};

/* Enter a fresh network namespace (needs root).  0, or -errno with the
 * reason in why (the caller prints SKIP lines). */
int fx_netns_enter(char *why, size_t why_len);
/* Run a shell command (output discarded unless it fails, then it goes to
 * stderr with the command).  Returns the exit status, 0 = success. */
int fx_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Write a /proc/sys value, e.g. ("net/ipv4/conf/all/forwarding", "1"). */
int fx_sysctl(const char *path, const char *value);
/* The topology described above; 0 or -1 with why. */
int fx_topology_setup(char *why, size_t why_len);
/* ifindex of an interface, or -errno. */
int fx_ifindex(const char *name);

/* xlb_load() with these limits, plus the program fd. 0 or -errno. */
int fx_load(struct fx_lb *lb, __u32 max_flows, __u16 nat_port_min,
	    __u16 nat_port_max);
/* xlb_load() with any options. */
int fx_load_opts(struct fx_lb *lb, const struct xlb_load_opts *o);
void fx_unload(struct fx_lb *lb);

/* One BPF_PROG_TEST_RUN (repeat 1) with an xdp_md whose ingress_ifindex
 * is ifindex.  *out_len: bytes in out; *verdict: XDP action.  0/-errno. */
int fx_run(int prog_fd, int ifindex, const void *in, size_t in_len,
	   void *out, size_t out_cap, size_t *out_len, __u32 *verdict);

/* Every counter, through xlb_stats_read() / xlb_traffic_read(). */
int fx_counters_read(const struct xlb_maps *m, struct fx_counters *c);
/* 0 if equal, else -1 and the first difference, named, in why. */
int fx_counters_cmp(const struct fx_counters *exp,
		    const struct fx_counters *act, char *why, size_t why_len);

/* Flow key from family, proto, addresses (16 bytes) and host-order
 * ports, zeroed as the ABI requires. */
void fx_flow_key(struct xlb_flow_key *k, __u8 family, __u8 proto,
		 const __u8 *src, __u16 sport, const __u8 *dst, __u16 dport);
/* Entry of xlb_flows or xlb_embryos: 0 and *v, or -ENOENT. */
int fx_flow_get(int map_fd, const struct xlb_flow_key *k,
		struct xlb_flow *v);
/* Number of entries of a hash map keyed by xlb_flow_key (xlb_flows,
 * xlb_embryos), or -errno. */
long fx_map_count(int map_fd);
/* Delete every entry of such a map. 0 or -errno. */
int fx_map_clear(int map_fd);
/* The schedule table of service id in the schedules map (outer map fd):
 * its first max slots into out; returns its length (which may exceed
 * max), or -errno. */
int fx_schedule_read(int schedules, __u32 id, __u32 *out, size_t max);
/* Zero every per-CPU counter (stats, service and backend traffic). */
int fx_counters_zero(const struct xlb_maps *m);

const char *fx_stat_name(__u32 stat);
const char *fx_verdict_name(__u32 verdict);

#endif /* XLB_TEST_FIXTURE_H */
