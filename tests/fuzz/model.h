/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * User-space reference model of the xlb data path (bpf/xlb.bpf.c), for the
 * differential fuzzer (diff_fuzz.c).
 *
 * Given the same configuration (services, backends, schedule tables, NAT
 * port range, table capacities) and the same network (routes, neighbours,
 * interfaces: struct m_topo), model_packet() says what the program must do
 * with one frame: the XDP verdict, the output bytes, the counter of the
 * reason (enum xlb_stat), the per-service and per-backend traffic
 * counters, the changes to the two connection tables (xlb_flows and
 * xlb_embryos), and the fragment records (xlb_frags: a datagram's first
 * fragment forwarded, its later fragments follow it).
 *
 * What is written independently of the program, from the specification
 * (issues 2, 3, include/xlb_abi.h) rather than from bpf/:
 *   - parsing: every length is checked against the IP packet's own length
 *     (IPv4 total length, IPv6 payload length), not only against the end
 *     of the frame: a header that lies in Ethernet padding is not part of
 *     the packet (MODEL_STRICT_IP_LEN; see docs/reliability.md);
 *   - fragments: a TCP/UDP datagram's first fragment (IPv4 MF, or an IPv6
 *     fragment header with M, at offset 0) is a packet like any other
 *     and, once sent, records its ports for the datagram; a later one
 *     (an offset) has no L4 header and follows that record, if younger
 *     than XLB_FRAG_TIMEOUT_NS, to its flow: only its IP header changes;
 *     an IPv6 atomic fragment (no offset, no M) is a whole packet;
 *   - the rewrite: addresses, ports, TTL/hop limit, MAC addresses from the
 *     model's own FIB (m_fib(): longest prefix match over the routes the
 *     fuzzer itself installs in its namespace, static neighbours);
 *   - every checksum is recomputed FROM SCRATCH over the rewritten packet
 *     (pseudo-header + the whole segment), never incrementally.  The
 *     error an input checksum may carry is preserved: the sum over the
 *     output equals the sum over the input (what a correct incremental
 *     update gives), so a valid input gives a valid output and a broken
 *     one stays broken by the same amount.
 *
 * What is copied from the program, because the model must predict the
 * same choices (and says so at each place in model.c):
 *   - the NAT port: flow_hash() (murmur3 finaliser over the client tuple)
 *     and the probing order of bpf/flow.h flow_create();
 *   - the scheduling: slot 1 + (cursor++ % len) of the table built by
 *     src/sched.c (the builder has its own tests), or for algo mh slot
 *     1 + (hash(client address) % len): the hash of include/xlb_hash.h;
 *   - the table discipline: half-open pairs in xlb_embryos, promotion
 *     to xlb_flows when the client confirms the backend's answer (TCP:
 *     the ACK of its SYN-ACK), stale halves, finished connections
 *     replaced by a new SYN, NAT port takeover after 1 s, the 1 s
 *     next-hop cache;
 *   - the layout of struct xlb_frag_key's id for IPv4 (the header's two
 *     bytes, then two zero bytes: the program's zero-extension of the
 *     __be16 on a little-endian host), compared byte for byte.
 *
 * Nothing here touches the kernel.  Tables are plain hash tables keyed by
 * struct xlb_flow_key (xlb_frags: struct xlb_frag_key); the LRU of
 * xlb_embryos and xlb_frags is not modelled (the fuzzer keeps them far
 * below capacity and removes entries itself to emulate eviction).
 */
#ifndef XLB_FUZZ_MODEL_H
#define XLB_FUZZ_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xlb_abi.h"

#define M_MAX_SVC 16
#define M_MAX_BE 64
#define M_MAX_IFACES 2
#define M_MAX_ROUTES 32
#define M_MAX_NEIGH 32
#define M_MAX_FRAME 4096

/* XDP actions (same values as enum xdp_action) */
#define M_XDP_ABORTED 0
#define M_XDP_DROP 1
#define M_XDP_PASS 2
#define M_XDP_TX 3
#define M_XDP_REDIRECT 4

/* bpf_fib_lookup() results the model can give (BPF_FIB_LKUP_RET_*) */
#define M_FIB_SUCCESS 0
#define M_FIB_BLACKHOLE 1
#define M_FIB_UNREACHABLE 2
#define M_FIB_PROHIBIT 3
#define M_FIB_NOT_FWDED 4
#define M_FIB_FWD_DISABLED 5
#define M_FIB_FRAG_NEEDED 8
#define M_FIB_NO_NEIGH 7

/* ------------------------------------------------------------------ */
/* Network: interfaces, routes, neighbours                             */
/* ------------------------------------------------------------------ */

enum m_route_type {
	M_RT_UNICAST = 0,
	M_RT_BLACKHOLE,
	M_RT_UNREACHABLE,
	M_RT_PROHIBIT,
};

struct m_iface {
	const char *name, *peer; /* veth pair, created by the fuzzer */
	uint8_t mac[6];
	uint32_t mtu;
	int ifindex;      /* filled in by the fuzzer once created */
	uint8_t addr4[4], plen4;	/* own IPv4 address / prefix */
	uint8_t addr6[16], plen6;	/* own IPv6 address / prefix */
};

struct m_route {
	uint8_t family; /* 4 / 6 */
	uint8_t prefix[16];
	uint8_t plen;
	enum m_route_type type;
	bool has_gw;
	uint8_t gw[16];
	int iface;        /* index into m_topo.ifaces */
	uint32_t mtu_lock; /* "mtu lock N", 0 = none */
};

struct m_neigh {
	uint8_t family;
	uint8_t addr[16];
	int iface;
	uint8_t mac[6];
};

struct m_topo {
	struct m_iface ifaces[M_MAX_IFACES];
	int n_ifaces;
	struct m_route routes[M_MAX_ROUTES]; /* besides connected ones */
	int n_routes;
	struct m_neigh neigh[M_MAX_NEIGH];
	int n_neigh;
};

struct m_fib {
	int rc;    /* M_FIB_* */
	int iface; /* egress, index into ifaces (success / no neigh) */
	uint32_t mtu; /* the path's MTU (frag needed: mtu_result) */
	uint8_t smac[6], dmac[6];
};

/* The bpf_fib_lookup() result the kernel gives for a packet of family
 * entering on iface 0 towards dst, with IP length tot_len. */
void m_fib_lookup(const struct m_topo *t, uint8_t family, const uint8_t *dst,
		  uint32_t tot_len, struct m_fib *res);

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

struct m_backend {
	bool in_use;
	uint8_t family;
	struct xlb_addr addr;
	uint16_t port; /* host order */
	uint16_t weight;
};

struct m_service {
	bool in_use;
	uint8_t family, proto;
	struct xlb_addr vip, snat;
	uint16_t port; /* host order */
	enum xlb_algo algo;
	uint32_t first_backend, n_backends;
	uint32_t *slots; /* backend ids, as src/sched.c built (malloc()ed,
			  * freed by model_free(): 65521 for mh) */
	uint32_t n_slots;
};

/* ------------------------------------------------------------------ */
/* Connection tables                                                   */
/* ------------------------------------------------------------------ */

/*
 * The program reads two clocks: bpf_ktime_get_ns() (CLOCK_MONOTONIC) when
 * it creates a connection (created_ns, NAT port takeover), and
 * bpf_ktime_get_coarse_ns() (CLOCK_MONOTONIC_COARSE, tick resolution) for
 * everything else (last_seen_ns, the next-hop cache).  The model does not
 * know when exactly the program read them: it keeps, for each, the
 * interval read around BPF_PROG_TEST_RUN.
 */
struct m_clock {
	uint64_t lo, hi;   /* CLOCK_MONOTONIC before / after */
	uint64_t clo, chi; /* CLOCK_MONOTONIC_COARSE before / after */
};

/* A flow's cached next hop (bpf/nat.h flow_next_hop(): the FIB answer is
 * kept in the flow entry for XLB_NEXT_HOP_TTL_NS), with the coarse-clock
 * interval of the packet that filled it. */
struct m_nh {
	uint64_t lo, hi; /* 0 = nothing cached */
	int iface;
	uint8_t smac[6], dmac[6];
	uint32_t max_bytes; /* IP length of the packet the FIB checked */
};

/* The bookkeeping the model's tables share (struct m_set): each entry
 * starts with a struct m_node, its key right after it; the entries are
 * in hash chains by their key's bytes, and in a dense array for random
 * picks and iteration. */
struct m_node {
	struct m_node *next; /* hash chain */
	size_t idx;          /* position in items[] */
};

struct m_set {
	struct m_node **buckets;
	size_t n_buckets, key_size;
	void **items; /* the entries */
	size_t n, cap_items;
};

struct m_entry {
	struct m_node node;
	struct xlb_flow_key key;
	struct xlb_flow val; /* time stamps and val.nh* are not modelled */
	struct m_nh nh;
	bool touched; /* last_seen_ns != 0 (a packet went through it) */
	uint64_t created_lo, created_hi; /* created_ns, as an interval */
	uint64_t seen_lo, seen_hi; /* last_seen_ns, as an interval (touched) */
};

struct m_table {
	struct m_set s;
	size_t max_entries;
};

/* Entry i of 0..t->s.n - 1. */
static inline struct m_entry *m_table_at(const struct m_table *t, size_t i)
{
	return t->s.items[i];
}

/* What one packet did to the tables: the keys whose entry was created,
 * changed or removed (checked against the kernel's maps afterwards). */
#define M_MAX_TOUCHED 16
struct m_touched {
	int n;
	struct {
		int table; /* 0 = flows, 1 = embryos */
		struct xlb_flow_key key;
	} k[M_MAX_TOUCHED];
};

/*
 * xlb_frags (bpf/frag.h): the ports of a forwarded first fragment (or
 * one handed to xlb run), under its datagram's reassembly key (struct
 * xlb_frag_key: addresses, protocol, identification), with the
 * coarse-clock interval of its forwarding (the program's seen_ns).  A
 * later fragment follows them while the record is younger than
 * XLB_FRAG_TIMEOUT_NS.  The map's LRU is not modelled: the fuzzer clears
 * both at every epoch, far below its XLB_FRAG_ENTRIES, and removes
 * records itself to emulate eviction.
 */
struct m_frag {
	struct m_node node;
	struct xlb_frag_key key;
	struct xlb_frag val; /* ports, connection; seen_ns is not modelled */
	uint64_t seen_lo, seen_hi;
};

struct m_frags {
	struct m_set s;
};

/* Record i of 0..t->s.n - 1. */
static inline struct m_frag *m_frags_at(const struct m_frags *t, size_t i)
{
	return t->s.items[i];
}

/* Model options (deviations documented in docs/reliability.md). */
#define MODEL_STRICT_IP_LEN (1u << 0) /* headers must lie inside the IP
				       * length, not just inside the frame */


struct model {
	unsigned int opts;
	const struct m_topo *topo;
	uint16_t nat_port_min, nat_port_max;
	bool tx_port[M_MAX_IFACES]; /* interface listed in xlb_tx_ports */
	struct m_service svc[M_MAX_SVC];
	struct m_backend be[M_MAX_BE];
	uint64_t cursor[M_MAX_SVC];
	struct m_table flows, embryos;
	struct m_frags frags;
	struct m_clock now; /* the current packet's time windows */
	/* counters: every one the program has */
	uint64_t stats[XLB_STAT_MAX];
	struct xlb_traffic svc_traffic[M_MAX_SVC];
	struct xlb_traffic be_traffic[M_MAX_BE];
};

struct m_result {
	uint32_t verdict; /* M_XDP_* */
	uint32_t reason;  /* the verdict's enum xlb_stat (FWD_* too) */
	bool ours;        /* for a service or a tracked flow (else untouched) */
	struct m_touched touched;
	/* checksum fields of the output where 0x0000 and 0xffff are the same
	 * value (IPv4 header, TCP, ICMP; not UDP, where 0 means "none") */
	size_t equiv_off[4];
	int n_equiv;
	/* a header ended past the IP length but inside the frame: the
	 * verdict depends on which bound is checked (MODEL_STRICT_IP_LEN) */
	bool beyond_ip_len;
	/* a flow's cached next hop was about XLB_NEXT_HOP_TTL_NS old: the
	 * program may have used it or not (the fuzzer does not compare) */
	bool clock_uncertain;
	bool promoted; /* the packet moved a half-open pair to xlb_flows */
	/* NO_NEIGH: the packet, rewritten in out, is handed to xlb run
	 * (bpf/nat.h nat_hand_over): handed_len bytes from handed_off, to go
	 * out of the model's interface handed_iface */
	bool handed_over;
	size_t handed_off, handed_len;
	int handed_iface;
	/* DROP_FIB_FRAG of a flow's packet: the path's MTU, for the ICMP
	 * error that may answer it (reason TOO_BIG_SENT, out holds it) */
	uint32_t too_big_mtu;
};

int model_init(struct model *m, const struct m_topo *t, uint16_t nat_min,
	       uint16_t nat_max, size_t flows_max, size_t embryos_max,
	       unsigned int opts);
void model_free(struct model *m);
/* Forget every connection and fragment record (the counters and cursors
 * stay). */
void model_clear_tables(struct model *m);

/* Run one frame: out gets the frame as it leaves (or as it stays).  The
 * program ran it between the clock readings in now. */
void model_packet(struct model *m, const uint8_t *in, size_t len,
		  uint8_t *out, size_t *out_len, struct m_result *r,
		  const struct m_clock *now);

/* Table access for the fuzzer (generators, checks, emulated eviction). */
struct m_entry *m_table_find(const struct m_table *t,
			     const struct xlb_flow_key *k);
/* The entry of t under e's partner key (its rewritten tuple, swapped). */
struct m_entry *m_table_partner(const struct m_table *t,
				const struct m_entry *e);
int m_table_delete(struct m_table *t, const struct xlb_flow_key *k);
/* The model's xlb_frags (harness checks, emulated eviction and ageing). */
struct m_frag *m_frag_find(const struct m_frags *t,
			   const struct xlb_frag_key *k);
int m_frag_delete(struct m_frags *t, const struct xlb_frag_key *k);

/* A flow entry of the program equals the model's if everything but the
 * time stamps is, and its cached next hop (nh_at_ns != 0, nh) is the one
 * the model expects.  ifindex[] maps the model's interfaces. */
bool m_flow_equal(const struct m_entry *e, const struct xlb_flow *b,
		  const int *ifindex);

/* ------------------------------------------------------------------ */
/* Checksums, from scratch (also used by the generator)                */
/* ------------------------------------------------------------------ */

/* One's-complement sum of big-endian 16-bit words, not folded. */
uint64_t m_sum(const uint8_t *p, size_t n, uint64_t acc);
uint16_t m_fold(uint64_t acc);

/* Where the layers of a frame are (as the model parsed it). */
struct m_layout {
	int vlan_tags;
	uint16_t ethertype;
	uint8_t family; /* 4, 6, 0 */
	size_t l3, l4, end; /* end: end of the IP packet (its length field) */
	uint8_t proto;
	size_t frag6;   /* an IPv6 fragment header's offset (0: none) */
	bool later;     /* a fragment at an offset: no L4 header at l4 */
};

/* Parse just enough to find the layers: 0 if an IPv4/IPv6 packet whose
 * length fits the frame, -1 otherwise.  l4 and proto are those after the
 * IP header, or after an IPv6 fragment header right after it (its 8
 * bytes inside the IP packet). */
int m_layout_of(const uint8_t *f, size_t len, struct m_layout *lo);
/* Recompute every checksum of a frame from scratch (IPv4 header, L4;
 * for ICMP errors also the quoted IPv4 header).  Used by the generator
 * to make valid packets. */
void m_fix_checksums(uint8_t *f, size_t len);

const char *m_stat_name(uint32_t stat);
const char *m_verdict_name(uint32_t v);

#endif /* XLB_FUZZ_MODEL_H */
