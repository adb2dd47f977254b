/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xlb maps: every map the XDP program uses, one line of comment each. */
#ifndef XLB_MAPS_H
#define XLB_MAPS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "xlb_abi.h"

/* VIP:port/proto -> service (id, SNAT address). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XLB_MAX_SERVICES);
	__type(key, struct xlb_service_key);
	__type(value, struct xlb_service);
} xlb_services SEC(".maps");

/* Host-order port -> XLB_PORT_* bits: a service listens on it, a backend
 * does (pre-filter that keeps the cost of traffic that is not ours to one
 * or two array loads). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} xlb_service_ports SEC(".maps");

/* Backend id -> backend (address, port, weight, flags). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xlb_backend);
} xlb_backends SEC(".maps");

/* Template of one service's schedule table (see XLB_SCHED_LEN_SLOT);
 * BPF_F_INNER_MAP lets each service's table have its own length. */
struct xlb_schedule {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
};

/* Service id -> its schedule table (swapped whole by user space). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, XLB_MAX_SERVICES);
	__type(key, __u32);
	__array(values, struct xlb_schedule);
} xlb_schedules SEC(".maps");

/* Service id -> scheduling cursor, advanced atomically by every CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct xlb_cursor);
} xlb_cursors SEC(".maps");

/* 5-tuple -> flow; two entries per connection (see struct xlb_flow).
 * max_entries is set by the loader (2 x --max-flows). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * 262144);
	__type(key, struct xlb_flow_key);
	__type(value, struct xlb_flow);
} xlb_flows SEC(".maps");

/* Half-open pairs (same layout as xlb_flows): a SYN flood recycles this
 * LRU table and never touches established flows.  Per-CPU LRU lists (no
 * global lock; measured 20% cheaper per new flow than the common list).
 * max_entries is set by the loader (2 x --max-half-open). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(max_entries, 2 * 65536);
	__type(key, struct xlb_flow_key);
	__type(value, struct xlb_flow);
} xlb_embryos SEC(".maps");

/* Service id -> traffic counters, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct xlb_traffic);
} xlb_service_stats SEC(".maps");

/* Backend id -> traffic counters, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xlb_traffic);
} xlb_backend_stats SEC(".maps");

/* enum xlb_stat -> packet count, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} xlb_stats SEC(".maps");

/* Run-time knobs (one element). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_settings);
} xlb_settings SEC(".maps");

/* New-connection records for `xlb trace` (only while a tracer holds the
 * lease in xlb_settings.trace_until_ns). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} xlb_trace_events SEC(".maps");

/* Records for the daemon (`xlb run`): next hops that need resolving. */
#define XLB_DAEMON_EVENTS_BYTES (64 * 1024)
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XLB_DAEMON_EVENTS_BYTES);
} xlb_daemon_events SEC(".maps");

/* One more of enum xlb_stat reason (xlb_stats is per CPU). */
static __always_inline void count(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&xlb_stats, &reason);

	if (n)
		*n += 1;
}

/* Per-CPU scratch space for flow entries being built (keeps them off the
 * 512-byte BPF stack).  XDP runs to completion on a CPU: no two packets
 * share a CPU's scratch at once. */
struct xlb_scratch {
	struct xlb_flow flow; /* the packet's flow when it is a copy */
	struct xlb_flow rev;  /* reverse entry of a new connection */
	struct xlb_flow_key keys[3]; /* ICMP: flow, outer and quoted tuples */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_scratch);
} xlb_scratch SEC(".maps");

/* Errors sent this second, per CPU (bpf/pmtu.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_icmp_budget);
} xlb_icmp_budget SEC(".maps");

/* A forwarded first fragment's ports, for the datagram's later fragments
 * (bpf/frag.h): datagrams in flight. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XLB_FRAG_ENTRIES);
	__type(key, struct xlb_frag_key);
	__type(value, struct xlb_frag);
} xlb_frags SEC(".maps");

/* ifindex -> interface: egress interfaces other than the ingress one. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, XLB_MAX_IFACES);
	__type(key, __u32);
	__type(value, __u32);
} xlb_tx_ports SEC(".maps");

/* ifindex of a VLAN device on the interface -> its VLAN ids (kept by
 * xlb run): where a tagged frame may leave, and with which tags. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XLB_MAX_VLANS);
	__type(key, __u32);
	__type(value, struct xlb_vlan);
} xlb_vlans SEC(".maps");

#endif /* XLB_MAPS_H */
