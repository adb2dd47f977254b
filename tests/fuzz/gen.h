/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet generator of the differential fuzzer: random bytes, and valid
 * packets of every kind the balancer sees (new connections, their next
 * packets and replies, spoofed replies, traffic that is not ours, ICMP
 * errors quoting real flows or garbage), then mutated (truncation, bad
 * IHL / data offset / lengths, fragments, options, VLAN stacks, IPv6
 * extension chains, bit flips, padding, TTL edges).  Some packets of
 * flows become first fragments of datagrams, whose later fragments (no
 * L4 header, the same addresses, protocol and identification) come
 * after.  Deterministic for a seed; reads the model's tables to aim at
 * live flows and recorded datagrams.
 */
#ifndef XLB_FUZZ_GEN_H
#define XLB_FUZZ_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* Kinds of packets (for statistics and reports). */
enum gen_kind {
	G_RANDOM = 0, /* random bytes, or a random header skeleton */
	G_NEW,        /* client -> service, usually opening a connection */
	G_CLIENT,     /* next packet of a tracked client -> VIP tuple */
	G_REPLY,      /* backend -> SNAT:nat of a tracked connection */
	G_SPOOF,      /* replies of no connection, NAT ports from outside,
		       * packets to backends through the balancer */
	G_OTHER,      /* not ours: other ports/addresses, ARP, echo, ND */
	G_ICMP,       /* ICMP errors quoting flows or garbage */
	G_FRAG,       /* a later fragment (no L4 header) of a datagram */
	G_KINDS,
};

/* A datagram whose first fragment the generator made (a new, client or
 * reply packet turned into one): its later fragments follow it. */
struct gen_dgram {
	uint8_t family, proto;
	uint8_t src[16], dst[16];
	uint32_t id;       /* host order: IPv4's 16 bits, IPv6's 32 */
	uint16_t next_off; /* where the first fragment's data ends (8 bytes) */
};

#define GEN_DGRAMS 64

struct gen {
	uint64_t rng;
	uint64_t trunc_ctr; /* walks truncation offsets in turn */
	uint64_t kind_count[G_KINDS];
	uint64_t mutated;
	uint64_t first_frags, atomic_frags; /* packets made fragments */
	const uint8_t *lb_mac; /* the balancer's interface */
	struct gen_dgram dgrams[GEN_DGRAMS]; /* a ring, the latest at
					      * dgram_next - 1 */
	unsigned int n_dgrams, dgram_next;
};

void gen_init(struct gen *g, uint64_t seed, const uint8_t *lb_mac);
uint64_t gen_rand(struct gen *g);
/* Uniform in [0, n). */
uint32_t gen_below(struct gen *g, uint32_t n);

/* One frame into buf (cap >= M_MAX_FRAME); returns its length (>= 14)
 * and the kind, with a short description in desc. */
size_t gen_packet(struct gen *g, const struct model *m, uint8_t *buf,
		  size_t cap, enum gen_kind *kind, char *desc, size_t desc_len);

const char *gen_kind_name(enum gen_kind k);

#endif /* XLB_FUZZ_GEN_H */
