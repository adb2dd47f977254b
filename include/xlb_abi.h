/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xlb kernel/user contract: every map key and value shared by the XDP
 * program (bpf/) and the control program (src/).  Fixed-size types only,
 * explicit padding, sizes pinned with _Static_assert.  Keys must be built
 * zeroed (memset / = {}) so that padding never makes two equal keys differ.
 *
 * Addresses are 16 bytes for both families: an IPv4 address lives in the
 * first 4 bytes (network order) and the other 12 bytes are zero.
 */
#ifndef XLB_ABI_H
#define XLB_ABI_H

#ifdef __BPF__
#include "vmlinux.h"
#else
#include <linux/types.h>
#endif

/* Limits compiled into the program; capacities of the flow table are set
 * at load time (xlb run --max-flows). */
#define XLB_MAX_SERVICES 256    /* service ids are 0..XLB_MAX_SERVICES-1 */
#define XLB_MAX_BACKENDS 65536  /* backend ids, shared by all services */
#define XLB_SCHED_MAX_SLOTS 65536 /* cap of one service's schedule table */
#define XLB_NAT_PORT_PROBES 32  /* NAT ports tried for one new flow */
#define XLB_MAX_IFACES 64       /* interfaces in the redirect map */
#define XLB_MAX_VLANS 4096      /* VLAN devices on the interface */
#define XLB_NEXT_HOP_TTL_NS 1000000000ULL /* a flow's cached FIB answer */
/* A flow's FIB lookup checks this IP packet size (or the packet's own,
 * if larger) against the path's MTU, or else the path's MTU itself
 * (bpf/nat.h nat_fib), so that its cached answer holds for the flow's
 * larger packets too. */
#define XLB_NEXT_HOP_CHECK_BYTES 1500

#define XLB_FAMILY_V4 4
#define XLB_FAMILY_V6 6

/* Address-family independent address: IPv4 in ip4, rest zero. */
struct xlb_addr {
	union {
		__be32 ip4;
		__be32 ip6[4];
		__u8 bytes[16];
	};
};

/* Connection-tracking key: one packet direction's 5-tuple, as seen on the
 * wire.  Each connection owns two: client->VIP and backend->SNAT.  A new
 * connection's pair lives in xlb_embryos (LRU, bounded) until the client
 * speaks again after the backend's answer (TCP: the handshake's final
 * ACK); then it moves to xlb_flows (never evicted).  Spoofed SYNs can
 * only churn the half-open table. */
struct xlb_flow_key {
	struct xlb_addr src;
	struct xlb_addr dst;
	__be16 sport;
	__be16 dport;
	__u8 proto;  /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 family; /* XLB_FAMILY_V4 / _V6 */
	__u16 pad;
};

enum xlb_flow_dir {
	XLB_DIR_TO_BACKEND = 0, /* key is client->VIP; rewrite to SNAT->backend */
	XLB_DIR_TO_CLIENT = 1,  /* key is backend->SNAT; rewrite to VIP->client */
};

/* Connection state, derived in user space from the two entries of a pair
 * (their flags and last_seen_ns) for expiry and `xlb conns`. */
enum xlb_tcp_state {
	XLB_TCP_SYN_SENT = 0, /* client SYN forwarded, no answer yet */
	XLB_TCP_ESTABLISHED,  /* handshake complete (pair in xlb_flows) */
	XLB_TCP_CLOSING,      /* FIN seen in either direction */
	XLB_TCP_CLOSED,       /* RST seen, or FIN seen in both directions */
	XLB_UDP,              /* not TCP: one idle timeout */
	XLB_TCP_SYN_RECV,     /* backend answered, client has not confirmed */
};

/* Per-direction flag bits in xlb_flow.flags */
#define XLB_FLOW_FIN_SEEN (1u << 0) /* this direction sent a FIN */
#define XLB_FLOW_RST_SEEN (1u << 1) /* this direction sent a RST */
#define XLB_FLOW_SYN_ACK_SEEN (1u << 2) /* TO_CLIENT: syn_seq is set */
#define XLB_FLOW_FIN_PENDING (1u << 3) /* established: a FIN out of window
					* (fin_seq), counted once the other
					* side acknowledges it */

/*
 * Connection-tracking value.  rewritten is the tuple the packet leaves
 * with; the partner entry's key is that tuple with src/dst swapped, so a
 * pair is always found (and removed) from either half.
 */
/* Where a packet of a flow goes next: the FIB's answer, cached in the
 * flow for XLB_NEXT_HOP_TTL_NS so that a busy flow skips the lookup. */
struct xlb_next_hop {
	__u8 dmac[6];
	__u8 smac[6];
	__u32 ifindex;
};

/* A VLAN device on the interface xlb runs on (xlb_vlans, by ifindex):
 * when the FIB sends a tagged frame's rewritten packet out of it, the
 * frame leaves on the same interface (XDP_TX) with these VLAN ids.
 * inner_vid 0: a device with one tag; else a VLAN device on a VLAN
 * device (QinQ: outer, inner). */
struct xlb_vlan {
	__u16 outer_vid;
	__u16 inner_vid;
};

/* created_ns of a half-open reverse entry whose NAT port is being taken
 * over (swapped in before the entry is replaced): a promotion holding
 * the entry sees that it lost the pair.  Far in the future, so that the
 * entry never looks stale to a second takeover meanwhile. */
#define XLB_CREATED_TAKEN 0x7fffffffffffffffULL

struct xlb_flow {
	struct xlb_flow_key rewritten;
	__u64 created_ns;   /* bpf_ktime_get_ns() at the first packet */
	__u64 last_seen_ns; /* last packet in this direction */
	__u64 nh_at_ns;     /* when nh was looked up; 0 = never */
	struct xlb_next_hop nh;
	__u32 backend_id;
	__u16 service_id;
	__u8 dir;   /* enum xlb_flow_dir */
	__u8 flags; /* XLB_FLOW_* bits, this direction */
	union {
		/* TCP, half-open: the seq of this direction's SYN
		 * (TO_BACKEND: the client's SYN; TO_CLIENT: the backend's
		 * SYN-ACK) */
		__be32 syn_seq;
		/* TCP, established: the highest ACK number this direction
		 * sent (what it expects next from the other side): a RST
		 * from the other side counts only near it */
		__be32 ack_seq;
	};
	__u32 nh_max_bytes; /* IP length the FIB checked for nh against the MTU */
	__be32 fin_seq; /* TCP, established: seq of a FIN_PENDING FIN */
	__u32 reserved; /* 0 (explicit padding to 8 bytes) */
};

/* Service lookup key: VIP:port/proto. */
struct xlb_service_key {
	struct xlb_addr vip;
	__be16 port;
	__u8 proto;
	__u8 family;
};

enum xlb_algo {
	XLB_ALGO_RR = 0,
	XLB_ALGO_WRR = 1,
	XLB_ALGO_MH = 2, /* Maglev: the slot comes from the client's address */
	XLB_ALGO_WLC = 3, /* weighted least-connection: a wrr table that the
			   * daemon rebuilds from its connection counts */
};

/* Service value. */
struct xlb_service {
	struct xlb_addr snat; /* source address on the backend leg */
	__u16 id;             /* index into per-service arrays */
	__u8 algo;            /* enum xlb_algo: mh picks by client hash, the
			       * others by cursor (the table encodes rr/wrr) */
	__u8 flags;
	__u32 pad;
};

#define XLB_BACKEND_IN_USE (1u << 0) /* slot holds a configured backend */
#define XLB_BACKEND_DRAIN (1u << 1)  /* weight 0 or drained: no new flows */
#define XLB_BACKEND_DOWN (1u << 2)   /* failed health checks */

/* Backend slot, indexed by backend id. */
struct xlb_backend {
	struct xlb_addr addr;
	__be16 port;
	__u16 service_id;
	__u16 weight;
	__u8 family;
	__u8 flags; /* XLB_BACKEND_* */
};

/*
 * Schedule table of one service: an ARRAY map (inner map of
 * xlb_schedules) whose element 0 is the number of slots n and elements
 * 1..n are backend ids.  A new flow takes slot 1 + (cursor++ % n), or
 * with algo mh slot 1 + (xlb_client_hash(client) % n) (xlb_hash.h).
 * User space builds a new inner map and swaps it in one update, so the
 * program never sees half a table.
 */
#define XLB_SCHED_LEN_SLOT 0

/* Per-service scheduling cursor (one atomic counter per service). */
struct xlb_cursor {
	__u64 next;
};

/* Traffic counters (per CPU) for a service or a backend. */
struct xlb_traffic {
	__u64 conns;   /* new flows scheduled */
	__u64 packets; /* packets forwarded, both directions */
	__u64 bytes;   /* bytes forwarded (frame length), both directions */
};

/* Global per-CPU counters, indexed by reason.  Every packet the program
 * sees ends in exactly one verdict reason (FWD_*, PASS_*, DROP_*), so their
 * sum is the number of packets received; the reasons after
 * XLB_STAT_VERDICT_MAX count events.  Keep src/stats.c's names in order. */
enum xlb_stat {
	XLB_STAT_FWD_TO_BACKEND = 0, /* client->backend packets forwarded */
	XLB_STAT_FWD_TO_CLIENT,      /* backend->client packets forwarded */
	XLB_STAT_FWD_ICMP,           /* ICMP errors of tracked flows, translated */
	XLB_STAT_PASS_NOT_IP,        /* pass: not IPv4/IPv6 */
	XLB_STAT_PASS_NOT_L4,        /* pass: not TCP/UDP */
	XLB_STAT_PASS_NO_SERVICE,    /* pass: not for a service nor a tracked flow */
	XLB_STAT_PASS_FRAGMENT,      /* pass: IP fragment of no tracked flow: a
				      * later fragment whose first was not
				      * forwarded (or not within
				      * XLB_FRAG_TIMEOUT_NS), or one of
				      * neither TCP nor UDP */
	XLB_STAT_PASS_IPV6_EXT,      /* pass: IPv6 extension header (untouched) */
	XLB_STAT_PASS_MALFORMED,     /* pass: truncated/inconsistent headers,
				      * or a new flow's source no client can
				      * have (multicast, loopback...) */
	XLB_STAT_PASS_ICMP,          /* pass: ICMP that quotes no tracked flow */
	XLB_STAT_DROP_NO_FLOW,       /* drop: TCP non-SYN to a service, no state */
	XLB_STAT_DROP_NO_BACKEND,    /* drop: service has no live backend */
	XLB_STAT_DROP_NAT_PORTS,     /* drop: no free NAT port after probing */
	XLB_STAT_DROP_TABLE_FULL,    /* drop: flow table full (at promotion) */
	XLB_STAT_DROP_TTL,           /* drop: TTL / hop limit exhausted */
	XLB_STAT_DROP_FIB_NO_NEIGH,  /* drop: next hop unresolved (handed to
				      * xlb run, which resolves it and sends
				      * the packet through the kernel) */
	XLB_STAT_DROP_FIB_FRAG,      /* drop: packet larger than egress MTU */
	XLB_STAT_DROP_FIB_UNREACH,   /* drop: no route, or blackhole/unreachable/
				      * prohibit route */
	XLB_STAT_DROP_FIB_OTHER,     /* drop: forwarding disabled, other FIB error */
	XLB_STAT_DROP_REDIRECT,      /* drop: egress interface not in xlb_tx_ports */
	XLB_STAT_VERDICT_MAX,
	/* events, not verdicts */
	XLB_STAT_NEW_FLOW = XLB_STAT_VERDICT_MAX, /* connections created */
	XLB_STAT_SYN_RESCHEDULED, /* SYN on a closed flow's tuple: pair replaced */
	XLB_STAT_PROMOTED,        /* half-open pairs moved to xlb_flows */
	XLB_STAT_PORT_TAKEOVER,   /* NAT port taken from a stale half-open pair */
	XLB_STAT_EVENT_LOST,      /* trace/daemon record dropped (ring full;
				   * for a packet handed over on NO_NEIGH,
				   * half full) */
	XLB_STAT_RST_IGNORED,     /* client RST of an established connection
				   * out of the backend's window: forwarded,
				   * but not taken as its end */
	XLB_STAT_TOO_BIG_SENT,    /* ICMP "fragmentation needed" / "packet
				   * too big" sent back for a packet over
				   * its egress MTU (that packet is counted
				   * drop_fib_frag) */
	XLB_STAT_TOO_BIG_LIMITED, /* ... not sent: over the ICMP rate
				   * (xlb_settings.icmp_per_sec) */
	XLB_STAT_FRAG_FORWARDED,  /* later fragments (no ports) forwarded
				   * with their first fragment's flow (also
				   * counted fwd_to_*) */
	XLB_STAT_MAX,
};

#define XLB_STAT_FIRST_PASS XLB_STAT_PASS_NOT_IP
#define XLB_STAT_FIRST_DROP XLB_STAT_DROP_NO_FLOW

/* Bits of xlb_service_ports[port].  TCP/UDP: a service listens on the
 * port.  BACKEND_TCP/_UDP: a backend has listened on it since the maps
 * were made (set before the backend can be scheduled, never cleared while
 * the maps live): a reply to a NAT port can only come from such a port. */
#define XLB_PORT_TCP (1u << 0)
#define XLB_PORT_UDP (1u << 1)
#define XLB_PORT_BACKEND_TCP (1u << 2)
#define XLB_PORT_BACKEND_UDP (1u << 3)
#define XLB_PORT_SERVICE_BITS (XLB_PORT_TCP | XLB_PORT_UDP)

/* Run-time knobs read by the program (array map of one element). */
struct xlb_settings {
	__u64 trace_until_ns; /* emit trace events while now < this */
	__u16 nat_port_min;   /* host order, inclusive */
	__u16 nat_port_max;   /* host order, inclusive */
	__u32 icmp_per_sec;   /* ICMP errors the program may send a second,
			       * per CPU; 0 = XLB_ICMP_PER_SEC (a version
			       * without it pinned 0 here) */
};

/* RFC 4443 2.4(f): errors are rate-limited (Linux: icmp_msgs_per_sec
 * 1000, for the whole node). */
#define XLB_ICMP_PER_SEC 1000

/* The program's ICMP budget (xlb_icmp_budget, per CPU): errors sent in
 * the second `second` of the coarse clock. */
struct xlb_icmp_budget {
	__u64 second;
	__u32 sent;
	__u32 pad;
};

/* xlb_frags: the first fragment of an IP datagram (the one that carries
 * the ports) was forwarded; its later fragments follow it to the same
 * flow.  Keyed as the kernel reassembles: addresses, protocol and the
 * datagram's identification. */
struct xlb_frag_key {
	struct xlb_addr src;
	struct xlb_addr dst;
	__be32 id;	/* IPv4: the header's 16 bits (zero-extended, as they
			 * lie in memory); IPv6: the fragment header's */
	__u8 proto;
	__u8 family;
	__u16 pad;
};

struct xlb_frag {
	__be16 sport; /* the first fragment's ports */
	__be16 dport;
	__be16 to_port; /* its flow's rewritten destination port ... */
	__u16 pad;
	struct xlb_addr to; /* ... and address: a later fragment follows
			     * only that connection, not one that took its
			     * NAT port (or tuple) over since */
	__u64 seen_ns; /* when it was forwarded (the program's clock) */
};

/* Datagrams whose later fragments can be followed at once (LRU), and how
 * long after its first fragment: a sender sends a datagram's fragments
 * back to back (Linux reassembles for 30 s; a record that old would be
 * another datagram's more often than this one's). */
#define XLB_FRAG_ENTRIES 16384
#define XLB_FRAG_TIMEOUT_NS 1000000000ULL

enum xlb_event_type {
	XLB_EVENT_NEW_FLOW = 1, /* a new connection was scheduled */
	XLB_EVENT_NO_NEIGH = 2, /* FIB had no neighbour for next hop */
	XLB_EVENT_PACKET = 3,   /* struct xlb_packet_event */
};

/* The largest packet (from its IP header) handed to xlb run, and the
 * smaller record a packet of up to XLB_PACKET_EVENT_SMALL bytes takes (a
 * SYN, a SYN-ACK, an ACK: more of them fit in the ring). */
#define XLB_PACKET_EVENT_BYTES 1536
#define XLB_PACKET_EVENT_SMALL 128

/* A packet the program could not send because its next hop has no
 * neighbour entry yet, rewritten as it would have gone out, from its IP
 * header on: xlb run sends it through the kernel (out of ifindex), which
 * resolves the next hop and holds the packet meanwhile
 * (xlb_daemon_events).  A record is the header and len bytes rounded up
 * to one of the two sizes. */
struct xlb_packet_event {
	__u64 ts_ns;
	__u32 type;    /* XLB_EVENT_PACKET (at struct xlb_event's offset) */
	__u16 len;     /* bytes of data */
	__u8 family;   /* XLB_FAMILY_V4 / _V6 */
	__u8 pad;
	__u32 ifindex; /* the FIB's egress interface */
	__u32 pad2;
	__u8 data[XLB_PACKET_EVENT_BYTES];
};

/* Ring-buffer record (xlb_events). */
struct xlb_event {
	__u64 ts_ns;
	__u32 type; /* enum xlb_event_type */
	__u32 backend_id;
	__u16 service_id;
	__u8 family;
	__u8 proto;
	__be16 client_port;
	__be16 nat_port;
	__be16 backend_port;
	__be16 vip_port;
	__u32 ifindex; /* NO_NEIGH: egress interface */
	struct xlb_addr client; /* NO_NEIGH: next-hop address */
	struct xlb_addr vip;
	struct xlb_addr backend;
};

_Static_assert(sizeof(struct xlb_addr) == 16, "xlb_addr");
_Static_assert(sizeof(struct xlb_flow_key) == 40, "xlb_flow_key");
_Static_assert(sizeof(struct xlb_next_hop) == 16, "xlb_next_hop");
_Static_assert(sizeof(struct xlb_vlan) == 4, "xlb_vlan");
_Static_assert(sizeof(struct xlb_flow) == 104, "xlb_flow");
_Static_assert(sizeof(struct xlb_service_key) == 20, "xlb_service_key");
_Static_assert(sizeof(struct xlb_service) == 24, "xlb_service");
_Static_assert(sizeof(struct xlb_packet_event) == 24 + XLB_PACKET_EVENT_BYTES,
	       "xlb_packet_event");
_Static_assert(sizeof(struct xlb_backend) == 24, "xlb_backend");
_Static_assert(sizeof(struct xlb_traffic) == 24, "xlb_traffic");
_Static_assert(sizeof(struct xlb_settings) == 16, "xlb_settings");
_Static_assert(sizeof(struct xlb_event) == 80, "xlb_event");
_Static_assert(sizeof(struct xlb_frag_key) == 40, "xlb_frag_key");
_Static_assert(sizeof(struct xlb_frag) == 32, "xlb_frag");

/* Map names as pinned under <pin dir>/ (bpffs). */
#define XLB_PIN_ROOT "/sys/fs/bpf/xlb"

#endif /* XLB_ABI_H */
